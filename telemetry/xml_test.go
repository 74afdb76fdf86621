package telemetry

import (
	"bytes"
	"flag"
	"github.com/t1567001/harness/event"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/t1567001/harness/internal/reftest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// codecGolden compares got with testdata/name, rewriting it under -update.
func codecGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./telemetry/ -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got))
}

// codecTestEvents covers what the writers must escape or keep: markup
// characters in values and Computer, non-ASCII, an empty value, a command
// line at Windows' 32767-character limit, UserID empty and set, newlines,
// tabs and CR in values.
func codecTestEvents() []event.Event {
	long := `"C:\Windows\System32\cmd.exe" /c echo ` + strings.Repeat("A&B<C>'D\"E ", 3272)
	long = long[:32767]
	return []event.Event{
		{
			Provider: event.Sysmon, EventID: 1, Version: 5, Level: 4, Task: 1,
			Keywords:     "0x8000000000000000",
			TimeCreated:  time.Date(2024, 5, 1, 12, 30, 45, 123456700, time.UTC),
			RecordID:     4522,
			ExecutionPID: 2912, ExecutionTID: 3424,
			Channel: event.SysmonChannel, Computer: `ws-01&<lab>'"`, UserID: "S-1-5-18",
			Data: []event.Field{
				{Name: "RuleName", Value: "-"},
				{Name: "Image", Value: `C:\Users\Jörg\AppData\Local\Temp\x.exe`},
				{Name: "CommandLine", Value: `cmd /c "echo a & b" <in >out 'q'`},
				{Name: "CurrentDirectory", Value: ""},
				{Name: "Description", Value: "naïve — 日本語 ®"},
			},
		},
		{
			Provider: event.Security, EventID: 4688, Version: 2, Task: 13312,
			Keywords:     "0x8020000000000000",
			TimeCreated:  time.Date(2024, 4, 23, 8, 48, 30, 449376800, time.UTC),
			RecordID:     18446744073709551615,
			ExecutionPID: 4, ExecutionTID: 276,
			Channel: event.SecurityChannel, Computer: "ar-win-1",
			Data: []event.Field{
				{Name: "SubjectUserSid", Value: `NT AUTHORITY\SYSTEM`},
				{Name: "CommandLine", Value: long},
				{Name: "TokenElevationType", Value: "%%1936"},
				{Name: "MandatoryLabel", Value: ""},
			},
		},
		{
			Provider: event.PowerShell, EventID: 4104, Version: 1, Level: 5, Task: 2, Opcode: 15,
			Keywords:     "0x0",
			TimeCreated:  time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
			RecordID:     7,
			ExecutionPID: 100, ExecutionTID: 200,
			Channel: event.PowerShellChannel, Computer: "host", UserID: `S-1-5-21-1&'2"`,
			Data: []event.Field{
				{Name: "MessageNumber", Value: "1"},
				{Name: "ScriptBlockText", Value: "line1\r\nline2\n\tindented\rend"},
				{Name: "Path", Value: ""},
			},
		},
		// No EventData and no Guid: what a classic provider looks like.
		{Provider: event.Provider{Name: "EventLog"}, EventID: 6005, Channel: "System", Computer: "h"},
	}
}

func TestMarshalEventXMLReproducesSplunkSamples(t *testing.T) {
	dir := filepath.Join(reftest.Dir(t), "telemetry", "splunk_data_sources_example_log")
	for _, name := range []string{
		"sysmon_eventid_1.xml",
		"sysmon_eventid_3.xml",
		"sysmon_eventid_11.xml",
		"sysmon_eventid_22.xml",
		"windows_event_log_security_4688.xml",
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			events, err := readBack(bytes.NewReader(raw))
			require.NoError(t, err)
			require.Len(t, events, 1)
			e := events[0]
			assert.NotEmpty(t, e.Provider.Name)
			assert.NotZero(t, e.EventID)
			assert.NotZero(t, e.RecordID)
			assert.False(t, e.TimeCreated.IsZero())
			assert.NotEmpty(t, e.Data)
			assert.Equal(t, string(bytes.TrimSuffix(raw, []byte("\n"))), string(MarshalEventXML(e)))
		})
	}
}

