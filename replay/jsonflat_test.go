package replay

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
)

// The flat-line scanner is held to the tree decoder, which reads every
// shape: on any input, the two must read the same events, skip the same
// records with the same errors, and fail the same way in strict mode.

// readMode is what one read of the input gave.
type readMode struct {
	events  []event.Event
	skipped []string
	stats   Stats
	err     string
}

func readWith(t testing.TB, in []byte, treeOnly, strict bool) readMode {
	t.Helper()
	out, _ := readOpts(t, in, treeOnly, Strict(strict))
	return out
}

// readOpts reads in with opts; r is nil if Open failed.
func readOpts(t testing.TB, in []byte, treeOnly bool, opts ...Option) (out readMode, r *Reader) {
	t.Helper()
	r, err := Open("in", bytes.NewReader(in), append(opts, OnSkip(func(e *RecordError) { out.skipped = append(out.skipped, e.Error()) }))...)
	if err != nil {
		out.err = err.Error()
		return out, nil
	}
	if d, ok := r.dec.(*jsonDecoder); ok {
		d.treeOnly = treeOnly
	}
	for ev, err := range r.All() {
		if err != nil {
			out.err = err.Error()
			break
		}
		out.events = append(out.events, ev)
	}
	out.stats = r.Stats()
	return out, r
}

// requireAgree reads in both ways, leniently and strictly, and requires
// the same outcome.
func requireAgree(t testing.TB, in []byte) {
	t.Helper()
	for _, strict := range []bool{false, true} {
		want := readWith(t, in, true, strict)
		got := readWith(t, in, false, strict)
		require.Equal(t, want, got, "strict %v: the flat-line scanner reads what the tree decoder reads", strict)
	}
}

