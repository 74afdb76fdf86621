package replay

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
)

func readAll(t *testing.T, in string, opts ...Option) ([]event.Event, Stats, error) {
	t.Helper()
	r, err := Open("in", strings.NewReader(in), opts...)
	if err != nil {
		return nil, Stats{}, err
	}
	var evs []event.Event
	for ev, err := range r.All() {
		if err != nil {
			return evs, r.Stats(), err
		}
		evs = append(evs, ev)
	}
	return evs, r.Stats(), nil
}

// TestReferenceTelemetry reads every recorded file of the reference
// corpus strictly: each must be read whole, and the XML ones exactly as
// encoding/xml reads them.
func TestReferenceTelemetry(t *testing.T) {
	dir, ok := reftest.Lookup(t, "telemetry")
	if !ok {
		t.Skipf("reference corpus not found at %s (set HARNESS_REFERENCE)", dir)
	}
	files, full := 0, 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") {
			return err
		}
		files++
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		r, err := Open(rel, bytes.NewReader(raw), Strict(true))
		require.NoError(t, err, rel)
		var evs []event.Event
		for ev, err := range r.All() {
			require.NoError(t, err, rel)
			evs = append(evs, ev)
		}
		st := r.Stats()
		t.Logf("%s", st)
		assert.NotEmpty(t, evs, rel)
		for _, ev := range evs {
			assert.NotZero(t, ev.EventID, "%s: every event has its EventID", rel)
			assert.NotEmpty(t, ev.Channel, "%s: every event has its channel", rel)
			assert.NotEmpty(t, ev.Computer, "%s: every event has its computer", rel)
			assert.False(t, ev.TimeCreated.IsZero(), "%s: every event has its time", rel)
		}
		if st.Format == FormatXML {
			want, err := oracleReadXML(bytes.NewReader(raw))
			require.NoError(t, err, rel)
			assert.Equal(t, want, evs, "%s: the scanner reads what encoding/xml reads", rel)
		}
		if st.Skipped == 0 && len(evs) > 0 {
			full++
		}
		return nil
	})
	require.NoError(t, err)
	t.Logf("%d of %d reference telemetry files read fully", full, files)
	assert.Equal(t, files, full)
}

func TestJSONShapes(t *testing.T) {
	tm := time.Date(2020, 10, 23, 2, 36, 43, 542000000, time.UTC)
	tests := []struct {
		name string
		in   string
		want event.Event
	}{
		{"OTRF: string Opcode, Hostname, @timestamp, SourceName",
			`{"@timestamp":"2020-10-23T02:36:43.542Z","EventID":4688,"Opcode":"Info","Level":"0","Hostname":"WS5","SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","NewProcessName":"C:\\x.exe"}`,
			event.Event{EventID: 4688, TimeCreated: tm, Computer: "WS5", Channel: "Security",
				Provider: event.Provider{Name: "Microsoft-Windows-Security-Auditing"},
				Data: []event.Field{{Name: "@timestamp", Value: "2020-10-23T02:36:43.542Z"}, {Name: "Opcode", Value: "Info"},
					{Name: "Hostname", Value: "WS5"}, {Name: "SourceName", Value: "Microsoft-Windows-Security-Auditing"}, {Name: "NewProcessName", Value: `C:\x.exe`}}}},
		{"Winlogbeat/ECS",
			`{"@timestamp":"2020-10-23T02:36:43.542Z","host":{"name":"ws5.corp"},"winlog":{"event_id":"1","channel":"Microsoft-Windows-Sysmon/Operational","provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS5","record_id":42,"opcode":"Info","process":{"pid":2912,"thread":{"id":3424}},"event_data":{"Image":"C:\\git.exe","LogonId":"0x8e818"}}}`,
			event.Event{EventID: 1, TimeCreated: tm, Computer: "WS5", Channel: event.SysmonChannel, RecordID: 42,
				Provider: event.Provider{Name: "Microsoft-Windows-Sysmon"}, ExecutionPID: 2912, ExecutionTID: 3424,
				Data: []event.Field{{Name: "Image", Value: `C:\git.exe`}, {Name: "LogonId", Value: "0x8e818"},
					{Name: "@timestamp", Value: "2020-10-23T02:36:43.542Z"}, {Name: "host.name", Value: "ws5.corp"},
					{Name: "winlog.event_id", Value: "1"}, {Name: "winlog.channel", Value: event.SysmonChannel},
					{Name: "winlog.provider_name", Value: "Microsoft-Windows-Sysmon"}, {Name: "winlog.computer_name", Value: "WS5"},
					{Name: "winlog.record_id", Value: "42"}, {Name: "winlog.opcode", Value: "Info"},
					{Name: "winlog.process.pid", Value: "2912"}, {Name: "winlog.process.thread.id", Value: "3424"}}}},
		{"evtx_dump with Record line and UserData",
			"Record 7\n{\n  \"Event\": {\n    \"System\": {\n      \"Provider\": {\"#attributes\": {\"Name\": \"Microsoft-Windows-Eventlog\", \"Guid\": \"fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148\"}},\n" +
				"      \"EventID\": {\"#attributes\": {\"Qualifiers\": \"\"}, \"#text\": 1102},\n      \"TimeCreated\": {\"#attributes\": {\"SystemTime\": \"2020-10-23T02:36:43.542000Z\"}},\n" +
				"      \"EventRecordID\": 7, \"Channel\": \"Security\", \"Computer\": \"WS5\", \"Execution\": {\"#attributes\": {\"ProcessID\": 4, \"ThreadID\": 8}}\n    },\n" +
				"    \"UserData\": {\"LogFileCleared\": {\"#attributes\": {\"xmlns\": \"x\"}, \"SubjectUserName\": \"bob\", \"SubjectLogonId\": \"0x3e7\"}}\n  }\n}\n",
			event.Event{EventID: 1102, TimeCreated: tm, Computer: "WS5", Channel: "Security", RecordID: 7, ExecutionPID: 4, ExecutionTID: 8,
				Provider: event.Provider{Name: "Microsoft-Windows-Eventlog", GUID: "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"},
				Data:     []event.Field{{Name: "SubjectUserName", Value: "bob"}, {Name: "SubjectLogonId", Value: "0x3e7"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := readAll(t, tt.in, Strict(true))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0])
			assert.Equal(t, FormatJSON, st.Format)
		})
	}
}

