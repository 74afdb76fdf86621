package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

func three() *int { n := 3; return &n }

// sampleEvents are the process creations rendered for sample()'s first
// atomic on one host: powershell.exe started from Explorer, and the
// replay child standing in for it.
func sampleEvents() []event.Event {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	proc := func(at time.Duration, guid, pid, image, cmd, parentGUID, parentImage string, prov event.Provenance) event.Event {
		return event.Event{Provider: event.Sysmon, EventID: 1, Computer: "WS-0042.corp.example", TimeCreated: t0.Add(at), Provenance: prov,
			Data: []event.Field{{Name: "ProcessGuid", Value: guid}, {Name: "ProcessId", Value: pid}, {Name: "Image", Value: image},
				{Name: "CommandLine", Value: cmd}, {Name: "ParentProcessGuid", Value: parentGUID}, {Name: "ParentProcessId", Value: "4012"},
				{Name: "ParentImage", Value: parentImage}, {Name: "ParentCommandLine", Value: `C:\Windows\Explorer.EXE`}}}
	}
	evs := []event.Event{
		proc(0, "{a}", "5004", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -Command "Invoke-RestMethod -Method PUT"`, "{explorer}", `C:\Windows\explorer.exe`, event.Declared),
		proc(25*time.Millisecond, "{b}", "5008", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe (replayed request)`, "{a}", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, event.Simulated),
	}
	// The replay child's event names its observation, at another moment
	// than the exec step's: the tree joins them by the id.
	evs[1].Observations = []string{"obs-2"}
	return evs
}

func sample() *Results {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return &Results{
		RunID: "run-1", Mode: "local", Started: t0, Ended: t0.Add(time.Second),
		Atomics: []Atomic{
			{Name: "PowerShell PUT", GUID: "g-1", Started: t0, Ended: t0.Add(500 * time.Millisecond), Execution: "simulated", SimulationReason: "pwsh is not installed", ExitCode: 0, Intact: true,
				Staged: []Staged{{Name: "finance_q3.csv", Size: 10, SHA256: strings.Repeat("a", 64), Arrived: true}},
				Requests: []Request{{Time: t0.Add(40 * time.Millisecond), Host: "api.github.com", Method: "CONNECT", Path: "api.github.com:443", Status: 200},
					{Time: t0.Add(60 * time.Millisecond), Host: "api.github.com", Method: "PUT", Path: "/repos/o/r/contents/f", Status: 201, BytesReceived: 99,
						UserAgent: "Mozilla/5.0 (Windows NT; Windows NT 10.0) WindowsPowerShell/5.1", AuthScheme: "token",
						Files: []File{{Name: "finance_q3.csv", Size: 10, SHA256: strings.Repeat("a", 64)}}}},
				Uploads: []Upload{{Host: "api.github.com", Method: "PUT", Path: "/repos/o/r/contents/f", File: "finance_q3.csv", Size: 10, SHA256: strings.Repeat("a", 64), Intact: true}},
				Steps: []Step{{Time: t0, Kind: "exec", PID: 7, Text: "pid 7 starts <sh> & friends"},
					{Time: t0.Add(20 * time.Millisecond), Kind: "exec", PID: 8, Text: "pid 8 (child of 7) starts /usr/local/bin/harness replay-http PUT", Observation: "obs-2"},
					{Time: t0.Add(30 * time.Millisecond), Kind: "dns", PID: 8, Text: "pid 8 asks DNS for api.github.com (A)"},
					{Time: t0.Add(40 * time.Millisecond), Kind: "connect", PID: 8, Text: "pid 8 connects from 127.0.0.1:40000 to 127.0.0.1:3128 (ok), asking for api.github.com"},
					{Time: t0.Add(60 * time.Millisecond), Kind: "request", Text: "the mock receives PUT api.github.com/repos/o/r/contents/f -> 201"},
					{Time: t0.Add(90 * time.Millisecond), Kind: "file", PID: 8, Text: "pid 8 writes response.json"}}},
			{Name: "curl gist", GUID: "g-3", Started: t0.Add(500 * time.Millisecond), Ended: t0.Add(time.Second), Execution: "executed", ExitCode: 22, Stderr: "curl: (22) 403",
				Staged: []Staged{{Name: "stolen_creds.txt", Size: 5, SHA256: strings.Repeat("b", 64)}}},
		},
		Verdicts: []validate.Verdict{
			{Atomic: "PowerShell PUT", Context: "workstation", Rule: "seed", Expected: validate.Outcome{Fires: true, Signal: "CodeRepoAPIUpload", Score: three()},
				Actual: validate.Actual{Fires: true, Rows: []validate.Row{{Fields: []string{"Signal", "SuspicionScore"}, Values: []string{"CodeRepoAPIUpload", "3"}}}}, Pass: true,
				RestsOn: []event.Provenance{event.Simulated}, Accepts: []string{"simulated"}},
			{Atomic: "curl gist", Context: "ide", Rule: "seed", Expected: validate.Outcome{Fires: true, Signal: "NetworkConnectionToCodeRepo"},
				Actual: validate.Actual{Rows: []validate.Row{}}, Explanation: `Image="*\\curl.exe" <missing> & more`, Why: "curl connects"},
			{Atomic: "curl gist", Context: "ide", Rule: "net", Expected: validate.Outcome{Fires: true}, Pass: true,
				Actual: validate.Actual{Fires: true, Rows: []validate.Row{{Fields: []string{"rule_id"}, Values: []string{"x"}}}},
				Intent: &validate.Outcome{Fires: false}, Gap: "ParentImage is absent on Sysmon 3", RestsOn: []event.Provenance{event.Observed}},
		},
	}
}

