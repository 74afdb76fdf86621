package spl

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t1567001/harness/internal/reftest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sysmonSourcetype = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"

var seedTable = []string{"_time", "host", "User", "Image", "CommandLine", "ParentImage", "ParentCommandLine", "DestinationHostname", "Signal", "IsCISystem", "IsKnownIDE", "SuspicionScore"}

// sysmon builds a Sysmon event as the Splunk add-on indexes it.
func sysmon(eid, host string, fields ...string) Event {
	ev := Event{"index": "wineventlog", "sourcetype": sysmonSourcetype, "EventCode": eid, "host": host, "_time": "1700000000", "User": `CORP\alice`}
	for i := 0; i+1 < len(fields); i += 2 {
		ev[fields[i]] = fields[i+1]
	}
	return ev
}

const gitExe = `C:\Program Files\Git\mingw64\bin\git.exe`

func TestSeedQuery(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)

	tests := []struct {
		name   string
		ev     Event
		signal string
		score  float64
		fires  bool
	}{
		{"EID 3 git.exe to api.github.com on a workstation", sysmon("3", "WS-FINANCE-07", "Image", gitExe, "DestinationHostname", "api.github.com", "ParentImage", `C:\Windows\System32\cmd.exe`), "NetworkConnectionToCodeRepo", 2, true},
		{"EID 3 from a CI host scores 0 and is filtered", sysmon("3", "jenkins-agent-3", "Image", gitExe, "DestinationHostname", "api.github.com"), "", 0, false},
		{"EID 1 curl gist POST", sysmon("1", "WS-FINANCE-07", "Image", `C:\Windows\System32\curl.exe`, "CommandLine", `curl.exe -X POST https://api.github.com/gists -d @secrets.json`), "CodeRepoAPIUpload", 3, true},
		{"EID 1 git push --force", sysmon("1", "WS-FINANCE-07", "Image", gitExe, "CommandLine", `git push --force https://github.com/x/y.git`), "GitPushExternal", 3, true},
		{"EID 3 from VS Code scores 1 and is filtered", sysmon("3", "WS-DEV-01", "Image", gitExe, "DestinationHostname", "github.com", "ParentImage", `C:\Users\bob\AppData\Local\Programs\Microsoft VS Code\Code.exe`), "", 0, false},
		{"git-remote-https.exe is not git.exe", sysmon("3", "WS-FINANCE-07", "Image", `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`, "DestinationHostname", "github.com"), "", 0, false},
		{"search values are case-insensitive", sysmon("3", "WS-FINANCE-07", "Image", strings.ToUpper(gitExe), "DestinationHostname", "API.GITHUB.COM"), "NetworkConnectionToCodeRepo", 2, true},
		{"wrong sourcetype", func() Event {
			e := sysmon("3", "WS-1", "Image", gitExe, "DestinationHostname", "github.com")
			e["sourcetype"] = "WinEventLog:Security"
			return e
		}(), "", 0, false},
		{"EID 11 never fires", sysmon("11", "WS-1", "Image", gitExe, "TargetFilename", `C:\github.com\push`), "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := q.Run([]Event{tc.ev})
			require.NoError(t, err)
			if !tc.fires {
				assert.Empty(t, rows, "explanation:\n%s", q.Explain(tc.ev))
				return
			}
			require.Len(t, rows, 1, "explanation:\n%s", q.Explain(tc.ev))
			assert.Equal(t, seedTable, rows[0].Fields, "table order")
			assert.Equal(t, StringValue(tc.signal), rows[0].Get("Signal"))
			assert.Equal(t, NumberValue(tc.score), rows[0].Get("SuspicionScore"))
			assert.Equal(t, NumberValue(0), rows[0].Get("IsCISystem"))
		})
	}
}

