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
	// Evidence lists, for each of Rows, the events it rests on (those a
	// stream still held; see Checker).
	Evidence [][]EventRef `json:"evidence,omitempty"`
	// More counts the rows the expectation speaks of beyond Rows.
	More int `json:"more_rows,omitempty"`
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

// Evaluation is the events of one atomic in one context, held in memory,
// with the rules to check on them. Each rule runs at most once, however
// many expectations name it.
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
	c := newExpCheck(exp)
	rule, ok := e.rules[exp.Rule]
	if !ok {
		return c.verdict(nil), nil
	}
	rows, err := e.evaluate(ctx, rule)
	if err != nil {
		return c.verdict(rule), err
	}
	for _, r := range rows {
		c.add(rule, r, e.refs(r), e.origins(r))
	}
	v := c.verdict(rule)
	for _, x := range c.toExplain() {
		c.explained(&v, x, explain(ctx, rule, e.events, x, rows))
	}
	return v, nil
}

// evaluate runs rule once per evaluation.
func (e *Evaluation) evaluate(ctx context.Context, rule Rule) ([]Row, error) {
	if rows, ok := e.rows[rule.ID()]; ok {
		return rows, nil
	}
	rows, err := Evaluate(ctx, rule, e.events)
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
		if i >= 0 && i < len(e.events) {
			out = append(out, refOf(&e.events[i]))
		}
	}
	return out
}

func (e *Evaluation) origins(row Row) []event.Provenance {
	out := make([]event.Provenance, 0, len(row.Sources))
	for _, i := range row.Sources {
		if i >= 0 && i < len(e.events) {
			out = append(out, e.events[i].Origin())
		}
	}
	return out
}

// maxRows is how many of the rows an expectation speaks of its verdict
// lists (with the events each rests on); it counts the others.
const maxRows = 1000

// expCheck is one expectation checked as its rule's rows come, one at a
// time: it keeps the first maxRows relevant rows with their events, and
// what the verdict needs of the others (whether one holds, on what).
type expCheck struct {
	exp            atomics.Expectation
	want           Outcome
	intent         *Outcome
	rows           []Row
	evidence       [][]EventRef
	relevant, more int
	restsOn        []event.Provenance
	holds          bool // a relevant row gives want (when it fires)
	supported      bool // such a row rests on evidence exp accepts
	unsupported    listed
	// intentGives: a row gives the intent; intentRelevant: one speaks of it.
	intentGives, intentRelevant bool
	noSignal                    bool // a row without a Signal field came
}

func newExpCheck(exp atomics.Expectation) *expCheck {
	c := &expCheck{exp: exp, want: Outcome{Fires: exp.Fires, Signal: exp.Signal, Score: exp.Score}}
	if exp.Intent != nil {
		c.intent = &Outcome{Fires: exp.Intent.Fires, Signal: exp.Intent.Signal, Score: exp.Intent.Score}
	}
	return c
}

// add takes the next row of rule, with the events it rests on that are
// known (refs) and the provenance of every one (origins).
func (c *expCheck) add(rule Rule, r Row, refs []EventRef, origins []event.Provenance) {
	if _, ok := r.Value("Signal"); !ok {
		c.noSignal = true
	}
	if c.intent != nil {
		c.intentGives = c.intentGives || gives(r, *c.intent)
		c.intentRelevant = c.intentRelevant || relevant(r, *c.intent)
	}
	if !relevant(r, c.want) {
		return
	}
	c.relevant++
	if len(c.rows) < maxRows {
		c.rows = append(c.rows, r)
		c.evidence = append(c.evidence, refs)
	} else {
		c.more++
	}
	for _, p := range origins {
		if !slices.Contains(c.restsOn, p) {
			c.restsOn = append(c.restsOn, p)
		}
	}
	if !gives(r, c.want) {
		return
	}
	c.holds = true
	if c.supported {
		return
	}
	for _, p := range origins {
		if p == event.Observed || p == event.Recorded || slices.Contains(c.exp.Evidence, string(p)) {
			c.supported = true
			return
		}
	}
	if len(origins) == 0 {
		c.unsupported.add(fmt.Sprintf("row %d rests on no event: the rule does not say which events gave it", c.relevant))
	}
	for _, ref := range refs {
		c.unsupported.add(fmt.Sprintf("row %d rests on %s%s: %s", c.relevant, ref, provenanceNote(ref.Provenance), ref.Summary))
	}
}