func TestConcatenatedAndArrays(t *testing.T) {
	for name, in := range map[string]string{
		"pretty concatenated": "{\n  \"EventID\": 1\n}\n{\n  \"EventID\": 3\n}\n",
		"array":               "[\n{\"EventID\": 1},\n{\"EventID\": 3}\n]\n",
		"lines, CRLF":         "{\"EventID\":1}\r\n\r\n{\"EventID\":3}",
	} {
		t.Run(name, func(t *testing.T) {
			got, _, err := readAll(t, in, Strict(true))
			require.NoError(t, err)
			assert.Equal(t, []event.Event{{EventID: 1}, {EventID: 3}}, got)
		})
	}
}

// TestSkipOrStrict: a record the reader cannot read is reported with its
// line and skipped; with Strict it ends the read.
func TestSkipOrStrict(t *testing.T) {
	good := `<Event><System><EventID>1</EventID></System></Event>`
	tests := []struct {
		name, in string
		events   int
		where    string
	}{
		{"JSON bad line", "{\"EventID\":1}\nnot json\n{\"EventID\":2}\n{\"EventID\":\"x\"}\n{\"EventID\":3}\n", 3, "in:2:"},
		{"XML bad value", "<Events>\n" + good + "\n<Event><System><EventID>x</EventID></System></Event>\n" + good + "\n</Events>\n", 2, "in:3:"},
		{"XML malformed event", "<Events>\n" + good + "\n<Event><System><EventID>2</Event>\n" + good + "\n</Events>\n", 2, "in:3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var skipped []*RecordError
			got, st, err := readAll(t, tt.in, OnSkip(func(e *RecordError) { skipped = append(skipped, e) }))
			require.NoError(t, err)
			assert.Len(t, got, tt.events)
			require.NotEmpty(t, skipped)
			assert.Contains(t, skipped[0].Error(), tt.where)
			assert.Equal(t, len(skipped), st.Skipped)
			assert.Equal(t, tt.events, st.Events)

			_, _, err = readAll(t, tt.in, Strict(true))
			var re *RecordError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, err.Error(), tt.where)
		})
	}
}

func TestGzipAndEmpty(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte("<Events><Event><System><EventID>4688</EventID></System></Event></Events>"))
	require.NoError(t, zw.Close())
	got, st, err := readAll(t, buf.String(), Strict(true))
	require.NoError(t, err)
	assert.Equal(t, []event.Event{{EventID: 4688}}, got)
	assert.True(t, st.Gzip)

	got, st, err = readAll(t, " \n")
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, FormatEmpty, st.Format)

	_, err = Open("x.csv", strings.NewReader("a,b\n"))
	require.ErrorContains(t, err, "x.csv: unrecognised format")
}

