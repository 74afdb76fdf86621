package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/t1567001/harness/atomics"
)

// Baseline is the coverage a CI keeps to catch a rule edit that loses
// ground: the rates, and each observed case's cells (which rule fires in
// which context), without the explanations.
type Baseline struct {
	Rates []Rate         `json:"rates"`
	Cells []BaselineCell `json:"cells"`
}

// BaselineCell is one observed case, rule and context.
type BaselineCell struct {
	GUID    string       `json:"guid"`
	Atomic  string       `json:"atomic"`
	Role    atomics.Role `json:"role"`
	Context string       `json:"context"`
	Rule    string       `json:"rule"`
	Fires   bool         `json:"fires"`
}

// Baseline is c as a baseline.
func (c *Coverage) Baseline() Baseline {
	b := Baseline{Rates: c.Rates, Cells: []BaselineCell{}}
	for _, cs := range c.Cases {
		if !cs.Observed {
			continue
		}
		for _, cell := range cs.Cells {
			b.Cells = append(b.Cells, BaselineCell{GUID: cs.GUID, Atomic: cs.Atomic, Role: cs.Role, Context: cell.Context, Rule: cell.Rule, Fires: cell.Fires})
		}
	}
	return b
}

// Encode writes b as JSON with one rate or cell a line, so a baseline CI
// keeps diffs line by line when a rule edit changes a case.
func (b Baseline) Encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{\n\"rates\": [")
	if err := jsonLines(&buf, b.Rates); err != nil {
		return nil, err
	}
	buf.WriteString("],\n\"cells\": [")
	if err := jsonLines(&buf, b.Cells); err != nil {
		return nil, err
	}
	buf.WriteString("]\n}\n")
	return buf.Bytes(), nil
}

func jsonLines[T any](buf *bytes.Buffer, items []T) error {
	for i, it := range items {
		data, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n  ")
		buf.Write(data)
	}
	if len(items) > 0 {
		buf.WriteByte('\n')
	}
	return nil
}

// ParseBaseline reads a baseline file's content; name is for errors.
func ParseBaseline(name string, data []byte) (Baseline, error) {
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("baseline %s: %w", name, err)
	}
	if len(b.Rates) == 0 {
		return b, fmt.Errorf("baseline %s: no rates", name)
	}
	return b, nil
}

// Regression is a rule and context whose detection rate fell or whose
// false-positive rate rose, with the cases that changed.
type Regression struct {
	Rule    string `json:"rule"`
	Context string `json:"context"`
	// Was and Now are the rate that got worse (detection or false
	// positives, as Kind says).
	Kind string  `json:"kind"`
	Was  float64 `json:"was"`
	Now  float64 `json:"now"`
	// Cases are the cases whose cell changed for the worse: a variant the
	// rule no longer catches, a benign case it now fires on.
	Cases []string `json:"cases"`
}

func (r Regression) String() string {
	what := "now misses"
	if r.Kind == "false-positive rate" {
		what = "now fires on"
	}
	return fmt.Sprintf("%s in %s: %s %.0f%% -> %.0f%%; %s %s", r.Rule, r.Context, r.Kind, 100*r.Was, 100*r.Now, what, strings.Join(r.Cases, "; "))
}

// Compare lists what got worse in c since base: a rule and context whose
// detection rate fell or whose false-positive rate rose, naming the cases
// that changed. Both rates are taken over the cases observed in both runs,
// so a variant whose tool is missing here neither passes nor fails the
// check; a context this run did not render is not compared, a rule it no
// longer has is a regression.
func (c *Coverage) Compare(base Baseline) []Regression {
	type key struct{ guid, context, rule string }
	was := map[key]bool{}
	for _, cell := range base.Cells {
		was[key{cell.GUID, cell.Context, cell.Rule}] = cell.Fires
	}
	type pair struct{ rule, context string }
	type tally struct {
		variants, caughtWas, caughtNow, benign, firedWas, firedNow int
		missed, fired                                              []string
	}
	tallies := map[pair]*tally{}
	rules, contexts := map[string]bool{}, map[string]bool{}
	for _, cs := range c.Cases {
		for _, cell := range cs.Cells {
			rules[cell.Rule], contexts[cell.Context] = true, true
			b, ok := was[key{cs.GUID, cell.Context, cell.Rule}]
			if !cs.Observed || !ok {
				continue
			}
			k := pair{cell.Rule, cell.Context}
			t := tallies[k]
			if t == nil {
				t = &tally{}
				tallies[k] = t
			}
			switch cs.Role {
			case atomics.Variant:
				t.variants++
				t.caughtWas += btoi(b)
				t.caughtNow += btoi(cell.Fires)
				if b && !cell.Fires {
					t.missed = append(t.missed, cs.Atomic)
				}
			case atomics.Benign:
				t.benign++
				t.firedWas += btoi(b)
				t.firedNow += btoi(cell.Fires)
				if !b && cell.Fires {
					t.fired = append(t.fired, cs.Atomic)
				}
			}
		}
	}
	var out []Regression
	for _, b := range base.Rates {
		switch {
		case !contexts[b.Context]:
			continue
		case !rules[b.Rule]:
			out = append(out, Regression{Rule: b.Rule, Context: b.Context, Kind: "detection rate", Was: b.DetectionRate,
				Cases: []string{"the rule is not in this run"}})
			continue
		}
		t := tallies[pair{b.Rule, b.Context}]
		if t == nil {
			continue
		}
		if t.caughtNow < t.caughtWas {
			out = append(out, Regression{Rule: b.Rule, Context: b.Context, Kind: "detection rate",
				Was: ratio(t.caughtWas, t.variants), Now: ratio(t.caughtNow, t.variants), Cases: t.missed})
		}
		if t.firedNow > t.firedWas {
			out = append(out, Regression{Rule: b.Rule, Context: b.Context, Kind: "false-positive rate",
				Was: ratio(t.firedWas, t.benign), Now: ratio(t.firedNow, t.benign), Cases: t.fired})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