// verdict is the verdict on the rows added; its explanations, where it
// needs them (toExplain), come from explained.
func (c *expCheck) verdict(rule Rule) Verdict {
	exp := c.exp
	v := Verdict{Rule: exp.Rule, Expected: c.want, Why: exp.Why, Accepts: exp.Evidence, Actual: Actual{Rows: []Row{}}}
	if rule == nil {
		v.Explanation = fmt.Sprintf("rule %q is not among the loaded rules", exp.Rule)
		return v
	}
	if (exp.Signal != "" || exp.Score != nil) && c.noSignal {
		v.Explanation = fmt.Sprintf("the expectation names a Signal or score, but rule %s (%s) yields rows without a Signal field", rule.ID(), rule.Kind())
		return v
	}
	v.Intent = c.intent
	v.Actual = Actual{Fires: c.relevant > 0, Rows: c.rows, Evidence: c.evidence, More: c.more}
	if v.Actual.Rows == nil {
		v.Actual.Rows = []Row{}
	}
	v.RestsOn = slices.Clone(c.restsOn)
	slices.SortFunc(v.RestsOn, func(a, b event.Provenance) int { return strength(a) - strength(b) })
	v.Pass = c.passes()
	if v.Pass && c.want.Fires && !c.supported {
		v.Pass = false
		var b strings.Builder
		fmt.Fprintf(&b, "rule %s %s, but on no observed event: a detection that rests on nothing a run observed does not pass.\n", rule.ID(), c.want)
		c.unsupported.write(&b)
		accepted := "observed evidence only"
		if len(exp.Evidence) > 0 {
			accepted = "observed or " + strings.Join(exp.Evidence, "/") + " evidence"
		}
		fmt.Fprintf(&b, "The expectation accepts %s (an expectation may say `evidence: declared` or `evidence: simulated`).", accepted)
		v.Explanation = b.String()
	}
	return v
}

// passes reports whether the rows show the outcome expected.
func (c *expCheck) passes() bool {
	if !c.want.Fires {
		return c.relevant == 0
	}
	return c.holds
}

// toExplain lists the outcomes whose explanation the verdict needs: the
// one expected, when the rows do not show it, and the author's intent,
// when they do not show that.
func (c *expCheck) toExplain() []Outcome {
	if c.noSignal && (c.exp.Signal != "" || c.exp.Score != nil) {
		return nil
	}
	var out []Outcome
	if !c.passes() {
		out = append(out, c.want)
	}
	if c.gap() && (len(out) == 0 || c.intent.String() != c.want.String()) {
		out = append(out, *c.intent)
	}
	return out
}

// gap reports whether the rows do not show what the rule's author meant.
func (c *expCheck) gap() bool {
	if c.intent == nil {
		return false
	}
	if c.intent.Fires {
		return !c.intentGives
	}
	return c.intentRelevant
}

// explained puts the explanation of outcome o where it belongs in v.
func (c *expCheck) explained(v *Verdict, o Outcome, why string) {
	if o.String() == c.want.String() && !c.passes() {
		v.Explanation = why
	}
	if c.gap() && o.String() == c.intent.String() {
		v.Gap = why
	}
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

// relevant reports whether an expectation of o speaks of r: r has its
// Signal, or o names none.
func relevant(r Row, o Outcome) bool {
	if o.Signal == "" {
		return true
	}
	sig, _ := r.Value("Signal")
	return sig == o.Signal
}

// gives reports whether r is a relevant row that fires as o says (with
// its score, when o names one).
func gives(r Row, o Outcome) bool {
	if !relevant(r, o) {
		return false
	}
	if o.Score == nil {
		return true
	}
	score, _ := r.Value("SuspicionScore")
	n, err := strconv.ParseFloat(score, 64)
	return err == nil && n == float64(*o.Score)
}