// TestSmallReads feeds the input a byte at a time: records cut anywhere
// by the buffer read the same.
func TestSmallReads(t *testing.T) {
	dir, ok := reftest.Lookup(t, "telemetry")
	if !ok {
		t.Skipf("reference corpus not found at %s", dir)
	}
	for _, f := range []string{"sbousseaden_sysmon_3_10_Invoke-Mimikatz_hosted_Github.xml", "otrf_wmic_remote_xsl_jscript_github_subset.jsonl"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		want, err := ReadAll(f, bytes.NewReader(raw))
		require.NoError(t, err)
		got, err := ReadAll(f, &oneByte{raw})
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

// FuzzXMLAgreesWithEncodingXML holds the scanner to encoding/xml: what
// encoding/xml reads, the scanner reads the same; what it rejects, the
// scanner rejects.
func FuzzXMLAgreesWithEncodingXML(f *testing.F) {
	for _, s := range []string{
		"<Events><Event><System><EventID>1</EventID><Computer>a&amp;b&#xA;</Computer></System><EventData><Data Name='A'>x<![CDATA[<y>]]></Data></EventData></Event></Events>",
		"<?xml version='1.0'?>\n<Event xmlns='u'><System><Provider Name=\"P&apos;\" Guid='{G}'/><Execution ProcessID='1' ThreadID='2'/></System><UserData><X><A>1</A><B/></X></UserData></Event>",
		"<Event><!-- c --><System><TimeCreated SystemTime='2020-10-08T11:03:46.617920300Z'/></System></Event>\r\n<Event/>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		trimmed := bytes.TrimLeft(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf")), " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '<' {
			return
		}
		want, werr := oracleReadXML(bytes.NewReader(in))
		got, gerr := ReadAll("fuzz", bytes.NewReader(in))
		if werr == nil {
			require.NoError(t, gerr, "encoding/xml reads it")
			require.Equal(t, want, got)
			return
		}
		var re *RecordError
		if gerr == nil || !errors.As(gerr, &re) {
			t.Fatalf("encoding/xml rejects it (%v) but the scanner reads %d event(s) (err %v)", werr, len(got), gerr)
		}
	})
}

// TestEVTX reads the EVTX samples the evtx module ships (the module cache
// holds them once the module is downloaded): chunk by chunk, from a plain
// stream and from gzip, hex fields as Windows renders them.
func TestEVTX(t *testing.T) {
	dir := evtxTestdata(t)
	raw, err := os.ReadFile(filepath.Join(dir, "Security_1_record.evtx"))
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(raw)
	require.NoError(t, zw.Close())
	for name, in := range map[string][]byte{"plain": raw, "gzip": zipped.Bytes()} {
		t.Run(name, func(t *testing.T) {
			evs, err := ReadAll("Security_1_record.evtx", io.MultiReader(bytes.NewReader(in)))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			ev := evs[0]
			assert.Equal(t, 1102, ev.EventID)
			assert.Equal(t, "Security", ev.Channel)
			assert.Equal(t, "TestComputer", ev.Computer)
			assert.Equal(t, "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}", ev.Provider.GUID)
			assert.Equal(t, "0x4020000000000000", ev.Keywords)
			assert.Equal(t, uint64(33072), ev.RecordID)
			assert.Equal(t, 2019, ev.TimeCreated.Year())
			v, ok := ev.Get("SubjectLogonId")
			assert.True(t, ok)
			assert.Equal(t, "0x2118a", v, "LogonId as Windows renders it")
		})
	}
	big, err := os.Open(filepath.Join(dir, "Security.evtx"))
	require.NoError(t, err)
	defer big.Close()
	r, err := Open("Security.evtx", big, Strict(true))
	require.NoError(t, err)
	ids := map[int]int{}
	for ev, err := range r.All() {
		require.NoError(t, err)
		ids[ev.EventID]++
	}
	t.Logf("%s; event IDs %v", r.Stats(), ids)
	assert.Greater(t, r.Stats().Events, 100)
	assert.Equal(t, FormatEVTX, r.Stats().Format)
}

func evtxTestdata(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/evtx").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("the evtx module's samples are not in the module cache (go list: %v)", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no evtx samples at %s", dir)
	}
	return dir
}

// FuzzOpen feeds any input to every reader: none may panic, and whatever is
// read in lenient mode is also what strict mode reads up to its first
// error.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{
		`{"EventID":1,"Image":"C:\\x.exe","@timestamp":"2020-10-23T02:36:43.542Z"}` + "\n{bad\n" + `{"winlog":{"event_id":3,"event_data":{"A":"b"}}}`,
		"Record 1\n{\n  \"Event\": {\"System\": {\"EventID\": {\"#text\": 4}}, \"EventData\": {\"A\": [1, null]}}\n}\n",
		"[{\"EventID\":\"\\ud83d\\ude00\"}, {\"EventID\":2}]",
		"<Events><Event><System><EventID>1</EventID></System><EventData><Data Name='A'>&lt;x&gt;</Data></EventData></Event></Events>",
		"ElfFile\x00",
		"\x1f\x8b",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Open("fuzz", bytes.NewReader(in))
		if err != nil {
			return
		}
		var lenient []event.Event
		for ev, err := range r.All() {
			if err != nil {
				break
			}
			lenient = append(lenient, ev)
		}
		strict, err := ReadAll("fuzz", bytes.NewReader(in))
		if err == nil {
			require.Equal(t, strict, lenient)
		}
	})
}