// junitDoc reads back what WriteJUnit writes.
type junitDoc struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Time     string `xml:"time,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func (d junitDoc) prop(suite int, name string) string {
	for _, p := range d.Suites[suite].Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, sample()))
	validateJUnit(t, buf.Bytes())
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), buf.String())
	assert.Equal(t, 5, doc.Tests, "one case per staged file and one per expectation")
	assert.Equal(t, 2, doc.Failures, "the file that did not arrive, and the failed expectation")
	assert.Equal(t, "1.000", doc.Time)
	require.Len(t, doc.Suites, 5, "two deliveries, three (context, rule, atomic) groups")

	ps := doc.Suites[0]
	assert.Equal(t, "delivery :: PowerShell PUT", ps.Name)
	assert.Equal(t, "2026-11-23T10:00:00", ps.Timestamp)
	assert.Equal(t, "0.500", ps.Time)
	require.Len(t, ps.Cases, 1)
	assert.Equal(t, "PowerShell PUT :: finance_q3.csv arrived intact", ps.Cases[0].Name)
	assert.Nil(t, ps.Cases[0].Failure)
	assert.Equal(t, "run-1", doc.prop(0, "run_id"))
	assert.Equal(t, "true", doc.prop(0, "simulated"))

	curl := doc.Suites[1]
	require.NotNil(t, curl.Cases[0].Failure)
	assert.Contains(t, curl.Cases[0].Failure.Message, "did not arrive intact")

	ws := doc.Suites[2]
	assert.Equal(t, "workstation :: seed :: PowerShell PUT", ws.Name)
	assert.Equal(t, "workstation", doc.prop(2, "context"))
	assert.Equal(t, "seed", doc.prop(2, "rule"))
	assert.Equal(t, "simulated", doc.prop(2, "provenance"), "a verdict on a simulated test rests on simulated events")
	assert.Equal(t, "nothing", doc.prop(3, "provenance"), "a silent verdict rests on nothing")
	assert.Equal(t, "observed", doc.prop(4, "provenance"))

	ide := doc.Suites[3]
	assert.Equal(t, "ide :: seed :: curl gist", ide.Name)
	require.Len(t, ide.Cases, 1, "rule net is its own suite")
	require.NotNil(t, ide.Cases[0].Failure)
	assert.Equal(t, "expected fires NetworkConnectionToCodeRepo, got silent", ide.Cases[0].Failure.Message)
	assert.Equal(t, `Image="*\\curl.exe" <missing> & more`, ide.Cases[0].Failure.Text, "the explanation, escaped and read back intact")
	assert.Contains(t, ide.Cases[0].SystemOut, "expectation note: curl connects")
}

func TestJUnitGapDoesNotFail(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, sample()))
	assert.Contains(t, buf.String(), `<testsuite name="ide :: net :: curl gist" tests="1" failures="0" errors="0" skipped="0"`)
	assert.Contains(t, buf.String(), "ParentImage is absent on Sysmon 3")
}

func TestJUnitInterruptedRunMarksTheRestAsErrors(t *testing.T) {
	r := sample()
	r.Atomics[1].Interrupted = true
	r.Atomics[1].Execution = "executed"
	r.Verdicts[1].Explanation = "no telemetry"
	r.Unfinished = []Unfinished{{Name: "Python PUT", GUID: "g-4", Reason: "context canceled"}}
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, r))
	validateJUnit(t, buf.Bytes())
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, 0, doc.Failures, "an interrupted test does not fail, it errs")
	assert.Equal(t, 3, doc.Errors, "the interrupted file, the interrupted verdict, the test never started")
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
	}
	assert.Contains(t, names, "delivery :: Python PUT")
	assert.Contains(t, buf.String(), `<error message="the run ended before this test started: context canceled" type="interrupted">`)
}

func TestJUnitTimeoutIsAnErrorNamingTheLimit(t *testing.T) {
	r := sample()
	r.Atomics[1].TimedOut = true
	r.Atomics[1].Timeout = time.Millisecond
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, r))
	assert.Contains(t, buf.String(), `<error message="timed out after 1ms before the file arrived" type="timeout">`)
	assert.Contains(t, buf.String(), `<error message="the test timed out after 1ms" type="timeout">`)
}

func TestTextIsHonestAboutSimulationAndFailures(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, sample(), TextOptions{}))
	require.NoError(t, WriteVerdicts(&buf, sample(), TextOptions{}))
	out := buf.String()
	assert.Contains(t, out, "SIMULATED (not a real run of the tool): pwsh is not installed")
	assert.Contains(t, out, "CONNECT api.github.com:443 -> 200")
	assert.Contains(t, out, "PUT     api.github.com/repos/o/r/contents/f -> 201, 99 bytes")
	assert.Contains(t, out, "arrived intact")
	assert.Contains(t, out, "DID NOT ARRIVE INTACT")
	assert.Contains(t, out, "stderr: curl: (22) 403")
	assert.Contains(t, out, "1 of 2 atomics delivered every staged file intact")
	assert.Contains(t, out, "2 of 3 expectations hold")
	assert.Contains(t, out, "FAIL ide / curl gist / seed")
	assert.Contains(t, out, "GAP in rule net: 1 case(s) where it cannot do what its author meant\n  - the author meant silent\n    ParentImage is absent on Sysmon 3\n    in ide / curl gist (the rule fires (1 match(es)))")
}

func TestHTMLEscapesAndShowsEverything(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, sample(), sampleEvents()))
	out := buf.String()
	assert.Contains(t, out, "SIMULATED")
	assert.Contains(t, out, "pid 7 starts &lt;sh&gt; &amp; friends", "step text is escaped")
	assert.NotContains(t, out, "<sh>")
	assert.Contains(t, out, "2 of 3 expectations hold")
	assert.Contains(t, out, "ParentImage is absent on Sysmon 3")
}

func TestHTMLFailuresNameTheRealCause(t *testing.T) {
	r := sample()
	r.Atomics[1].TimedOut, r.Atomics[1].Timeout = true, time.Millisecond
	r.Atomics = append(r.Atomics, Atomic{Name: "pwsh only", Execution: "not-run", MissingPrereqs: []string{"pwsh is not installed"}})
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, r, nil))
	out := buf.String()
	assert.Contains(t, out, `<h3><a href="#atomic-2">Timed out after 1ms: curl gist</a></h3>`)
	assert.Contains(t, out, `<h3><a href="#atomic-2">Expectation failed (the test timed out after 1ms): ide / curl gist / seed`)
	assert.Contains(t, out, `<h3><a href="#atomic-3">Missing prerequisite (pwsh is not installed): pwsh only</a></h3>`)
	assert.Less(t, strings.Index(out, `id="failures"`), strings.Index(out, `id="atomic-1"`), "failures first")
}

func TestLayer(t *testing.T) {
	r := sample()
	r.Atomics[0].Technique, r.Atomics[1].Technique = "T1567.001", "T1567.001"
	raw, err := json.Marshal(Layer(r))
	require.NoError(t, err)
	validateLayer(t, raw)
	var l struct {
		Domain     string `json:"domain"`
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
			Tactic      string `json:"tactic"`
			Score       int    `json:"score"`
			Comment     string `json:"comment"`
			Metadata    []struct{ Name, Value string }
		} `json:"techniques"`
	}
	require.NoError(t, json.Unmarshal(raw, &l))
	assert.Equal(t, "enterprise-attack", l.Domain)
	require.Len(t, l.Techniques, 2, "the sub-technique and its parent")
	sub, parent := l.Techniques[0], l.Techniques[1]
	assert.Equal(t, "T1567.001", sub.TechniqueID)
	assert.Equal(t, "exfiltration", sub.Tactic)
	assert.Equal(t, 100, sub.Score, "a rule fires in both cells of the coverage")
	lines := strings.Split(sub.Comment, "\n")
	require.Len(t, lines, 3, "a summary, the simulated share, then one line per gap")
	assert.Equal(t, "1 rest only on simulated events (a replay stood in for a missing tool), not on a real run", lines[1])
	lines = append(lines[:1], lines[2:]...)
	assert.Equal(t, "rules fire in 2 of 2 atomic x context cells; 2 of 3 expectations hold (net, seed)", lines[0])
	assert.Equal(t, "gap in rule net: it cannot do what its author meant in 1 case(s): ide/curl gist", lines[1])
	assert.Equal(t, []struct{ Name, Value string }{{"gap net", "ide/curl gist"}}, sub.Metadata)
	assert.Equal(t, "T1567", parent.TechniqueID)
	assert.Equal(t, 100, parent.Score)
}

func TestLayerScoresFromCoverage(t *testing.T) {
	r := sample()
	r.Verdicts[0].Actual = validate.Actual{Rows: []validate.Row{}}
	raw, err := json.Marshal(Layer(r))
	require.NoError(t, err)
	validateLayer(t, raw)
	assert.Contains(t, string(raw), `"score":50`, "a rule fires in one of two cells")
}

func TestLayerSchemaRejectsABrokenLayer(t *testing.T) {
	for name, layer := range map[string]string{
		"no domain":        `{"name":"x","versions":{"navigator":"5.1.0","layer":"4.5"}}`,
		"wrong layer":      `{"name":"x","domain":"enterprise-attack","versions":{"navigator":"5.1.0","layer":"4.4"}}`,
		"bad technique id": `{"name":"x","domain":"enterprise-attack","versions":{"navigator":"5.1.0","layer":"4.5"},"techniques":[{"techniqueID":"1567"}]}`,
		"misspelt field":   `{"name":"x","domain":"enterprise-attack","versions":{"navigator":"5.1.0","layer":"4.5"},"techniques":[{"techniqueID":"T1567","scor":1}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, layerSchema(t).Validate(mustJSON(t, layer)))
		})
	}
}