var flatSamples = []string{
	// this package's own JSON lines, with the harness's keys
	`{"harness_run_id":"r1","harness_provenance":"observed","harness_observations":["obs-1","ledger-2"],"harness_modelled_fields":[],"harness_context":"ci-runner","EventID":1,"Provider":"Microsoft-Windows-Sysmon","ProviderGuid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}","Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":"2024-05-01T12:00:00.000000000Z","EventRecordID":1,"ExecutionProcessID":2912,"ExecutionThreadID":3424,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS","UserID":"S-1-5-18","Image":"C:\\Program Files\\Git\\cmd\\git.exe","CommandLine":"git push \"origin\"\tmain/x"}`,
	`{"harness_modelled_fields":null,"harness_observations":null,"harness_simulated":true,"EventID":3}`,
	`{"harness_observations":"obs-1","EventID":3}`,
	`{"harness_observations":["a",1],"EventID":3}`,
	`{"harness_observations":["\u00e9t\u00e9","x\\y"],"EventID":3}`,
	`{"harness_simulated":"maybe","EventID":3}`,
	`{"harness_provenance":"guessed","EventID":3}`,
	// OTRF
	`{"@timestamp":"2020-10-23T02:36:43.542Z","EventID":4688,"Opcode":"Info","Level":"0","Hostname":"WS5","SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","NewProcessName":"C:\\x.exe"}`,
	`{"@timestamp":"not a time","EventID":4688}`,
	`{"EventID":4688,"Hostname":"WS5","Computer":"","TimeCreated":"","@timestamp":"2020-10-23 02:36:43.542"}`,
	// values of every kind
	`{"EventID":" 7 ","A":true,"B":false,"C":null,"D":-1.5e+3,"E":0,"F":"","G":"\u00e9\ud83d\ude00\ud800x","J":"\/\b\f\n\r\t\"\\"}`,
	"{\"H\":\"caf\xc3\xa9\",\"I\":\"bad \xff\xfe utf8\",\"J\":\"x\\\\\xff\"}",
	"{\"A\":\"raw\ttab\x01\",\"B\":\"line\nbreak\"}",
	`{"EventID":1,"K":[1,2,{"a":"b"}],"L":{"m":"n","o":[null]}}`,
	`{"EventID":1,"K\u0041":"escaped name","caf\u00e9":1}`,
	"{\"na\xc3\xafve\":2,\"\xff\":3}",
	`{"EventID":1,"A":"x","A":"y","EventID":2}`,
	`{"EventID":01}`, `{"EventID":1.}`, `{"EventID":-}`, `{"EventID":1e}`, `{"EventID":tru}`, `{"EventID":nul}`, `{"EventID":"1}`,
	`{"EventID":"x"}`, `{"EventRecordID":"-1"}`, `{"ExecutionProcessID":"p"}`, `{"TimeCreated":"yesterday"}`,
	`{"EventID":1,}`, `{"EventID" 1}`, `{EventID:1}`, `{"EventID":1}}`, `{"EventID":1} x`, `{"EventID":1}   `, "{\"EventID\":1}\r",
	`{}`, `{ }`, ` { "EventID" : 1 , "A" : "b" } `, `{"A":"unterminated`, `{"A":"x\`, `{"A":"x\q"}`, `{"A":"\u12"}`,
	// a System value that repeats the previous record's, as decoded or
	// as spelled; names that follow or almost follow the previous order
	"{\"EventID\":1,\"Computer\":\"a\\\\b\"}\n{\"EventID\":1,\"Computer\":\"a\\b\"}",
	"{\"EventID\":1,\"Computer\":\"q\\\"x\"}\n{\"EventID\":1,\"Computer\":\"q\"x\"}",
	"{\"Computer\":\"caf\xc3\xa9\",\"Channel\":\"\"}\n{\"Computer\":\"caf\xc3\xa9\",\"Channel\":\"\"}\n{\"Computer\":\"caf\",\"Channel\":\"\\u0041\"}",
	"{\"A\":1,\"AB\":2}\n{\"A\":1,\"ABC\":2}\n{\"A\":1,\"A\":2}\n{\"A\":1,\"AB\\u0043\":2}\n{\"AB\":1,\"\":2}",
	// a value remembered from a line left to the tree, whose text the next
	// line writes over, must not be taken for a later value
	"{\"A\":\"abcd\",\"K\":[1]}\n{\"B\":\"a\\\"cd\"}\n{\"A\":\"a\"cd\"}",
	// values that come back in turn, as spelled or otherwise, around a
	// line left to the tree and a spelling too long to remember
	"{\"Image\":\"C:\\\\a\"}\n{\"Image\":\"C:\\\\a\"}\n{\"Image\":\"C:\\\\b\"}\n{\"Image\":\"C:\\\\b\"}\n{\"Image\":\"C:\\\\a\"}\n{\"Image\":\"x\"}\n{\"Image\":\"x\"}\n{\"Image\":\"C:\\\\b\"}\n{\"Image\":\"C:\\u005cb\"}\n{\"Image\":\"x\"}",
	"{\"A\":\"p\"}\n{\"A\":\"p\"}\n{\"A\":\"q\",\"K\":[1]}\n{\"A\":\"p\"}\n{\"A\":\"q\"}\n{\"A\":\"q\"}\n{\"A\":\"p\"}\n{\"A\":\"\\u0070\"}\n{\"A\":\"\"}\n{\"A\":\"\"}\n{\"A\":\"q\"}",
	"{\"A\":\"" + strings.Repeat(`x\\`, 100) + "\"}\n{\"A\":\"" + strings.Repeat(`x\\`, 100) + "\"}\n{\"A\":\"y\"}\n{\"A\":\"" + strings.Repeat(`x\\`, 100) + "\"}",
	// System integers as numbers and otherwise, time stamps in every form
	`{"EventID":123456789012345678,"Version":5,"Level":0,"Task":7,"Opcode":"Info","EventRecordID":123456789012345678,"ExecutionProcessID":4,"ExecutionThreadID":9}`,
	`{"EventID":1234567890123456789,"EventRecordID":12345678901234567890,"ExecutionThreadID":-3,"Task":1e2,"Level":1.0,"Version":"2"}`,
	`{"EventRecordID":-1}`, `{"Opcode":null,"Task":true}`,
	`{"TimeCreated":"2024-05-01T12:00:00Z"}`, `{"TimeCreated":" 2024-05-01T12:00:00Z"}`, `{"TimeCreated":"2024-05-01 12:00:00.1234567"}`,
	`{"TimeCreated":"2024-05-01T12:00:00\u005a"}`, `{"TimeCreated":"2024-02-30T00:00:00Z"}`, `{"TimeCreated":"2024-05-01T12:00:00.0000000001Z"}`,
	// network logs (no EventID, no Channel)
	`{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.7","id.orig_p":50123,"id.resp_h":"140.82.112.5","id.resp_p":443,"proto":"tcp"}`,
	`{"time":"2024-05-01T12:00:00Z","client":"10.0.0.7:50123","host":"api.github.com","method":"CONNECT"}`,
	// shapes the tree decoder maps
	`{"winlog":{"event_id":"1","event_data":{"Image":"C:\\git.exe"}},"@timestamp":"2020-10-23T02:36:43.542Z"}`,
	`{"Event":{"System":{"EventID":4}}}`,
	`{"event_id":1,"event_data":{"A":"b"}}`,
	`{"Event":"not an object","winlog":3,"event_data":"x","event_id":2}`,
}

func TestFlatLineAgreesWithTree(t *testing.T) {
	first := `{"EventID":1}` + "\n"
	for i, s := range flatSamples {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			// The first object is the tree decoder's (it says whether the
			// file is an audit log); the scanner reads from the second.
			requireAgree(t, []byte(first+s+"\n"+s))
			requireAgree(t, []byte(first+s+"\n"+first))
		})
	}
	t.Run("all", func(t *testing.T) {
		requireAgree(t, []byte(first+strings.Join(flatSamples, "\n")))
		requireAgree(t, []byte(first+strings.Join(flatSamples, "\r\n\n")))
	})
	t.Run("pretty, arrays, Record lines, audit log", func(t *testing.T) {
		requireAgree(t, []byte("{\n  \"EventID\": 1\n}\n{\n  \"EventID\": 3\n}\n"+flatSamples[0]))
		requireAgree(t, []byte("[\n"+flatSamples[0]+",\n"+flatSamples[0]+"\n]\n"))
		requireAgree(t, []byte("Record 1\n"+first+"Record 2\n"+flatSamples[0]))
		requireAgree(t, []byte(`{"action":"repo.create","actor":"a","created_at":1700000000000}`+"\n"+flatSamples[0]+"\n"+`{"action":"repo.push","actor":"a","@timestamp":1700000000000}`))
	})
}

