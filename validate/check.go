package validate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
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
	// Why is the expectation author's hand-written note, shown as the
	// "expectation note", apart from the computed Explanation.
	Why string `json:"why,omitempty"`
	// Accepts is the evidence the expectation accepts besides observed
	// (and recorded) events: declared, modelled, simulated.
	Accepts []string `json:"accepts,omitempty"`
	// RestsOn is the provenance of the events under the rows that fire
	// for the expectation, strongest first; empty when none fires.
	RestsOn []event.Provenance `json:"rests_on,omitempty"`
	// Intent is what the rule's author meant, where it differs from what
	// the rule can do; Gap explains the difference as observed.
	Intent *Outcome `json:"intent,omitempty"`
	Gap    string   `json:"gap,omitempty"`
}

// Actual is what the rule did for the expectation.
type Actual struct {
	Fires bool  `json:"fires"`
	Rows  []Row `json:"rows"`
	// Evidence lists, for each of Rows, the events it rests on.
	Evidence [][]EventRef `json:"evidence,omitempty"`
}

// EventRef names one event a row rests on, and what that event rests on.
type EventRef struct {
	Computer     string           `json:"computer"`
	Channel      string           `json:"channel"`
	RecordID     uint64           `json:"record_id"`
	EventID      int              `json:"event_id"`
	Provenance   event.Provenance `json:"provenance"`
	Observations []string         `json:"observations,omitempty"`
	// Summary says what the event is (image, command line, destination).
	Summary string `json:"summary"`
}

func (r EventRef) String() string {
	return fmt.Sprintf("Event ID %d record %d on %s, %s", r.EventID, r.RecordID, r.Computer, r.Provenance)
}

// Basis says in one word what a verdict rests on: the provenances of the
// events under its firing rows ("observed", "declared+simulated"), or ""
// when no row fires.
func (v Verdict) Basis() string {
	parts := make([]string, len(v.RestsOn))
	for i, p := range v.RestsOn {
		parts[i] = string(p)
	}
	return strings.Join(parts, "+")
}

// Simulated reports whether every event the verdict rests on is simulated.
func (v Verdict) Simulated() bool {
	return len(v.RestsOn) == 1 && v.RestsOn[0] == event.Simulated
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
		Accepts:  exp.Evidence,
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
	for _, r := range relevant {
		refs := e.refs(r)
		v.Actual.Evidence = append(v.Actual.Evidence, refs)
		for _, ref := range refs {
			if !slices.Contains(v.RestsOn, ref.Provenance) {
				v.RestsOn = append(v.RestsOn, ref.Provenance)
			}
		}
	}
	slices.SortFunc(v.RestsOn, func(a, b event.Provenance) int { return strength(a) - strength(b) })
	v.Pass = holds(rows, v.Expected)
	switch {
	case !v.Pass:
		v.Explanation = rule.Explain(ctx, events, v.Expected)
	case v.Expected.Fires:
		if why := e.unsupported(rule, relevant, v.Expected, exp.Evidence); why != "" {
			v.Pass = false
			v.Explanation = why
		}
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

// strength orders provenances from what a run saw to what it did not.
func strength(p event.Provenance) int {
	return slices.Index([]event.Provenance{event.Observed, event.Recorded, event.Simulated, event.Declared, event.Modelled}, p)
}

// refs are the events row rests on.
func (e *Evaluation) refs(row Row) []EventRef {
	out := make([]EventRef, 0, len(row.Sources))
	for _, i := range row.Sources {
		if i < 0 || i >= len(e.events) {
			continue
		}
		ev := &e.events[i]
		out = append(out, EventRef{
			Computer: ev.Computer, Channel: ev.Channel, RecordID: ev.RecordID, EventID: ev.EventID,
			Provenance: ev.Origin(), Observations: ev.Observations, Summary: describe(*ev),
		})
	}
	return out
}

// unsupported explains why a firing expectation does not hold on its
// evidence: no row that gives the outcome rests on an event a run
// observed (or a recording), nor on evidence the expectation accepts.
// It returns "" when one does.
func (e *Evaluation) unsupported(rule Rule, relevant []Row, want Outcome, accepts []string) string {
	ok := func(p event.Provenance) bool {
		return p == event.Observed || p == event.Recorded || slices.Contains(accepts, string(p))
	}
	var lines []string
	for n, r := range relevant {
		if !holds([]Row{r}, want) {
			continue
		}
		refs := e.refs(r)
		for _, ref := range refs {
			if ok(ref.Provenance) {
				return ""
			}
		}
		if len(refs) == 0 {
			lines = append(lines, fmt.Sprintf("row %d rests on no event: the rule does not say which events gave it", n+1))
		}
		for _, ref := range refs {
			lines = append(lines, fmt.Sprintf("row %d rests on %s%s: %s", n+1, ref, provenanceNote(ref.Provenance), ref.Summary))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rule %s %s, but on no observed event: a detection that rests on nothing a run observed does not pass.\n", rule.ID(), want)
	writeList(&b, lines)
	accepted := "observed evidence only"
	if len(accepts) > 0 {
		accepted = "observed or " + strings.Join(accepts, "/") + " evidence"
	}
	fmt.Fprintf(&b, "The expectation accepts %s (an expectation may say `evidence: declared` or `evidence: simulated`).", accepted)
	return b.String()
}

func provenanceNote(p event.Provenance) string {
	switch p {
	case event.Declared:
		return " (taken from the atomic's windows_executor text, not from what ran)"
	case event.Modelled:
		return " (added by the host profile's data, with no observation behind it)"
	case event.Simulated:
		return " (a replay stood in for the missing tool)"
	}
	return ""
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