func TestAllIntactAndAllPass(t *testing.T) {
	r := sample()
	assert.False(t, r.AllIntact())
	assert.False(t, r.AllPass())
	assert.False(t, (&Results{}).AllIntact(), "no atomic ran: nothing arrived")
	assert.True(t, (&Results{}).AllPass())
}

func TestCoverage(t *testing.T) {
	m := Coverage(sample())
	assert.Equal(t, []string{"PowerShell PUT", "curl gist"}, m.Atomics)
	assert.Equal(t, []string{"ide", "workstation"}, m.Contexts)
	ws := m.Cells["PowerShell PUT"]["workstation"]
	require.NotNil(t, ws)
	assert.Equal(t, []string{"seed: CodeRepoAPIUpload"}, ws.Firing)
	assert.Equal(t, 1, ws.Pass)
	ide := m.Cells["curl gist"]["ide"]
	require.NotNil(t, ide)
	assert.Equal(t, []string{"net"}, ide.Firing, "a rule without Signal fires by name")
	assert.Equal(t, 1, ide.Pass)
	assert.Equal(t, 2, ide.Total)
	assert.Equal(t, 1, ide.Gaps)
	assert.Nil(t, m.Cells["PowerShell PUT"]["ide"])
}

func TestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, sample()))
	out := buf.String()
	assert.Contains(t, out, "## ❌ ATT&CK T1567.001 harness run `run-1` (local)")
	assert.Contains(t, out, "1 of 2 atomics delivered every staged file intact; 2 of 3 expectations hold; 1 gap(s)")
	assert.Contains(t, out, "**PowerShell PUT** was *simulated*: pwsh is not installed")
	assert.Contains(t, out, "| atomic | ide | workstation |")
	assert.Contains(t, out, "### ❌ ide / curl gist / `seed`")
	assert.Contains(t, out, "<summary>gap: ide / curl gist / <code>net</code>: the author meant silent</summary>")
	assert.Equal(t, `a \| b c`, mdCell("a | b\nc"))
}

