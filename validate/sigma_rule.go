package validate

import (
	"context"
	"fmt"
	"path"
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

// timeOrdered: correlations count in time windows.
func (r *SigmaRule) timeOrdered() bool { return true }

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
// windows need (record ids and times, not the event). It reports whether
// the event fed a window.
func (s *sigmaStream) push(ev *event.Event) (bool, error) {
	fed := s.eng.Fed()
	hits, chs, err := s.eng.Add(s.ctx, ev)
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", s.rule.id, err)
	}
	kept := s.eng.Fed() > fed
	for _, h := range hits {
		row := Row{
			Fields:  []string{"rule_id", "title", "level", "EventCode", "host", "RecordID"},
			Values:  []string{h.Rule.ID, h.Rule.Title, h.Rule.Level, fmt.Sprint(ev.EventID), h.Computer, fmt.Sprint(ev.RecordID)},
			Sources: []int{int(h.Seq)},
		}
		for _, f := range ev.Data {
			row.add(f.Name, f.Value)
		}
		if err := s.emit(row); err != nil {
			return false, err
		}
	}
	return kept, s.emitCorrelations(chs)
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
	}
	ids := make([]string, len(ch.Events))
	for i, e := range ch.Events {
		ids[i] = fmt.Sprint(e.RecordID)
	}
	row.Values = []string{c.ID, c.Title, c.Level, c.Type, fmt.Sprint(ch.Count),
		event.FormatEpoch(ch.Start), event.FormatEpoch(ch.End), strings.Join(ids, " ")}
	for _, g := range ch.Group {
		row.add(g.Field, g.Value)
	}
	return row
}

// Explainer shows, selection by selection, how the events in each rule's
// logsource fared, and which correlations fired on which events.
func (r *SigmaRule) Explainer(ctx context.Context, want Outcome, _ []Row) Explainer {
	x := &sigmaExplainer{ctx: ctx, r: r, want: want, rules: make([]ruleCount, len(r.set.Rules()))}
	if len(r.set.Correlations()) > 0 {
		x.eng = r.set.NewEngine()
	}
	return x
}

type sigmaExplainer struct {
	ctx   context.Context
	r     *SigmaRule
	want  Outcome
	rules []ruleCount
	eng   *sigma.Engine
	chs   []sigma.CorrelationHit
	err   error
}

// ruleCount is how one rule of the file fared: the events of its
// logsource, the first of those it matched and of those it missed.
type ruleCount struct {
	applicable      int
	matched, missed listed
}

func (x *sigmaExplainer) Push(ev *event.Event) error {
	for i, rule := range x.r.set.Rules() {
		if !rule.Applies(*ev) {
			continue
		}
		c := &x.rules[i]
		c.applicable++
		ok, m, err := rule.Match(x.ctx, *ev)
		switch {
		case err != nil:
			c.missed.add(err.Error())
		case ok:
			c.matched.add(indentLines(m.String()))
		case c.missed.more == 0 && len(c.missed.items) < 5:
			c.missed.add(indentLines(m.String()))
		default:
			c.missed.more++
		}
	}
	if x.eng != nil && x.err == nil {
		_, chs, err := x.eng.Add(x.ctx, ev)
		x.err = err
		x.chs = append(x.chs, chs...)
	}
	return nil
}

func (x *sigmaExplainer) String() string {
	var b strings.Builder
	for i, rule := range x.r.set.Rules() {
		c := &x.rules[i]
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch {
		case c.applicable == 0:
			fmt.Fprintf(&b, "rule %s (%s) saw no event of its logsource %s", x.r.id, rule.Title, rule.Logsource)
		case !x.want.Fires:
			fmt.Fprintf(&b, "rule %s matches where it should stay silent:\n", x.r.id)
			c.matched.write(&b)
		default:
			fmt.Fprintf(&b, "rule %s matches none of the %d event(s) of its logsource:\n", x.r.id, c.applicable)
			c.missed.write(&b)
		}
	}
	if x.eng != nil {
		chs := x.chs
		if x.err != nil {
			fmt.Fprintf(&b, "\ncorrelations: %v", x.err)
		} else {
			chs = append(chs, x.eng.Flush()...)
		}
		fmt.Fprintf(&b, "\n%d correlation window(s) fired", len(chs))
		for _, ch := range chs {
			b.WriteString("\n  - " + indentLines(ch.String()))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func indentLines(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
