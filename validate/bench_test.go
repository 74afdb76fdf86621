package validate

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/replay"
	"github.com/t1567001/harness/rules"
)

// BenchmarkSeedRuleOnParsedEvents is the seed query over events already
// read (event.Event, as the readers give them), through the streaming
// path: the figure to hold against 5 M events/s per core. events/cpu-s is
// the process's CPU time, so it holds on a loaded machine too.
func BenchmarkSeedRuleOnParsedEvents(b *testing.B) {
	loaded, _, err := LoadRules(rules.FS, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rule := ByID(loaded)["seed_t1567_001_code_repo_exfil"].(*SPLRule)
	events := make([]event.Event, 10000)
	hosts := []string{ws, ci, "WS-DEV-01.corp.example", "SRV-DB-02.corp.example"}
	images := []string{gitExe, curlExe, `C:\Windows\System32\svchost.exe`, remote, explorer}
	for i := range events {
		host, img := hosts[i%len(hosts)], images[(i/4)%len(images)]
		switch i % 4 {
		case 0:
			cmd := []string{"git push --force https://github.com/x/y.git", "curl.exe -X POST https://api.github.com/gists -d @x", "svchost.exe -k netsvcs", "git status"}[(i/16)%4]
			events[i] = procEvent(host, img, cmd, explorer)
		case 1:
			events[i] = netEvent(host, img, []string{"api.github.com", "www.microsoft.com", "github.com", "login.live.com"}[(i/8)%4])
		case 2:
			events[i] = sysmon(11, host, "Image", img, "TargetFilename", `C:\Users\alice\AppData\Local\Temp\x`+strconv.Itoa(i)+".tmp")
		default:
			events[i] = sysmon(22, host, "Image", img, "QueryName", "api.github.com", "QueryStatus", "0")
		}
		events[i].TimeCreated = time.Unix(1700000000+int64(i), 0)
	}
	// As `harness spl` runs it (the collector set by replay.TuneGC) and
	// with Go's default collector, so the two figures come from one run.
	for _, gc := range []struct {
		name string
		tune func() func()
	}{{"default-gc", func() func() { return func() {} }}, {"as-cli", replay.TuneGC}} {
		b.Run(gc.name, func(b *testing.B) {
			defer gc.tune()()
			rows := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				rows = 0
				f := rule.Start(context.Background(), func(Row) error { rows++; return nil })
				for i := range events {
					if err := f.Push(&events[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N * len(events))
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(n/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