// Every output marks the verdicts of the simulated atomic as simulated,
// and says what each verdict rests on.
func TestEveryWriterMarksASimulatedAtomic(t *testing.T) {
	write := func(f func(*bytes.Buffer, *Results) error) string {
		var buf bytes.Buffer
		require.NoError(t, f(&buf, sample()))
		return buf.String()
	}
	t.Run("junit", func(t *testing.T) {
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteJUnit(b, r) })
		assert.Contains(t, out, `name="PowerShell PUT :: seed :: fires CodeRepoAPIUpload/3 [simulated]"`)
		assert.Contains(t, out, `<property name="provenance" value="simulated"></property>`)
		assert.Contains(t, out, `<property name="provenance" value="nothing"></property>`, "a silent verdict rests on nothing")
	})
	t.Run("verdict table", func(t *testing.T) {
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteVerdicts(b, r, TextOptions{}) })
		assert.Regexp(t, `PowerShell PUT\n\s+pass\s+workstation\s+seed\s+fires CodeRepoAPIUpload/3\s+-> fires CodeRepoAPIUpload/3, rests on simulated`, out)
		assert.Contains(t, out, "expectation note: curl connects", "the hand-written note, apart from the explanation")
	})
	t.Run("coverage matrix", func(t *testing.T) {
		m := Coverage(sample())
		assert.Equal(t, []string{"simulated"}, m.Cells["PowerShell PUT"]["workstation"].RestsOn)
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteVerdicts(b, r, TextOptions{}) })
		assert.Contains(t, out, "seed: CodeRepoAPIUpload (rests on simulated)")
	})
	t.Run("html", func(t *testing.T) {
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteHTML(b, r, sampleEvents()) })
		assert.Contains(t, out, `<span class="prov prov-simulated" title="the provenance of the events its firing rows rest on">rests on simulated</span>`)
		assert.Contains(t, out, `fires (sim)`, "the grid marks a cell that fires on simulated events only")
	})
	t.Run("markdown", func(t *testing.T) {
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteMarkdown(b, r) })
		assert.Contains(t, out, "rests on simulated")
		assert.Contains(t, out, "**PowerShell PUT** was *simulated*")
	})
	t.Run("results.json", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, WriteJSON(dir, "results.json", sample()))
		data, err := os.ReadFile(filepath.Join(dir, "results.json"))
		require.NoError(t, err)
		assert.Contains(t, string(data), `"rests_on": [
        "simulated"
      ]`)
		assert.Contains(t, string(data), `"execution": "simulated"`)
	})
	t.Run("layer.json", func(t *testing.T) {
		layer := Layer(sample())
		tech := layer["techniques"].([]map[string]any)[0]
		assert.Contains(t, tech["comment"], "1 rest only on simulated events")
	})
}