// TestFlatLineTakesFlatLines: the scanner reads the flat lines itself
// (else the agreement above would prove nothing) and leaves every other
// shape to the tree.
func TestFlatLineTakesFlatLines(t *testing.T) {
	d := newJSONDecoder("in", strings.NewReader(""))
	for _, s := range []string{flatSamples[0], flatSamples[1], flatSamples[7], `{}`, ` {"A":"é"}`, `{"J":"\/\b\f\n\r\t\"\\"}`, `{"EventID":1}   `} {
		b := []byte(strings.TrimLeft(s, " ") + "\n")
		var ev event.Event
		end, ok := d.flatLine(b, 0, false, &ev)
		assert.True(t, ok, s)
		assert.Equal(t, len(strings.TrimRight(strings.TrimLeft(s, " "), " ")), end, s)
	}
	for _, s := range []string{
		flatSamples[len(flatSamples)-4], flatSamples[len(flatSamples)-2], // nested objects
		`{"K":[1]}`, `{"EventID":"x"}`, `{"EventID":1} x`, `{"K\u0041":1}`, `{"A":"\u00e9"}`,
		`{"EventID":1`, // the line is not whole yet
	} {
		var ev event.Event
		_, ok := d.flatLine([]byte(s), 0, false, &ev)
		assert.False(t, ok, s)
	}
}

