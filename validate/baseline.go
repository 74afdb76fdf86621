package validate

import (
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
// that changed. Cases observed in only one of the two do not count, so a
// variant whose tool is missing here neither passes nor fails the check.
func (c *Coverage) Compare(base Baseline) []Regression {
	type key struct{ guid, context, rule string }
	was := map[key]BaselineCell{}
	for _, cell := range base.Cells {
		was[key{cell.GUID, cell.Context, cell.Rule}] = cell
	}
	now := map[[2]string]Rate{}
	for _, r := range c.Rates {
		now[[2]string{r.Rule, r.Context}] = r
	}
	missed := map[[2]string][]string{} // variants no longer caught
	fired := map[[2]string][]string{}  // benign cases now fired on
	for _, cs := range c.Cases {
		if !cs.Observed {
			continue
		}
		for _, cell := range cs.Cells {
			b, ok := was[key{cs.GUID, cell.Context, cell.Rule}]
			if !ok || b.Fires == cell.Fires {
				continue
			}
			k := [2]string{cell.Rule, cell.Context}
			switch {
			case cs.Role == atomics.Variant && b.Fires:
				missed[k] = append(missed[k], cs.Atomic)
			case cs.Role == atomics.Benign && !b.Fires:
				fired[k] = append(fired[k], cs.Atomic)
			}
		}
	}
	var out []Regression
	for _, b := range base.Rates {
		k := [2]string{b.Rule, b.Context}
		n, ok := now[k]
		if !ok {
			out = append(out, Regression{Rule: b.Rule, Context: b.Context, Kind: "detection rate", Was: b.DetectionRate, Cases: []string{"the rule or context is gone from this run"}})
			continue
		}
		if n.DetectionRate < b.DetectionRate || len(missed[k]) > 0 {
			out = append(out, regression(b, "detection rate", b.DetectionRate, n.DetectionRate, missed[k]))
		}
		if n.FalsePositiveRate > b.FalsePositiveRate || len(fired[k]) > 0 {
			out = append(out, regression(b, "false-positive rate", b.FalsePositiveRate, n.FalsePositiveRate, fired[k]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

func regression(b Rate, kind string, was, now float64, cases []string) Regression {
	if len(cases) == 0 {
		cases = []string{"(no case observed in both runs changed: the set of observed cases differs)"}
	}
	return Regression{Rule: b.Rule, Context: b.Context, Kind: kind, Was: was, Now: now, Cases: cases}
}