func TestGapsGroupedByRule(t *testing.T) {
	silent := &validate.Outcome{}
	gap := func(ctx, rule, why, text string) validate.Verdict {
		return validate.Verdict{Atomic: "a", Context: ctx, Rule: rule, Pass: true, Intent: silent, Why: why, Gap: text,
			Actual: validate.Actual{Fires: true, Rows: []validate.Row{{}}}}
	}
	groups := gapGroups([]validate.Verdict{
		gap("ide", "seed", "no ParentImage on Sysmon 3", "row on WS-1"),
		gap("workstation", "seed", "no ParentImage on Sysmon 3", "row on WS-2"),
		gap("build-agent", "seed", "BLD0042 is no CI name", "row on BLD0042"),
		gap("ide", "net", "no ParentImage on Sysmon 3", "row"),
		{Atomic: "a", Context: "ide", Rule: "seed", Pass: true},
	})
	require.Len(t, groups, 2, "one group per rule")
	assert.Equal(t, "net", groups[0].Rule)
	seed := groups[1]
	assert.Equal(t, 3, seed.Cases)
	require.Len(t, seed.Items, 2, "one item per reason")
	assert.Len(t, seed.Items[0].Cases, 2)
	assert.Equal(t, "ide / a (the rule fires (1 match(es)))", seed.Items[0].Cases[0].Where)
	assert.Equal(t, "row on WS-2", seed.Items[0].Cases[1].Gap)
}

