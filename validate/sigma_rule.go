package validate

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/sigma"
)

// SigmaRule is a Sigma rule file (one rule, or a collection with
// correlations) run by package sigma.
type SigmaRule struct {
	id  string
	set *sigma.Set
}

// NewSigmaRule loads the Sigma rule file in data; its id is the file name
// without extension, as for every rule.
func NewSigmaRule(name string, data []byte) (*SigmaRule, error) {
	c, err := sigma.ParseFile(name, data, nil)
	if err != nil {
		return nil, err
	}
	return sigmaRuleOf(name, c)
}

// sigmaRuleOf compiles what the file name holds (with, for LoadRules, the
// rules of other files its correlations and filters name).
func sigmaRuleOf(name string, c *sigma.Collection) (*SigmaRule, error) {
	set, err := sigma.Compile(c)
	if err != nil {
		return nil, err
	}
	return &SigmaRule{id: strings.TrimSuffix(path.Base(name), path.Ext(name)), set: set}, nil
}

// ID is the rule's file name without extension.
func (r *SigmaRule) ID() string { return r.id }

// Set is the compiled file, for callers that stream events through it
// (Set.NewEngine) or need the hits themselves (each names its RecordID).
func (r *SigmaRule) Set() *sigma.Set { return r.set }

// Kind is "sigma".
func (r *SigmaRule) Kind() string { return "sigma" }

// inTimeOrder returns the events' indexes by TimeCreated, stable.
func inTimeOrder(events []event.Event) []int {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return events[order[a]].TimeCreated.Before(events[order[b]].TimeCreated) })
	return order
}

// Evaluate yields a row per reported match, resting on the matched
// event: the rule's id, title and level, then the event's fields; and a
// row per correlation that fired, resting on the events it counted: its
// group, count, window and their record ids. Events go through in time
// order.
func (r *SigmaRule) Evaluate(ctx context.Context, events []event.Event) ([]Row, error) {
	var rows []Row
	order := inTimeOrder(events)
	st := r.stream(ctx, func(row Row) error {
		// The stream numbers events as they come; the caller, by input.
		for i, s := range row.Sources {
			row.Sources[i] = order[s]
		}
		rows = append(rows, row)
		return nil
	})
	for _, i := range order {
		if err := st.push(&events[i]); err != nil {
			return nil, err
		}
	}
	if err := st.close(); err != nil {
		return nil, err
	}
	return rows, nil
}

// sigmaStream runs a rule file over events pushed one at a time, in time
// order, emitting each row as soon as it is known: a match at once, a
// correlation when its window holds (or closes, or the stream ends).
// Rows name their events by their position in the stream.
type sigmaStream struct {
	ctx  context.Context
	rule *SigmaRule
	eng  *sigma.Engine
	emit func(Row) error
}

func (r *SigmaRule) stream(ctx context.Context, emit func(Row) error) *sigmaStream {
	return &sigmaStream{ctx: ctx, rule: r, eng: r.set.NewEngine(), emit: emit}
}

// push offers the next event; the stream keeps only what its correlations'
// windows need (record ids and times, not the event).
func (s *sigmaStream) push(ev *event.Event) error {
	hits, chs, err := s.eng.Add(s.ctx, ev)
	if err != nil {
		return fmt.Errorf("rule %s: %w", s.rule.id, err)
	}
	for _, h := range hits {
		row := Row{
			Fields: []string{"rule_id", "title", "level", "EventCode", "host", "RecordID"},
			Values: map[string]string{"rule_id": h.Rule.ID, "title": h.Rule.Title, "level": h.Rule.Level,
				"EventCode": fmt.Sprint(ev.EventID), "host": h.Computer, "RecordID": fmt.Sprint(ev.RecordID)},
			Sources: []int{int(h.Seq)},
		}
		for _, f := range ev.Data {
			if _, dup := row.Values[f.Name]; !dup {
				row.Fields = append(row.Fields, f.Name)
				row.Values[f.Name] = f.Value
			}
		}
		if err := s.emit(row); err != nil {
			return err
		}
	}
	return s.emitCorrelations(chs)
}

// close ends the stream: the correlation windows still open are judged.
func (s *sigmaStream) close() error { return s.emitCorrelations(s.eng.Flush()) }

func (s *sigmaStream) emitCorrelations(chs []sigma.CorrelationHit) error {
	for _, ch := range chs {
		if ch.Silent {
			continue
		}
		row := correlationRow(ch)
		for _, e := range ch.Events {
			row.Sources = append(row.Sources, int(e.Seq))
		}
		if err := s.emit(row); err != nil {
			return err
		}
	}
	return nil
}

func correlationRow(ch sigma.CorrelationHit) Row {
	c := ch.Correlation
	row := Row{
		Fields: []string{"rule_id", "title", "level", "correlation", "count", "window_start", "window_end", "RecordIDs"},
		Values: map[string]string{"rule_id": c.ID, "title": c.Title, "level": c.Level, "correlation": c.Type,
			"count": fmt.Sprint(ch.Count), "window_start": event.FormatEpoch(ch.Start), "window_end": event.FormatEpoch(ch.End)},
	}
	ids := make([]string, len(ch.Events))
	for i, e := range ch.Events {
		ids[i] = fmt.Sprint(e.RecordID)
	}
	row.Values["RecordIDs"] = strings.Join(ids, " ")
	for _, g := range ch.Group {
		if _, dup := row.Values[g.Field]; !dup {
			row.Fields = append(row.Fields, g.Field)
			row.Values[g.Field] = g.Value
		}
	}
	return row
}

// Explain shows, selection by selection, how the events in each rule's
// logsource fared, and which correlations fired on which events.
func (r *SigmaRule) Explain(ctx context.Context, events []event.Event, want Outcome) string {
	var b strings.Builder
	for _, rule := range r.set.Rules() {
		explainRule(ctx, &b, r.id, rule, events, want)
	}
	if len(r.set.Correlations()) > 0 {
		eng := r.set.NewEngine()
		var chs []sigma.CorrelationHit
		for _, i := range inTimeOrder(events) {
			_, c, err := eng.Add(ctx, &events[i])
			if err != nil {
				fmt.Fprintf(&b, "\ncorrelations: %v", err)
				break
			}
			chs = append(chs, c...)
		}
		chs = append(chs, eng.Flush()...)
		fmt.Fprintf(&b, "\n%d correlation window(s) fired", len(chs))
		for _, ch := range chs {
			b.WriteString("\n  - " + indentLines(ch.String()))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func explainRule(ctx context.Context, b *strings.Builder, id string, rule *sigma.Rule, events []event.Event, want Outcome) {
	var matched, missed []string
	applicable := 0
	for _, ev := range events {
		if !rule.Applies(ev) {
			continue
		}
		applicable++
		ok, x, err := rule.Match(ctx, ev)
		switch {
		case err != nil:
			missed = append(missed, err.Error())
		case ok:
			matched = append(matched, indentLines(x.String()))
		default:
			missed = append(missed, indentLines(x.String()))
		}
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	switch {
	case applicable == 0:
		fmt.Fprintf(b, "rule %s (%s) saw no event of its logsource %s", id, rule.Title, rule.Logsource)
	case !want.Fires:
		fmt.Fprintf(b, "rule %s matches where it should stay silent:\n", id)
		writeList(b, matched)
	default:
		fmt.Fprintf(b, "rule %s matches none of the %d event(s) of its logsource:\n", id, applicable)
		if len(missed) > 5 {
			missed = append(missed[:5], fmt.Sprintf("... and %d more", len(missed)-5))
		}
		writeList(b, missed)
	}
}

func indentLines(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
