package replay_test

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/evtxwrite"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/replay"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

// The replay benchmarks read a generated file of Sysmon events
// (HARNESS_BENCH_EVENTS, default 1,000,000; 10,000,000 for the large
// run) as Event XML, JSON lines or EVTX, each written on first use from
// the same events to a temporary folder removed when the test binary
// ends. Each reports events/s and the process's peak resident memory
// (VmHWM), so that the ratio to the encoding/xml scan of the same events
// and the memory bound are read from one run:
//
//	go test -run '^$' -bench Replay -benchtime 1x ./replay
//	HARNESS_BENCH_EVENTS=10000000 go test -run '^$' -bench 'EVTX|EncodingXML' -benchtime 1x -timeout 60m ./replay

var (
	benchOnce sync.Once
	benchDir  string
	benchN    int
	benchErr  error
	// benchFiles holds the generated file of each kind.
	benchFiles = map[string]*benchFile{"xml": {}, "jsonl": {}, "evtx": {}}
)

type benchFile struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchEvents returns the generated file of kind (xml, jsonl or evtx) and
// how many events it holds, writing it the first time it is asked for.
func benchEvents(b *testing.B, kind string) (string, int) {
	b.Helper()
	benchOnce.Do(func() {
		benchN = 1_000_000
		if s := os.Getenv("HARNESS_BENCH_EVENTS"); s != "" {
			if benchN, benchErr = strconv.Atoi(s); benchErr != nil {
				return
			}
		}
		benchDir, benchErr = os.MkdirTemp("", "replay-bench-")
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	f := benchFiles[kind]
	f.once.Do(func() {
		f.path = filepath.Join(benchDir, "events."+kind)
		f.err = generate(kind, f.path, benchN)
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.path, benchN
}

// generate writes n events in batches, so that generating 10 M events
// does not hold them.
func generate(kind, path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var put func([]event.Event) error
	finish := func() error { return nil }
	switch kind {
	case "xml":
		xw := bufio.NewWriterSize(f, 1<<20)
		xw.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Events>\n")
		put = func(evs []event.Event) error {
			for k := range evs {
				xw.Write(telemetry.MarshalEventXML(evs[k]))
				xw.WriteByte('\n')
			}
			return nil
		}
		finish = func() error {
			xw.WriteString("</Events>\n")
			return xw.Flush()
		}
	case "jsonl":
		put = func(evs []event.Event) error { return telemetry.WriteJSONL(f, evs) }
	case "evtx":
		w, err := evtxwrite.NewWriter(f)
		if err != nil {
			return err
		}
		put = func(evs []event.Event) error {
			for k := range evs {
				if err := w.Write(&evs[k]); err != nil {
					return err
				}
			}
			return nil
		}
		finish = w.Close
	default:
		return fmt.Errorf("no generator for %q", kind)
	}
	const batch = 10000
	evs := make([]event.Event, 0, batch)
	for i := 0; i < n; i += batch {
		evs = evs[:0]
		for j := i; j < min(i+batch, n); j++ {
			evs = append(evs, sysmonEvent(j))
		}
		if err := put(evs); err != nil {
			return err
		}
	}
	if err := finish(); err != nil {
		return err
	}
	return f.Close()
}

// sysmonEvent is the i-th event of a mixed Sysmon stream (process
// creation, network, file and DNS events), a minority of which the seed
// query reports.
func sysmonEvent(i int) event.Event {
	hosts := []string{"WS-FINANCE-07.corp.local", "jenkins-agent-3.corp.local", "WS-DEV-01.corp.local", "SRV-DB-02.corp.local"}
	images := []string{`C:\Program Files\Git\cmd\git.exe`, `C:\Windows\System32\curl.exe`, `C:\Windows\System32\svchost.exe`, `C:\Windows\explorer.exe`}
	img := images[(i/4)%len(images)]
	ev := event.Event{
		Provider: event.Sysmon, Version: 5, Level: 4, Keywords: "0x8000000000000000",
		TimeCreated: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		RecordID:    uint64(i + 1), ExecutionPID: 2912, ExecutionTID: 3424,
		Channel: event.SysmonChannel, Computer: hosts[i%len(hosts)], UserID: "S-1-5-18",
	}
	common := []event.Field{
		{Name: "RuleName", Value: "-"}, {Name: "UtcTime", Value: "2024-05-01 12:00:00.000"},
		{Name: "ProcessGuid", Value: "{96128EA2-F212-5F7E-E400-000000007F01}"}, {Name: "ProcessId", Value: strconv.Itoa(4000 + i%5000)},
		{Name: "Image", Value: img},
	}
	switch i % 4 {
	case 0:
		ev.EventID, ev.Task = 1, 1
		cmd := []string{"git push --force https://github.com/x/y.git", `curl.exe -X POST https://api.github.com/gists -d @x`, "svchost.exe -k netsvcs", "git status"}[(i/16)%4]
		ev.Data = append(common, event.Field{Name: "CommandLine", Value: cmd}, event.Field{Name: "CurrentDirectory", Value: `C:\Users\alice\src\`},
			event.Field{Name: "User", Value: `CORP\alice`}, event.Field{Name: "LogonId", Value: "0x8d4ac"}, event.Field{Name: "IntegrityLevel", Value: "Medium"},
			event.Field{Name: "Hashes", Value: "SHA256=935C1861DF1F4018D698E8B65ABFA02D7E9037D8F68CA3C2065B6CA165D44AD2"},
			event.Field{Name: "ParentImage", Value: `C:\Windows\explorer.exe`}, event.Field{Name: "ParentCommandLine", Value: "explorer.exe"})
	case 1:
		ev.EventID, ev.Task = 3, 3
		dst := []string{"api.github.com", "www.microsoft.com", "github.com", "login.live.com"}[(i/8)%4]
		ev.Data = append(common, event.Field{Name: "User", Value: `CORP\alice`}, event.Field{Name: "Protocol", Value: "tcp"}, event.Field{Name: "Initiated", Value: "true"},
			event.Field{Name: "SourceIp", Value: "10.0.0.7"}, event.Field{Name: "SourcePort", Value: "50123"},
			event.Field{Name: "DestinationIp", Value: "140.82.112.5"}, event.Field{Name: "DestinationHostname", Value: dst}, event.Field{Name: "DestinationPort", Value: "443"})
	case 2:
		ev.EventID, ev.Task = 11, 11
		ev.Data = append(common, event.Field{Name: "TargetFilename", Value: `C:\Users\alice\AppData\Local\Temp\x` + strconv.Itoa(i) + ".tmp"},
			event.Field{Name: "CreationUtcTime", Value: "2024-05-01 12:00:00.000"}, event.Field{Name: "User", Value: `CORP\alice`})
	default:
		ev.EventID, ev.Task = 22, 22
		ev.Data = append(common, event.Field{Name: "QueryName", Value: "api.github.com"}, event.Field{Name: "QueryStatus", Value: "0"},
			event.Field{Name: "QueryResults", Value: "::ffff:140.82.112.5;"}, event.Field{Name: "User", Value: `CORP\alice`})
	}
	return ev
}

// cpuTime is the CPU time the process has used: on a shared machine,
// events per CPU-second is the figure that does not depend on the load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds events/s, events per CPU-second and the peak RSS.
func report(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// peakRSSMB is the process's peak resident set (VmHWM) in MB.
func peakRSSMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func seedRule(b *testing.B) *validate.SPLRule {
	root := reftest.ModuleRoot(b)
	src, err := os.ReadFile(filepath.Join(root, "rules", "seed_t1567_001_code_repo_exfil.spl"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := validate.NewSPLRule("seed", string(src), validate.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkReplayXMLEncodingXMLScan is the floor: a bare encoding/xml
// token scan of the file, no events built, with the collector set as the
// reader's benchmarks set it, so that the ratio compares like with like.
func BenchmarkReplayXMLEncodingXMLScan(b *testing.B) {
	path, n := benchEvents(b, "xml")
	defer replay.TuneGC()()
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		d := xml.NewDecoder(bufio.NewReaderSize(f, 1<<16))
		for {
			if _, err := d.Token(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
		f.Close()
	}
	report(b, b.N*n, cpu0)
}

// BenchmarkReplayXMLToVerdicts reads the XML file and runs the seed query
// over it: events in, verdict rows out.
func BenchmarkReplayXMLToVerdicts(b *testing.B) { benchToVerdicts(b, "xml") }

// BenchmarkReplayEVTXToVerdicts is the same over EVTX: its floor is the
// encoding/xml scan of the same events as XML.
func BenchmarkReplayEVTXToVerdicts(b *testing.B) { benchToVerdicts(b, "evtx") }

// BenchmarkReplayJSONLToVerdicts is the same over JSON lines.
func BenchmarkReplayJSONLToVerdicts(b *testing.B) { benchToVerdicts(b, "jsonl") }

// BenchmarkReplayJSONLToVerdictsSequential reads in the caller's
// goroutine only: the same run's baseline for the one above.
func BenchmarkReplayJSONLToVerdictsSequential(b *testing.B) {
	benchToVerdicts(b, "jsonl", replay.Workers(1))
}

func benchToVerdicts(b *testing.B, kind string, opts ...replay.Option) {
	path, n := benchEvents(b, kind)
	defer replay.TuneGC()() // as the CLI's replaying commands do
	rule := seedRule(b)
	rows := 0
	cpu0 := cpuTime()
	for b.Loop() {
		rows = 0
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := replay.Open(kind, f, append(opts, replay.Strict(true))...)
		if err != nil {
			b.Fatal(err)
		}
		feed := rule.Start(context.Background(), func(validate.Row) error { rows++; return nil })
		for ev, err := range rd.All() {
			if err != nil {
				b.Fatal(err)
			}
			if err := feed.Push(&ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := feed.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if rd.Stats().Events != n {
			b.Fatalf("read %d of %d events", rd.Stats().Events, n)
		}
	}
	report(b, b.N*n, cpu0)
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkReplayJSONLRead is the JSON lines reader alone, on every core.
func BenchmarkReplayJSONLRead(b *testing.B) { benchRead(b, "jsonl") }

// BenchmarkReplayJSONLReadSequential is the JSON lines reader in the
// caller's goroutine only: the same run's baseline for the one above.
func BenchmarkReplayJSONLReadSequential(b *testing.B) { benchRead(b, "jsonl", replay.Workers(1)) }

// BenchmarkReplayEVTXRead is the EVTX reader alone.
func BenchmarkReplayEVTXRead(b *testing.B) { benchRead(b, "evtx") }

// BenchmarkReplayXMLRead is the Event XML reader alone.
func BenchmarkReplayXMLRead(b *testing.B) { benchRead(b, "xml") }

func benchRead(b *testing.B, kind string, opts ...replay.Option) {
	path, n := benchEvents(b, kind)
	defer replay.TuneGC()() // as the CLI's replaying commands do
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := replay.Open(kind, f, append(opts, replay.Strict(true))...)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range rd.All() {
			if err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
		if rd.Stats().Events != n {
			b.Fatalf("read %d of %d", rd.Stats().Events, n)
		}
	}
	report(b, b.N*n, cpu0)
}