func TestJUnitCoverageCasesAreNotJudgedByDelivery(t *testing.T) {
	r := sample()
	r.Atomics[1].Role = "silent"
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, r))
	validateJUnit(t, buf.Bytes())
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, 1, doc.Failures, "only the failed expectation")
	assert.Equal(t, 1, doc.Suites[1].Skipped)
	assert.Contains(t, buf.String(), `<skipped message="a silent case of the coverage matrix: judged there (coverage.html), not by delivery" type="coverage-case">`)
}

func TestHTMLFoldsCoverageCases(t *testing.T) {
	r := sample()
	r.Atomics = append(r.Atomics, Atomic{Name: "benign clone", Role: "silent", Execution: "executed", Staged: []Staged{}})
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, r, nil))
	out := buf.String()
	assert.Contains(t, out, `<details class="case-body"><summary>A silent case of the coverage matrix`)
	assert.NotContains(t, out, `<li><a href="#atomic-3">`, "the contents list the atomics, not each case")
	assert.Contains(t, out, "1 variants and benign look-alikes (folded")
	assert.NotContains(t, out, `<td class="atomic">benign clone</td>`, "no empty grid row for a case without expectations")
	assert.NotContains(t, out, "Not every staged file arrived intact (; exit status 0): benign clone", "a case is no failure")
}

// TestEveryWriterSaysTheSandboxWasOff: a run without the network sandbox
// says so in every output.
func TestEveryWriterSaysTheSandboxWasOff(t *testing.T) {
	r := sample()
	r.Sandbox = "off"
	dir := t.TempDir()
	require.NoError(t, WriteJSON(dir, "results.json", r))
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	layer, err := json.Marshal(Layer(r))
	require.NoError(t, err)
	for name, want := range map[string]struct {
		write func(*bytes.Buffer) error
		mark  string
	}{
		"text":     {func(b *bytes.Buffer) error { return WriteText(b, r, TextOptions{}) }, "sandbox: off"},
		"markdown": {func(b *bytes.Buffer) error { return WriteMarkdown(b, r) }, "sandbox: off"},
		"html":     {func(b *bytes.Buffer) error { return WriteHTML(b, r, nil) }, `sandbox: <b class="sandbox">off</b>`},
		"junit":    {func(b *bytes.Buffer) error { return WriteJUnit(b, r) }, `<property name="sandbox" value="off"></property>`},
		"json":     {func(b *bytes.Buffer) error { _, err := b.Write(data); return err }, `"sandbox": "off"`},
		"layer":    {func(b *bytes.Buffer) error { _, err := b.Write(layer); return err }, `{"name":"sandbox","value":"off"}`},
	} {
		var buf bytes.Buffer
		require.NoError(t, want.write(&buf), name)
		assert.Contains(t, buf.String(), want.mark, name)
	}
}

func TestRequestTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"http", Request{Method: "PUT", Host: "api.github.com", Path: "/repos/a/b/contents/x"}, "api.github.com/repos/a/b/contents/x"},
		{"connect", Request{Method: "CONNECT", Host: "proxy", Path: "api.github.com:443"}, "api.github.com:443"},
		{"ssh command", Request{Method: "SSH", Host: "github.com", Path: "git-receive-pack 'acme/x.git'"}, "github.com git-receive-pack 'acme/x.git'"},
		{"no path", Request{Method: "GET", Host: "github.com"}, "github.com"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.req.Target()) })
	}
}