func TestReadXMLSplunkSampleFields(t *testing.T) {
	dir := filepath.Join(reftest.Dir(t), "telemetry", "splunk_data_sources_example_log")
	raw, err := os.ReadFile(filepath.Join(dir, "sysmon_eventid_1.xml"))
	require.NoError(t, err)
	events, err := readBack(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, event.Sysmon, e.Provider)
	assert.Equal(t, 1, e.EventID)
	assert.Equal(t, 5, e.Version)
	assert.Equal(t, 4, e.Level)
	assert.Equal(t, 1, e.Task)
	assert.Equal(t, 0, e.Opcode)
	assert.Equal(t, "0x8000000000000000", e.Keywords)
	assert.Equal(t, time.Date(2020, 10, 8, 11, 3, 46, 617920300, time.UTC), e.TimeCreated)
	assert.Equal(t, uint64(4522), e.RecordID)
	assert.Equal(t, 2912, e.ExecutionPID)
	assert.Equal(t, 3424, e.ExecutionTID)
	assert.Equal(t, event.SysmonChannel, e.Channel)
	assert.Equal(t, "win-dc-6764986.attackrange.local", e.Computer)
	assert.Equal(t, "S-1-5-18", e.UserID)
	require.Len(t, e.Data, 22)
	assert.Equal(t, event.Field{Name: "RuleName", Value: "-"}, e.Data[0])
	assert.Equal(t, "ParentCommandLine", e.Data[21].Name)
	cmd, ok := e.Get("CommandLine")
	require.True(t, ok)
	assert.Equal(t, `"C:\Windows\system32\cmd.exe" /c "reg save HKLM\sam %%temp%%\sam & reg save HKLM\system %%temp%%\system & reg save HKLM\security %%temp%%\security" `, cmd)
	product, _ := e.Get("Product")
	assert.Equal(t, "Microsoft® Windows® Operating System", product)
}

// TestReadXMLSplunkStream reads the five samples concatenated, as Splunk
// exports them: bare <Event> elements, one per line, no root.
func TestReadXMLSplunkStream(t *testing.T) {
	dir := filepath.Join(reftest.Dir(t), "telemetry", "splunk_data_sources_example_log")
	paths, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	require.NoError(t, err)
	require.Len(t, paths, 5)
	var stream bytes.Buffer
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		stream.Write(raw)
	}
	events, err := readBack(&stream)
	require.NoError(t, err)
	assert.Len(t, events, 5)
}

func TestReadXMLPythonEvtx(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(reftest.Dir(t), "telemetry", "sbousseaden_*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			events, err := readBack(bytes.NewReader(raw))
			require.NoError(t, err)
			require.Len(t, events, strings.Count(string(raw), "<Event "))
			for i, e := range events {
				assert.Equal(t, "Microsoft-Windows-Sysmon", e.Provider.Name, "event %d", i)
				assert.Equal(t, "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", e.Provider.GUID, "event %d", i)
				assert.NotZero(t, e.EventID, "event %d", i)
				assert.NotZero(t, e.RecordID, "event %d", i)
				assert.Equal(t, event.SysmonChannel, e.Channel, "event %d", i)
				assert.Equal(t, "S-1-5-18", e.UserID, "event %d", i)
				assert.False(t, e.TimeCreated.IsZero(), "event %d", i)
				assert.Equal(t, "RuleName", e.Data[0].Name, "event %d", i)
				assert.Equal(t, strings.Count(string(MarshalEventXML(e)), "<Data "), len(e.Data))
			}
		})
	}
}

