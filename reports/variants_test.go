package reports

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/validate"
)

func sampleCoverage() *validate.Coverage {
	c := &validate.Coverage{Cases: []validate.Case{
		{Atomic: "renamed curl", GUID: "g1", Role: atomics.Variant, Observed: true, Status: "executed, exit 0",
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Fires: false, Why: "none of Image=\"*\\\\curl.exe\" matched"}}},
		{Atomic: "git push", GUID: "g2", Role: atomics.Variant, Observed: true, Status: "executed, exit 0",
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Fires: true}}},
		{Atomic: "curl GET", GUID: "g3", Role: atomics.Benign, Observed: true, Status: "executed, exit 0",
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Fires: true, Why: "EventCode 3 gives a row"}}},
		{Atomic: "ruby", GUID: "g4", Role: atomics.Variant, Status: "not run: missing prerequisite: ruby",
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Why: "not counted"}}},
	}}
	c.Score()
	return c
}

func TestCoverageWriters(t *testing.T) {
	c := sampleCoverage()
	var text, md, html bytes.Buffer
	require.NoError(t, WriteCoverage(&text, c))
	p := &printer{w: &md}
	writeCoverageMarkdown(p, c)
	require.NoError(t, p.err)
	require.NoError(t, WriteCoverageHTML(&html, c))
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "html": html.String()} {
		assert.Contains(t, out, "50%", "%s: detection rate 1/2", name)
		assert.Contains(t, out, "100%", "%s: false-positive rate 1/1", name)
		assert.Contains(t, out, "renamed curl", name)
		assert.Contains(t, out, "not run: missing prerequisite: ruby", name)
	}
	assert.Contains(t, text.String(), "seed misses it in workstation:\n    none of Image=")
	assert.Contains(t, text.String(), "seed fires (false positive) in workstation:\n    EventCode 3 gives a row")
	assert.Contains(t, md.String(), "| ruby | variant | not run: missing prerequisite: ruby | not counted |")

	layer := CoverageLayer("r1", c)
	tech := layer["techniques"].([]map[string]any)[0]
	assert.Equal(t, 50, tech["score"], "the score is the detection rate")
	assert.Equal(t, "1 of 2 variant runs (variant x context) caught by at least one rule", tech["comment"])

	var none bytes.Buffer
	require.NoError(t, WriteCoverage(&none, nil))
	assert.Empty(t, none.String())
}
