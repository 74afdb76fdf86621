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

func sample() *Results {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return &Results{
		RunID: "run-1", Mode: "local", Started: t0, Ended: t0.Add(time.Second),
		Atomics: []Atomic{
			{Name: "PowerShell PUT", Execution: "simulated", SimulationReason: "pwsh is not installed", ExitCode: 0, Intact: true,
				Staged:   []Staged{{Name: "finance_q3.csv", Size: 10, SHA256: strings.Repeat("a", 64), Arrived: true}},
				Requests: []Request{{Host: "api.github.com", Method: "CONNECT", Path: "api.github.com:443", Status: 200}, {Host: "api.github.com", Method: "PUT", Path: "/repos/o/r/contents/f", Status: 201, BytesReceived: 99}},
				Steps:    []Step{{Time: t0, Kind: "exec", PID: 7, Text: "pid 7 starts <sh> & friends"}}},
			{Name: "curl gist", Execution: "executed", ExitCode: 22, Stderr: "curl: (22) 403",
				Staged: []Staged{{Name: "stolen_creds.txt", Size: 5, SHA256: strings.Repeat("b", 64)}}},
		},
		Verdicts: []validate.Verdict{
			{Atomic: "PowerShell PUT", Context: "workstation", Rule: "seed", Expected: validate.Outcome{Fires: true, Signal: "CodeRepoAPIUpload", Score: three()},
				Actual: validate.Actual{Fires: true, Rows: []validate.Row{{Fields: []string{"Signal", "SuspicionScore"}, Values: map[string]string{"Signal": "CodeRepoAPIUpload", "SuspicionScore": "3"}}}}, Pass: true,
				RestsOn: []event.Provenance{event.Simulated}, Accepts: []string{"simulated"}},
			{Atomic: "curl gist", Context: "ide", Rule: "seed", Expected: validate.Outcome{Fires: true, Signal: "NetworkConnectionToCodeRepo"},
				Actual: validate.Actual{Rows: []validate.Row{}}, Explanation: `Image="*\\curl.exe" <missing> & more`, Why: "curl connects"},
			{Atomic: "curl gist", Context: "ide", Rule: "net", Expected: validate.Outcome{Fires: true}, Pass: true,
				Actual: validate.Actual{Fires: true, Rows: []validate.Row{{Fields: []string{"rule_id"}, Values: map[string]string{"rule_id": "x"}}}},
				Intent: &validate.Outcome{Fires: false}, Gap: "ParentImage is absent on Sysmon 3"},
		},
	}
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, sample()))
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), buf.String())
	assert.Equal(t, 3, doc.Tests, "one testcase per atomic x context x rule")
	assert.Equal(t, 1, doc.Failures)
	require.Len(t, doc.Suites, 2, "a suite per context")
	ide := doc.Suites[1]
	require.Len(t, ide.Cases, 2)
	require.NotNil(t, ide.Cases[0].Failure)
	assert.Equal(t, "expected fires NetworkConnectionToCodeRepo, got silent", ide.Cases[0].Failure.Message)
	assert.Equal(t, `Image="*\\curl.exe" <missing> & more`, ide.Cases[0].Failure.Text, "the explanation, escaped and read back intact")
	assert.Nil(t, ide.Cases[1].Failure, "a known gap does not fail CI")
	assert.Contains(t, ide.Cases[1].SystemOut, "ParentImage is absent on Sysmon 3")
}

func TestTextIsHonestAboutSimulationAndFailures(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, sample()))
	require.NoError(t, WriteVerdicts(&buf, sample()))
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
	assert.Contains(t, out, "GAP ide / curl gist / net: the rule's author meant silent; the rule fires (1 match(es))")
}

func TestHTMLEscapesAndShowsEverything(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, sample()))
	out := buf.String()
	assert.Contains(t, out, "SIMULATED")
	assert.Contains(t, out, "pid 7 starts &lt;sh&gt; &amp; friends", "step text is escaped")
	assert.NotContains(t, out, "<sh>")
	assert.Contains(t, out, "2 of 3 expectations hold")
	assert.Contains(t, out, "ParentImage is absent on Sysmon 3")
}

func TestLayer(t *testing.T) {
	raw, err := json.Marshal(Layer(sample()))
	require.NoError(t, err)
	var l struct {
		Domain     string `json:"domain"`
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
			Tactic      string `json:"tactic"`
			Score       int    `json:"score"`
		} `json:"techniques"`
	}
	require.NoError(t, json.Unmarshal(raw, &l))
	assert.Equal(t, "enterprise-attack", l.Domain)
	require.Len(t, l.Techniques, 1)
	assert.Equal(t, "T1567.001", l.Techniques[0].TechniqueID)
	assert.Equal(t, "exfiltration", l.Techniques[0].Tactic)
	assert.Equal(t, 66, l.Techniques[0].Score)
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
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteVerdicts(b, r) })
		assert.Contains(t, out, "RESTS ON")
		assert.Regexp(t, `pass\s+workstation\s+PowerShell PUT\s+seed\s+fires CodeRepoAPIUpload/3\s+fires CodeRepoAPIUpload/3\s+simulated`, out)
		assert.Contains(t, out, "expectation note: curl connects", "the hand-written note, apart from the explanation")
	})
	t.Run("coverage matrix", func(t *testing.T) {
		m := Coverage(sample())
		assert.Equal(t, []string{"simulated"}, m.Cells["PowerShell PUT"]["workstation"].RestsOn)
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteVerdicts(b, r) })
		assert.Contains(t, out, "seed: CodeRepoAPIUpload (rests on simulated)")
	})
	t.Run("html", func(t *testing.T) {
		out := write(func(b *bytes.Buffer, r *Results) error { return WriteHTML(b, r) })
		assert.Contains(t, out, `<td class="sim">simulated</td>`)
		assert.Contains(t, out, "rests on simulated")
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
		"text":     {func(b *bytes.Buffer) error { return WriteText(b, r) }, "sandbox: off"},
		"markdown": {func(b *bytes.Buffer) error { return WriteMarkdown(b, r) }, "sandbox: off"},
		"html":     {func(b *bytes.Buffer) error { return WriteHTML(b, r) }, "sandbox: <b>off</b>"},
		"junit":    {func(b *bytes.Buffer) error { return WriteJUnit(b, r) }, `<property name="sandbox" value="off"></property>`},
		"json":     {func(b *bytes.Buffer) error { _, err := b.Write(data); return err }, `"sandbox": "off"`},
		"layer":    {func(b *bytes.Buffer) error { _, err := b.Write(layer); return err }, `{"name":"sandbox","value":"off"}`},
	} {
		var buf bytes.Buffer
		require.NoError(t, want.write(&buf), name)
		assert.Contains(t, buf.String(), want.mark, name)
	}
}