func TestReadXMLPythonEvtxValues(t *testing.T) {
	p := filepath.Join(reftest.Dir(t), "telemetry", "sbousseaden_sysmon_3_10_Invoke-Mimikatz_hosted_Github.xml")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	events, err := readBack(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Len(t, events, 2)
	e := events[0]
	assert.Equal(t, 3, e.EventID)
	assert.Equal(t, 5, e.Version)
	assert.Equal(t, uint64(10272), e.RecordID)
	assert.Equal(t, 1960, e.ExecutionPID)
	assert.Equal(t, 132, e.ExecutionTID)
	assert.Equal(t, "IEWIN7", e.Computer)
	assert.Equal(t, time.Date(2019, 5, 2, 14, 48, 53, 950750000, time.UTC), e.TimeCreated)
	require.Len(t, e.Data, 18)
	assert.Equal(t, event.Field{Name: "RuleName", Value: ""}, e.Data[0])
	assert.Equal(t, event.Field{Name: "DestinationIp", Value: "151.101.36.133"}, e.Data[14])
	assert.Equal(t, event.Field{Name: "DestinationPortName", Value: "https"}, e.Data[17])
	assert.Equal(t, 10, events[1].EventID)
	v, _ := events[1].Get("CallTrace")
	assert.Equal(t, `C:\Windows\SYSTEM32\ntdll.dll+4595c|C:\Windows\system32\KERNELBASE.dll+8185`, v)
}

func TestXMLRoundTrip(t *testing.T) {
	want := codecTestEvents()
	var first bytes.Buffer
	require.NoError(t, WriteXML(&first, want))

	got, err := readBack(bytes.NewReader(first.Bytes()))
	require.NoError(t, err)
	require.Equal(t, want, got)

	var second bytes.Buffer
	require.NoError(t, WriteXML(&second, got))
	assert.Equal(t, first.String(), second.String())
	again, err := readBack(&second)
	require.NoError(t, err)
	assert.Equal(t, want, again)

	// One event per line between the declaration/<Events> and </Events>.
	lines := strings.Split(strings.TrimSuffix(first.String(), "\n"), "\n")
	require.Len(t, lines, len(want)+3)
	assert.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>`, lines[0])
	assert.Equal(t, "<Events>", lines[1])
	assert.Equal(t, "</Events>", lines[len(lines)-1])
	for i, l := range lines[2 : len(lines)-1] {
		assert.Equal(t, string(MarshalEventXML(want[i])), l)
	}
}

func TestMarshalEventXMLShape(t *testing.T) {
	events := codecTestEvents()
	tests := []struct {
		name  string
		event event.Event
		want  []string
	}{
		{"empty value is an open/close pair", events[0], []string{`<Data Name='CurrentDirectory'></Data>`}},
		{"text escaping keeps quotes literal", events[0], []string{
			`<Computer>ws-01&amp;&lt;lab&gt;'"</Computer>`,
			`<Data Name='CommandLine'>cmd /c "echo a &amp; b" &lt;in &gt;out 'q'</Data>`,
		}},
		{"non-ASCII stays UTF-8", events[0], []string{`C:\Users\Jörg\AppData`}},
		{"UserID set", events[0], []string{`<Security UserID='S-1-5-18'/>`}},
		{"UserID empty", events[1], []string{`<Computer>ar-win-1</Computer><Security/></System>`}},
		{"apostrophe in attribute", events[2], []string{`<Security UserID='S-1-5-21-1&amp;&apos;2"'/>`}},
		{"newlines as references", events[2], []string{"line1&#xD;&#xA;line2&#xA;\tindented&#xD;end"}},
		{"nine fractional digits", events[0], []string{`<TimeCreated SystemTime='2024-05-01T12:30:45.123456700Z'/>`}},
		{"zero fraction kept", events[2], []string{`SystemTime='2024-01-02T03:04:05.000000000Z'`}},
		{"no Guid", events[3], []string{`<Provider Name='EventLog'/>`, `<EventData></EventData>`}},
		{"max uint64 record", events[1], []string{`<EventRecordID>18446744073709551615</EventRecordID>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(MarshalEventXML(tt.event))
			assert.NotContains(t, got, "\n")
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
		})
	}
}

func TestMarshalEventXMLInvalidCharacters(t *testing.T) {
	e := event.Event{Channel: "c", Data: []event.Field{{Name: "X", Value: "a\x00b\x1bc\xffd\uFFFEe"}}}
	got, err := readBack(bytes.NewReader(MarshalEventXML(e)))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "a\uFFFDb\uFFFDc\uFFFDd\uFFFDe", got[0].Data[0].Value)
}

func TestWriteXMLGolden(t *testing.T) {
	events := codecTestEvents()
	events[1].Data[1].Value = `"C:\Program Files\Git\cmd\git.exe" clone https://example.com/a&b`
	var buf bytes.Buffer
	require.NoError(t, WriteXML(&buf, events))
	codecGolden(t, "events.golden.xml", buf.Bytes())
}

func TestReadXMLForms(t *testing.T) {
	const ns = `xmlns="http://schemas.microsoft.com/win/2004/08/events/event"`
	tests := []struct {
		name string
		in   string
		want []event.Event
	}{
		{"empty", "", nil},
		{"blank", " \n\t", nil},
		{"empty Events", "<?xml version='1.0'?><Events></Events>", nil},
		{"self-closing Data and double quotes", `<Event ` + ns + `><System><EventID Qualifiers="">7</EventID></System>` +
			`<EventData><Data Name="A"/><Data Name="B">x</Data></EventData></Event>`,
			[]event.Event{{EventID: 7, Data: []event.Field{{Name: "A", Value: ""}, {Name: "B", Value: "x"}}}}},
		{"whitespace and unknown elements", "<Events>\n <Event>\n  <System>\n   <EventID>1</EventID>\n" +
			"   <Correlation ActivityID='{X}'/>\n  </System>\n  <EventData>\n   <Data Name='A'> v </Data>\n" +
			"   <ComplexData>00</ComplexData>\n  </EventData>\n  <RenderingInfo Culture='en-US'><Message>m</Message></RenderingInfo>\n" +
			" </Event>\n</Events>\n",
			[]event.Event{{EventID: 1, Data: []event.Field{{Name: "A", Value: " v "}}}}},
		{"BOM and XML 1.1 declaration", "\xef\xbb\xbf<?xml version = '1.1' ?><Events><Event><System>" +
			"<TimeCreated SystemTime='2019-05-02 14:48:53'/></System></Event></Events>",
			[]event.Event{{TimeCreated: time.Date(2019, 5, 2, 14, 48, 53, 0, time.UTC)}}},
		{"character references", "<Event><System><Computer>a&#174;&#xA;b</Computer></System></Event>",
			[]event.Event{{Computer: "a®\nb"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBack(strings.NewReader(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadXMLErrors(t *testing.T) {
	good := string(MarshalEventXML(codecTestEvents()[0]))
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"truncated", "<Events>\n" + good + "\n" + good[:200], []string{"input:3:", "event 2", "unexpected EOF"}},
		{"Events not closed", "<Events>\n" + good + "\n", []string{"input:3:", "EOF"}},
		{"not events", "<html><body/></html>", []string{"input:1:2:", "unexpected element <html>"}},
		{"text outside", "<Events>junk</Events>", []string{"unexpected text"}},
		{"bad EventID", "<Event><System><EventID>x1</EventID></System></Event>", []string{"event 1", `EventID: invalid number "x1"`}},
		{"bad time", "<Event><System><TimeCreated SystemTime='yesterday'/></System></Event>", []string{`invalid SystemTime "yesterday"`}},
		{"bad pid", "<Event><System><Execution ProcessID='-' ThreadID='1'/></System></Event>", []string{"Execution/@ProcessID"}},
		{"mismatched tag", "<Event><System></Event>", []string{"input:1:16:", "closed by"}},
		{"UTF-16", "<?xml version='1.0' encoding='UTF-16'?><Events/>", []string{"UTF-16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBack(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Nil(t, got)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// sysmonBenchEvents returns n events shaped like Sysmon EID 1 (23 fields,
// schema 4.81).
func sysmonBenchEvents(n int) []event.Event {
	events := make([]event.Event, n)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range events {
		pid := strconv.Itoa(4000 + i)
		events[i] = event.Event{
			Provider: event.Sysmon, EventID: 1, Version: 5, Level: 4, Task: 1,
			Keywords: "0x8000000000000000", TimeCreated: t0.Add(time.Duration(i) * time.Millisecond),
			RecordID: uint64(i + 1), ExecutionPID: 2912, ExecutionTID: 3424,
			Channel: event.SysmonChannel, Computer: "ws-01.corp.local", UserID: "S-1-5-18",
			RunID: "run-1",
			Data: []event.Field{
				{Name: "RuleName", Value: "-"},
				{Name: "UtcTime", Value: "2024-05-01 12:00:00.000"},
				{Name: "ProcessGuid", Value: "{96128EA2-F212-5F7E-E400-000000007F01}"},
				{Name: "ProcessId", Value: pid},
				{Name: "Image", Value: `C:\Windows\System32\cmd.exe`},
				{Name: "FileVersion", Value: "10.0.14393.0 (rs1_release.160715-1616)"},
				{Name: "Description", Value: "Windows Command Processor"},
				{Name: "Product", Value: "Microsoft® Windows® Operating System"},
				{Name: "Company", Value: "Microsoft Corporation"},
				{Name: "OriginalFileName", Value: "Cmd.Exe"},
				{Name: "CommandLine", Value: `"C:\Windows\system32\cmd.exe" /c "reg save HKLM\sam %temp%\sam & reg save HKLM\system %temp%\system"`},
				{Name: "CurrentDirectory", Value: `C:\Users\ADMINI~1\AppData\Local\Temp\`},
				{Name: "User", Value: `CORP\Administrator`},
				{Name: "LogonGuid", Value: "{96128EA2-F210-5F7E-ACD4-080000000000}"},
				{Name: "LogonId", Value: "0x8d4ac"},
				{Name: "TerminalSessionId", Value: "0"},
				{Name: "IntegrityLevel", Value: "High"},
				{Name: "Hashes", Value: "MD5=F4F684066175B77E0C3A000549D2922C,SHA256=935C1861DF1F4018D698E8B65ABFA02D7E9037D8F68CA3C2065B6CA165D44AD2,IMPHASH=3062ED732D4B25D1C64F084DAC97D37A"},
				{Name: "ParentProcessGuid", Value: "{96128EA2-F211-5F7E-DF00-000000007F01}"},
				{Name: "ParentProcessId", Value: "4624"},
				{Name: "ParentImage", Value: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`},
				{Name: "ParentCommandLine", Value: `"powershell.exe" -noninteractive -encodedcommand WwBDAG8AbgBzAG8AbABlAF0AOgA6AEkAbgBwAHUAdABFAG4AYwBvAGQAaQBuAGcA`},
				{Name: "ParentUser", Value: `CORP\Administrator`},
			},
		}
	}
	return events
}

func BenchmarkWriteXML(b *testing.B) {
	events := sysmonBenchEvents(10000)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteXML(discardWriter{}, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

// discardWriter is io.Discard without the ReadFrom shortcut, so the
// benchmark measures rendering plus ordinary Write calls.
type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
