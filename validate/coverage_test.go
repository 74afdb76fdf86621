package validate_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/validate"
)

// matrix builds a coverage of one rule in one context: fires[i] says whether
// the rule fires on case i; observed cases only unless listed in unobserved.
func matrix(roles []atomics.Role, fires []bool, unobserved ...int) *validate.Coverage {
	c := &validate.Coverage{}
	for i, role := range roles {
		cs := validate.Case{Atomic: fmt.Sprintf("case %d", i), GUID: fmt.Sprintf("g%d", i), Role: role, Observed: true,
			Cells: []validate.Cell{{Context: "ws", Rule: "r", Fires: fires[i]}}}
		for _, u := range unobserved {
			if u == i {
				cs.Observed = false
			}
		}
		c.Cases = append(c.Cases, cs)
	}
	c.Score()
	return c
}

var (
	v = atomics.Variant
	b = atomics.Benign
)

func TestCoverageScore(t *testing.T) {
	tests := []struct {
		name       string
		roles      []atomics.Role
		fires      []bool
		unobserved []int
		want       validate.Rate
	}{
		{"all caught, none fired", []atomics.Role{v, v, b}, []bool{true, true, false}, nil,
			validate.Rate{Rule: "r", Context: "ws", Variants: 2, Caught: 2, Benign: 1, DetectionRate: 1}},
		{"half caught, benign fired", []atomics.Role{v, v, b, b}, []bool{true, false, true, false}, nil,
			validate.Rate{Rule: "r", Context: "ws", Variants: 2, Caught: 1, Benign: 2, Fired: 1, DetectionRate: .5, FalsePositiveRate: .5}},
		{"an unobserved case does not count", []atomics.Role{v, v}, []bool{true, false}, []int{1},
			validate.Rate{Rule: "r", Context: "ws", Variants: 1, Caught: 1, DetectionRate: 1}},
		{"nothing to count is 0, not NaN", []atomics.Role{b}, []bool{false}, []int{0},
			validate.Rate{Rule: "r", Context: "ws"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := matrix(tc.roles, tc.fires, tc.unobserved...)
			assert.Equal(t, []validate.Rate{tc.want}, c.Rates)
		})
	}
}

func TestCoverageCompare(t *testing.T) {
	roles := []atomics.Role{v, v, b}
	base := matrix(roles, []bool{true, true, false}).Baseline()
	tests := []struct {
		name       string
		fires      []bool
		unobserved []int
		kind       string
		cases      []string
	}{
		{"same", []bool{true, true, false}, nil, "", nil},
		{"a variant missed", []bool{true, false, false}, nil, "detection rate", []string{"case 1"}},
		{"a benign case fires", []bool{true, true, true}, nil, "false-positive rate", []string{"case 2"}},
		{"a case not observed now is not compared", []bool{true, false, false}, []int{1}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			regs := matrix(roles, tc.fires, tc.unobserved...).Compare(base)
			if tc.kind == "" {
				assert.Empty(t, regs)
				return
			}
			if assert.Len(t, regs, 1) {
				assert.Equal(t, tc.kind, regs[0].Kind)
				assert.Equal(t, tc.cases, regs[0].Cases)
			}
		})
	}
}

func TestCoverageCompareBetterIsNotARegression(t *testing.T) {
	roles := []atomics.Role{v, v, b}
	base := matrix(roles, []bool{true, false, true}).Baseline()
	assert.Empty(t, matrix(roles, []bool{true, true, false}).Compare(base))
}

func TestCoverageCompareRulesAndContexts(t *testing.T) {
	base := matrix([]atomics.Role{v}, []bool{true}).Baseline()
	renamed := matrix([]atomics.Role{v}, []bool{true})
	renamed.Cases[0].Cells[0].Rule = "r2"
	renamed.Score()
	regs := renamed.Compare(base)
	if assert.Len(t, regs, 1) {
		assert.Equal(t, []string{"the rule is not in this run"}, regs[0].Cases)
	}
	other := matrix([]atomics.Role{v}, []bool{false})
	other.Cases[0].Cells[0].Context = "ci"
	other.Score()
	assert.Empty(t, other.Compare(base), "a context this run did not render is not compared")
}

func TestParseBaselineRejectsEmpty(t *testing.T) {
	_, err := validate.ParseBaseline("b.json", []byte(`{}`))
	assert.ErrorContains(t, err, "b.json: no rates")
	_, err = validate.ParseBaseline("b.json", []byte(`{`))
	assert.ErrorContains(t, err, "b.json")
}

// A rule edit that loses a variant is named against the baseline.
func ExampleCoverage_Compare() {
	before := &validate.Coverage{Cases: []validate.Case{
		{Atomic: "wget --method=PUT", GUID: "g1", Role: atomics.Variant, Observed: true,
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Fires: true}}},
	}}
	before.Score()
	base := before.Baseline()

	after := &validate.Coverage{Cases: []validate.Case{
		{Atomic: "wget --method=PUT", GUID: "g1", Role: atomics.Variant, Observed: true,
			Cells: []validate.Cell{{Context: "workstation", Rule: "seed", Fires: false}}},
	}}
	after.Score()
	for _, r := range after.Compare(base) {
		fmt.Println(r)
	}
	// Output: seed in workstation: detection rate 100% -> 0%; now misses wget --method=PUT
}

func TestBaselineEncodeRoundTrips(t *testing.T) {
	base := matrix([]atomics.Role{v, b}, []bool{true, false}).Baseline()
	data, err := base.Encode()
	assert.NoError(t, err)
	assert.Equal(t, 9, bytes.Count(data, []byte("\n")), "braces, two list heads and ends, one rate and two cells, a line each:\n%s", data)
	back, err := validate.ParseBaseline("b.json", data)
	assert.NoError(t, err)
	assert.Equal(t, base, back)
}