// TestFlatLineReference: every JSON file of the reference corpus reads the
// same both ways.
func TestFlatLineReference(t *testing.T) {
	eachReferenceJSON(t, func(raw []byte) { requireAgree(t, raw) })
}

// eachReferenceJSON calls f with each JSON file of the reference corpus.
func eachReferenceJSON(t *testing.T, f func(raw []byte)) {
	t.Helper()
	dir, ok := reftest.Lookup(t, "telemetry")
	if !ok {
		t.Skipf("reference corpus not found at %s (set HARNESS_REFERENCE)", dir)
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".jsonl")) {
			return err
		}
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		f(raw)
		n++
		return nil
	})
	require.NoError(t, err)
	assert.NotZero(t, n, "JSON files in the reference corpus")
}

// FuzzFlatLineAgreesWithTree holds the scanner to the tree decoder on any
// input.
func FuzzFlatLineAgreesWithTree(f *testing.F) {
	for _, s := range flatSamples {
		f.Add([]byte(`{"EventID":1}` + "\n" + s + "\n" + s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		requireAgree(t, in)
	})
}

// BenchmarkJSONLines reads the same flat Sysmon lines in memory with the
// flat-line scanner on every core, on one, and with the tree decoder
// alone on one, so that their ratios come from one run:
//
//	go test -run '^$' -bench JSONLines ./replay
func BenchmarkJSONLines(b *testing.B) {
	var buf bytes.Buffer
	const n = 200000
	for i := range n {
		fmt.Fprintf(&buf, `{"EventID":%d,"Provider":"Microsoft-Windows-Sysmon","ProviderGuid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}","Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":"2024-05-01T12:00:%02d.%09dZ","EventRecordID":%d,"ExecutionProcessID":2912,"ExecutionThreadID":3424,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS-%d.corp.local","UserID":"S-1-5-18","RuleName":"-","UtcTime":"2024-05-01 12:00:%02d.%03d","ProcessGuid":"{96128EA2-F212-5F7E-%04X-000000007F01}","ProcessId":"%d","Image":"C:\\Program Files\\Git\\cmd\\git%d.exe","CommandLine":"git push --force https://github.com/x/y%d.git","CurrentDirectory":"C:\\Users\\alice\\src\\","User":"CORP\\alice","LogonId":"0x8d4ac","IntegrityLevel":"Medium","Hashes":"SHA256=935C1861DF1F4018D698E8B65ABFA02D7E9037D8F68CA3C2065B6CA165D44AD2","ParentImage":"C:\\Windows\\explorer.exe","ParentCommandLine":"explorer.exe"}`+"\n",
			1+i%4*2, i%60, i, i+1, i%8, i%60, i%1000, i%65536, 4000+i%5000, i%16, i)
	}
	in := buf.Bytes()
	for _, mode := range []struct {
		name     string
		treeOnly bool
		workers  int
	}{{"parallel", false, runtime.GOMAXPROCS(0)}, {"flat", false, 1}, {"tree", true, 1}} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				r, err := Open("bench", bytes.NewReader(in), Strict(true), Workers(mode.workers))
				if err != nil {
					b.Fatal(err)
				}
				r.dec.(*jsonDecoder).treeOnly = mode.treeOnly
				for _, err := range r.All() {
					if err != nil {
						b.Fatal(err)
					}
				}
				if r.Stats().Events != n {
					b.Fatalf("read %d of %d events", r.Stats().Events, n)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// digits reads what strconv reads, where it reads at all.
func TestDigits(t *testing.T) {
	for _, v := range []string{"0", "7", "007", "4294967296", "999999999999999999", "1000000000000000000", "", " 1", "1 ", "+1", "-1", "1a", "１", "0x10"} {
		n, ok := digits(v)
		want, err := strconv.ParseUint(v, 10, 64)
		if ok {
			require.NoError(t, err, v)
			assert.Equal(t, want, n, v)
		}
		short := len(v) > 0 && len(v) <= 18 && strings.Trim(v, "0123456789") == ""
		assert.Equal(t, short, ok, v)
	}
}
