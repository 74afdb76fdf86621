package validate

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"strconv"

	"github.com/t1567001/harness/atomics"
)

// Verdict is one expectation checked: atomic x context x rule.
type Verdict struct {
	Atomic      string  `json:"atomic"`
	GUID        string  `json:"guid,omitempty"`
	Context     string  `json:"context"`
	Rule        string  `json:"rule"`
	Expected    Outcome `json:"expected"`
	Actual      Actual  `json:"actual"`
	Pass        bool    `json:"pass"`
	Explanation string  `json:"explanation,omitempty"`
	// Why is the expectation author's reasoning.
	Why string `json:"why,omitempty"`
	// Intent is what the rule's author meant, where it differs from what
	// the rule can do; Gap explains the difference as observed.
	Intent *Outcome `json:"intent,omitempty"`
	Gap    string   `json:"gap,omitempty"`
}

// Actual is what the rule did for the expectation.
type Actual struct {
	Fires bool  `json:"fires"`
	Rows  []Row `json:"rows"`
}

// Evaluation is the events of one atomic in one context with the rules to
// check on them. Each rule runs at most once, however many expectations
// name it.
type Evaluation struct {
	events []event.Event
	rules  map[string]Rule
	rows   map[string][]Row
}

// NewEvaluation prepares rules to run over events.
func NewEvaluation(rules []Rule, events []event.Event) *Evaluation {
	return &Evaluation{events: events, rules: ByID(rules), rows: map[string][]Row{}}
}

// Check checks exp against the rows of the rule it names; a rule that is
// not loaded fails the verdict.
func (e *Evaluation) Check(ctx context.Context, exp atomics.Expectation) (Verdict, error) {
	v := Verdict{
		Rule:     exp.Rule,
		Expected: Outcome{Fires: exp.Fires, Signal: exp.Signal, Score: exp.Score},
		Why:      exp.Why,
		Actual:   Actual{Rows: []Row{}},
	}
	rule, ok := e.rules[exp.Rule]
	if !ok {
		v.Explanation = fmt.Sprintf("rule %q is not among the loaded rules", exp.Rule)
		return v, nil
	}
	rows, err := e.evaluate(ctx, rule)
	if err != nil {
		return v, err
	}
	events := e.events
	if exp.Signal != "" || exp.Score != nil {
		if err := hasSignalFields(rule, rows); err != nil {
			v.Explanation = err.Error()
			return v, nil
		}
	}
	relevant := relevantRows(rows, v.Expected)
	v.Actual = Actual{Fires: len(relevant) > 0, Rows: relevant}
	if v.Actual.Rows == nil {
		v.Actual.Rows = []Row{}
	}
	v.Pass = holds(rows, v.Expected)
	if !v.Pass {
		v.Explanation = rule.Explain(ctx, events, v.Expected)
	}
	if exp.Intent != nil {
		intent := Outcome{Fires: exp.Intent.Fires, Signal: exp.Intent.Signal, Score: exp.Intent.Score}
		v.Intent = &intent
		if !holds(rows, intent) {
			v.Gap = rule.Explain(ctx, events, intent)
		}
	}
	return v, nil
}

// evaluate runs rule once per evaluation.
func (e *Evaluation) evaluate(ctx context.Context, rule Rule) ([]Row, error) {
	if rows, ok := e.rows[rule.ID()]; ok {
		return rows, nil
	}
	rows, err := rule.Evaluate(ctx, e.events)
	if err != nil {
		return nil, err
	}
	e.rows[rule.ID()] = rows
	return rows, nil
}

func hasSignalFields(rule Rule, rows []Row) error {
	for _, r := range rows {
		if _, ok := r.Values["Signal"]; !ok {
			return fmt.Errorf("the expectation names a Signal or score, but rule %s (%s) yields rows without a Signal field", rule.ID(), rule.Kind())
		}
	}
	return nil
}

// relevantRows are the rows an expectation speaks of: those with its
// Signal, or all of them.
func relevantRows(rows []Row, o Outcome) []Row {
	var out []Row
	for _, r := range rows {
		if o.Signal == "" || r.Values["Signal"] == o.Signal {
			out = append(out, r)
		}
	}
	return out
}

// holds reports whether rows show outcome o.
func holds(rows []Row, o Outcome) bool {
	relevant := relevantRows(rows, o)
	if !o.Fires {
		return len(relevant) == 0
	}
	for _, r := range relevant {
		if o.Score == nil {
			return true
		}
		if n, err := strconv.ParseFloat(r.Values["SuspicionScore"], 64); err == nil && n == float64(*o.Score) {
			return true
		}
	}
	return false
}
