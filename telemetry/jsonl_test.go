package telemetry

import (
	"bytes"
	"encoding/json"
	"github.com/t1567001/harness/event"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONLRoundTrip(t *testing.T) {
	want := codecTestEvents()
	want[0].RunID = "run-42"
	want[0].Provenance, want[0].Observations, want[0].ModelledFields, want[0].Context = event.Observed, []string{"obs-3", "ledger-1"}, []string{"ProcessGuid"}, "workstation"
	want[1].Provenance = event.Declared
	var first bytes.Buffer
	require.NoError(t, WriteJSONL(&first, want))
	assert.Equal(t, len(want), strings.Count(first.String(), "\n"))
	for i, line := range strings.Split(strings.TrimSuffix(first.String(), "\n"), "\n") {
		assert.True(t, json.Valid([]byte(line)), "line %d", i+1)
	}

	got, err := readBack(bytes.NewReader(first.Bytes()))
	require.NoError(t, err)
	require.Equal(t, want, got)

	var second bytes.Buffer
	require.NoError(t, WriteJSONL(&second, got))
	assert.Equal(t, first.String(), second.String())
	assert.Contains(t, first.String(), `"harness_provenance":"observed","harness_observations":["obs-3","ledger-1"],"harness_modelled_fields":["ProcessGuid"],"harness_context":"workstation"`)

	old, err := readBack(strings.NewReader(`{"harness_simulated":true,"EventID":1}`))
	require.NoError(t, err)
	assert.Equal(t, event.Simulated, old[0].Provenance, "the older mark still reads as simulated")
	_, err = readBack(strings.NewReader(`{"harness_provenance":"guessed","EventID":1}`))
	assert.ErrorContains(t, err, `provenance "guessed"`)
}

// TestJSONLMatchesXML checks the two forms carry the same event: JSONL
// read back renders the same XML, and TimeCreated is the same string.
func TestJSONLMatchesXML(t *testing.T) {
	events := codecTestEvents()
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, events))
	got, err := readBack(&buf)
	require.NoError(t, err)
	for i := range events {
		assert.Equal(t, string(MarshalEventXML(events[i])), string(MarshalEventXML(got[i])))
	}
	line := jsonlLine(t, events[0])
	assert.Contains(t, line, `"TimeCreated":"2024-05-01T12:30:45.123456700Z"`)
	assert.Contains(t, string(MarshalEventXML(events[0])), `SystemTime='2024-05-01T12:30:45.123456700Z'`)
}

func jsonlLine(t *testing.T, e event.Event) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, []event.Event{e}))
	return buf.String()
}

func TestWriteJSONLGolden(t *testing.T) {
	e := codecTestEvents()[0]
	e.RunID = "run-42"
	codecGolden(t, "events.golden.jsonl", []byte(jsonlLine(t, e)))
}

func TestWriteJSONLKeyOrder(t *testing.T) {
	e := codecTestEvents()[0]
	e.RunID = "run-42"
	assert.Equal(t, []string{
		"harness_run_id", "EventID", "Provider", "ProviderGuid", "Version", "Level", "Task",
		"Opcode", "Keywords", "TimeCreated", "EventRecordID", "ExecutionProcessID",
		"ExecutionThreadID", "Channel", "Computer", "UserID",
		"RuleName", "Image", "CommandLine", "CurrentDirectory", "Description",
	}, jsonlKeys(t, jsonlLine(t, e)))

	// No run ID and no UserID: both keys are omitted.
	keys := jsonlKeys(t, jsonlLine(t, codecTestEvents()[1]))
	assert.Equal(t, "EventID", keys[0])
	assert.NotContains(t, keys, "harness_run_id")
	assert.NotContains(t, keys, "UserID")
	assert.Equal(t, "SubjectUserSid", keys[14])
}

func jsonlKeys(t *testing.T, line string) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	_, err := d.Token()
	require.NoError(t, err)
	var keys []string
	for d.More() {
		k, err := d.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var v json.RawMessage
		require.NoError(t, d.Decode(&v))
	}
	return keys
}

func TestWriteJSONLValues(t *testing.T) {
	line := jsonlLine(t, codecTestEvents()[0])
	for _, want := range []string{
		`"EventID":1,`,
		`"EventRecordID":4522,`,
		`"ExecutionProcessID":2912,`,
		`"Computer":"ws-01&<lab>'\""`, // no HTML escaping
		`"Image":"C:\\Users\\Jörg\\AppData\\Local\\Temp\\x.exe"`,
		`"CurrentDirectory":""`,
	} {
		assert.Contains(t, line, want)
	}
}

func TestReadJSONLForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []event.Event
	}{
		{"empty", "", nil},
		{"blank lines", "\n  \n\r\n", nil},
		{"hand-written, EventData order kept",
			`{"Image":"C:\\x.exe","EventID":1,"Computer":"h","CommandLine":"x.exe /q","Channel":"Microsoft-Windows-Sysmon/Operational","User":"A\\b"}`,
			[]event.Event{{EventID: 1, Computer: "h", Channel: event.SysmonChannel,
				Data: []event.Field{{Name: "Image", Value: `C:\x.exe`}, {Name: "CommandLine", Value: "x.exe /q"}, {Name: "User", Value: `A\b`}}}}},
		{"OTRF-style strings for numbers, non-string EventData",
			"\xef\xbb\xbf" + `{"EventID":"4688","Level":"0","Task":"13312","EventRecordID":"9","TimeCreated":"2020-10-23T02:36:43.542Z","N":12,"B":true,"Z":null,"O":{"a":[1]}}` + "\n",
			[]event.Event{{EventID: 4688, Task: 13312, RecordID: 9,
				TimeCreated: time.Date(2020, 10, 23, 2, 36, 43, 542000000, time.UTC),
				Data:        []event.Field{{Name: "N", Value: "12"}, {Name: "B", Value: "true"}, {Name: "Z", Value: ""}, {Name: "O", Value: `{"a":[1]}`}}}}},
		{"no trailing newline, CRLF", "{\"EventID\":3}\r\n{\"EventID\":22}", []event.Event{{EventID: 3}, {EventID: 22}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBack(strings.NewReader(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadJSONLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"array", "{\"EventID\":1}\n[1,2]\n", "input:2: want a JSON object, got an array"},
		{"string", "\n\n\"x\"", "input:3: want a JSON object, got a string"},
		{"truncated object", `{"EventID":1,"A":"b`, "input:1:"},
		{"trailing data", `{"EventID":1} {"EventID":2}`, "input:1: unexpected data after the JSON object"},
		{"bad EventID", `{"EventID":1.5}`, `input:1: key "EventID": invalid integer 1.5`},
		{"bad time", `{"TimeCreated":"soon"}`, `input:1: key "TimeCreated": invalid SystemTime "soon"`},
		{"bad record", `{"EventRecordID":-1}`, `input:1: key "EventRecordID": invalid record ID "-1"`},
		{"garbage", "{\"EventID\":1}\n{\"EventID\":2}\nnot json\n", "input:3: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBack(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestReadEvents(t *testing.T) {
	events := codecTestEvents()
	var x, j bytes.Buffer
	require.NoError(t, WriteXML(&x, events))
	require.NoError(t, WriteJSONL(&j, events))

	tests := []struct {
		name, file, in string
		want           []event.Event
		err            string
	}{
		{name: "XML", file: "e.xml", in: "\n  " + x.String(), want: events},
		{name: "bare XML event", file: "e.xml", in: string(MarshalEventXML(events[0])), want: events[:1]},
		{name: "JSONL", file: "e.jsonl", in: "\xef\xbb\xbf\n" + j.String(), want: events},
		{name: "empty", file: "e", in: ""},
		{name: "blank", file: "e", in: " \r\n\t\n"},
		{name: "truncated XML", file: "events.xml", in: x.String()[:strings.Index(x.String(), "<Data Name='Image'>")],
			err: "events.xml:3:"},
		{name: "truncated XML names event", file: "events.xml", in: x.String()[:strings.Index(x.String(), "<Data Name='Image'>")],
			err: "event 1: unexpected EOF"},
		{name: "JSONL line not an object", file: "events.jsonl", in: j.String() + "[]\n",
			err: "events.jsonl:5: want a JSON object, got an array"},
		{name: "neither", file: "events.csv", in: "a,b\n", err: `events.csv: unrecognised format: first byte 'a'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadEvents(tt.file, strings.NewReader(tt.in))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestReadEventsXMLPositionIsExact checks the reported line:column points
// into the input as given, leading blank lines included.
func TestReadEventsXMLPositionIsExact(t *testing.T) {
	in := "\n\n<Events>\n<Event><System><EventID>oops</EventID></System></Event>\n</Events>\n"
	_, err := ReadEvents("x.xml", strings.NewReader(in))
	require.Error(t, err)
	assert.Equal(t, `x.xml:4:39: event 1: EventID: invalid number "oops"`, err.Error())
}

func BenchmarkWriteJSONL(b *testing.B) {
	events := sysmonBenchEvents(10000)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteJSONL(discardWriter{}, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

// FuzzReadEvents checks the readers never panic and that whatever they
// accept survives both writers.
func FuzzReadEvents(f *testing.F) {
	var x, j bytes.Buffer
	events := codecTestEvents()[:1]
	_ = WriteXML(&x, events)
	_ = WriteJSONL(&j, events)
	for _, s := range []string{x.String(), j.String(), "", "<Event><System/></Event>", `{"EventID":1,"A":null}`, "<?xml version='1.1'?><Events/>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ReadEvents("fuzz", bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		require.NoError(t, WriteXML(&buf, got))
		again, err := readBack(&buf)
		require.NoError(t, err)
		require.Len(t, again, len(got))
		buf.Reset()
		require.NoError(t, WriteJSONL(&buf, got))
		_, err = readBack(&buf)
		require.NoError(t, err)
	})
}

// readBack reads what a writer wrote, strictly.
func readBack(r io.Reader) ([]event.Event, error) { return ReadEvents("input", r) }
