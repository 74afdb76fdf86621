package validate

import (
	"context"
	"fmt"
	"sort"

	"github.com/t1567001/harness/atomics"
)

// Coverage is the coverage matrix of a run: per rule and host context, the
// share of variants it catches and the share of benign look-alikes it fires
// on; per case, which rules fire in each context and why each other one
// does not (for a variant) or does (for a benign case).
type Coverage struct {
	Rates []Rate `json:"rates"`
	Cases []Case `json:"cases"`
}

// Rate is one rule in one context. Only observed cases count: a case that
// did not run or was not watched is listed with its status, not scored.
type Rate struct {
	Rule     string `json:"rule"`
	Context  string `json:"context"`
	Variants int    `json:"variants"`
	Caught   int    `json:"caught"`
	Benign   int    `json:"benign"`
	Fired    int    `json:"fired"`
	// DetectionRate is Caught/Variants, FalsePositiveRate Fired/Benign
	// (0 when there is nothing to count).
	DetectionRate     float64 `json:"detection_rate"`
	FalsePositiveRate float64 `json:"false_positive_rate"`
}

// Case is one variant or benign look-alike.
type Case struct {
	Atomic string       `json:"atomic"`
	GUID   string       `json:"guid,omitempty"`
	Role   atomics.Role `json:"role"`
	// Observed is true when the case ran under the sensor: only then do
	// its cells count.
	Observed bool `json:"observed"`
	// Simulated is true when a replay stood in for a missing tool: its
	// cells are shown, on modelled telemetry, but not counted.
	Simulated bool `json:"simulated,omitempty"`
	// Status says what the case did: whether its client reached the mock
	// and what it delivered, or why it did not run.
	Status string `json:"status"`
	Cells  []Cell `json:"cells"`
}

// Cell is what one rule did for a case in one context.
type Cell struct {
	Context string `json:"context"`
	Rule    string `json:"rule"`
	Fires   bool   `json:"fires"`
	// Why is the rule's own explanation where it falls short: of a miss
	// for a variant (the clause that failed, on which field), of a firing
	// for a benign case.
	Why string `json:"why,omitempty"`
}

// Cell evaluates rule for a case of role in this evaluation's context; the
// rule runs at most once per evaluation. The rule fires for the matrix only
// where a row rests on an observed (or recorded) event.
func (e *Evaluation) Cell(ctx context.Context, rule string, role atomics.Role) (Cell, error) {
	c := Cell{Rule: rule}
	r, ok := e.rules[rule]
	if !ok {
		return c, fmt.Errorf("rule %q is not among the loaded rules", rule)
	}
	rows, err := e.evaluate(ctx, r)
	if err != nil {
		return c, err
	}
	// A firing counts only on evidence a run observed (or a recording):
	// rows resting on declared, modelled or simulated events alone do not.
	fires := newExpCheck(atomics.Expectation{Rule: rule, Fires: true})
	for _, row := range rows {
		fires.add(r, row, e.refs(row), e.origins(row))
	}
	v := fires.verdict(r)
	c.Fires = v.Pass
	switch meant := role == atomics.Variant; {
	case len(rows) > 0 && !v.Pass && meant:
		c.Why = v.Explanation
	case c.Fires != meant:
		c.Why = explain(ctx, r, e.events, Outcome{Fires: meant}, rows)
	}
	return c, nil
}

// Score fills in the rates from the cases, rules and contexts in the order
// the cells name them.
func (c *Coverage) Score() {
	type key struct{ rule, context string }
	rates := map[key]*Rate{}
	var order []key
	for _, cs := range c.Cases {
		for _, cell := range cs.Cells {
			k := key{cell.Rule, cell.Context}
			r := rates[k]
			if r == nil {
				r = &Rate{Rule: cell.Rule, Context: cell.Context}
				rates[k] = r
				order = append(order, k)
			}
			if !cs.Observed {
				continue
			}
			switch cs.Role {
			case atomics.Variant:
				r.Variants++
				if cell.Fires {
					r.Caught++
				}
			case atomics.Benign:
				r.Benign++
				if cell.Fires {
					r.Fired++
				}
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].rule < order[j].rule })
	c.Rates = make([]Rate, 0, len(order))
	for _, k := range order {
		r := rates[k]
		r.DetectionRate = ratio(r.Caught, r.Variants)
		r.FalsePositiveRate = ratio(r.Fired, r.Benign)
		c.Rates = append(c.Rates, *r)
	}
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