func TestSeedQuerySortAndJSON(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)
	e1 := sysmon("3", "WS-1", "Image", gitExe, "DestinationHostname", "github.com")
	e1["_time"] = "1700000100"
	e2 := sysmon("1", "WS-2", "Image", gitExe, "CommandLine", "git push origin https://gitlab.com/a/b")
	e2["_time"] = "1700000001"
	e3 := sysmon("1", "WS-3", "Image", `C:\Python\python.exe`, "CommandLine", "python.exe -c requests.put('https://api.github.com/repos/a/b/contents/x')")
	e3["_time"] = "1700000002"
	rows, err := q.Run([]Event{e1, e2, e3})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	// sort - SuspicionScore - _time: score 3 first, newest first within a score.
	assert.Equal(t, "WS-3", rows[0].Get("host").String())
	assert.Equal(t, "WS-2", rows[1].Get("host").String())
	assert.Equal(t, "WS-1", rows[2].Get("host").String())
	b, err := json.Marshal(rows[2])
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), `{"_time":"1700000100","host":"WS-1","User":"CORP\\alice","Image":`), string(b))
	assert.Contains(t, string(b), `"CommandLine":null`)
	assert.True(t, strings.HasSuffix(string(b), `"Signal":"NetworkConnectionToCodeRepo","IsCISystem":0,"IsKnownIDE":0,"SuspicionScore":2}`), string(b))
}

func TestExplainSeed(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)
	ev := sysmon("3", "WS-FINANCE-07", "Image", `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`, "DestinationHostname", "github.com")
	x := q.Explain(ev)
	require.NotNil(t, x.Search)
	assert.False(t, x.Kept)
	assert.False(t, x.Search.Matched)
	assert.Equal(t, "AND", x.Search.Op)
	var git *Trace
	for _, l := range x.Search.Leaves() {
		if l.Text == `Image="*\\git.exe"` && git == nil {
			git = l
		}
	}
	require.NotNil(t, git)
	assert.False(t, git.Matched)
	assert.Equal(t, "Image", git.Field)
	assert.Equal(t, []string{`*\git.exe`}, git.Patterns)
	assert.Equal(t, ev["Image"], git.Actual)
	assert.Equal(t, 4, git.Line)
	s := x.String()
	assert.Contains(t, s, `[no] Image="*\\git.exe": Image is "C:\Program Files`)
	assert.Contains(t, s, `[ok] DestinationHostname="github.com"`)

	// Score 1: the search matched, where dropped it; the stages say why.
	ide := sysmon("3", "WS-DEV-01", "Image", gitExe, "DestinationHostname", "github.com", "ParentImage", `C:\VS Code\Code.exe`)
	x = q.Explain(ide)
	assert.True(t, x.Search.Matched)
	assert.False(t, x.Kept)
	last := x.Stages[len(x.Stages)-1]
	assert.Equal(t, "where SuspicionScore >= 2", last.Command)
	prev := x.Stages[len(x.Stages)-2]
	assert.Equal(t, []FieldValue{{"SuspicionScore", NumberValue(1)}}, prev.Set)
}

// ---- recorded samples ----

type xmlEvent struct {
	System struct {
		EventID  string `xml:"EventID"`
		Computer string `xml:"Computer"`
		Channel  string `xml:"Channel"`
		Time     struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
	} `xml:"System"`
	Data []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"EventData>Data"`
}

// xmlEvents converts Windows Event XML into Events as the Splunk add-on
// would index them (test-only; the telemetry package owns real readers).
func xmlEvents(t *testing.T, path string) []Event {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	var out []Event
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Event" {
			continue
		}
		var x xmlEvent
		require.NoError(t, dec.DecodeElement(&x, &se), path)
		ev := Event{"index": "wineventlog", "sourcetype": sysmonSourcetype, "EventCode": x.System.EventID, "host": x.System.Computer, "_time": x.System.Time.SystemTime}
		for _, d := range x.Data {
			ev[d.Name] = d.Value
		}
		out = append(out, ev)
	}
	return out
}

func TestSeedQueryOnRecordedSamples(t *testing.T) {
	dir := reftest.Dir(t, "telemetry", "splunk_data_sources_example_log")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	require.NoError(t, err)
	require.Len(t, files, 5, "the five Splunk data-source samples")
	var events []Event
	for _, f := range files {
		events = append(events, xmlEvents(t, f)...)
	}
	require.GreaterOrEqual(t, len(events), len(files))

	q, err := Parse(seedQuery)
	require.NoError(t, err)
	rows, err := q.Run(events)
	require.NoError(t, err)
	assert.Empty(t, rows, "none of the samples is code-repository traffic")

	// The converter and the engine do see the data: EventCode=1 finds the EID 1 sample.
	q1, err := Parse("EventCode=1")
	require.NoError(t, err)
	rows, err = q1.Run(events)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, `C:\Windows\System32\cmd.exe`, rows[0].Get("Image").String())
}
