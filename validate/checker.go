package validate

import (
	"context"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
)

// Checker checks expectations on a stream of events, without holding the
// events: each rule an expectation names runs once over the stream (Rule.
// Start), and its rows are checked as they come. Of the events gone by,
// the Checker remembers only what the rows may cite: the events a rule
// keeps and may still cite (the first maxRefs of them per rule, and the
// provenance of every one that is not recorded). A verdict that needs an
// explanation gets it from a second pass over the same events (Close,
// then Explain).
type Checker struct {
	ctx    context.Context
	checks []*expCheck
	runs   map[string]*ruleRun
	order  []*ruleRun
	// held counts the event references the streams hold, peak the most
	// at once; n counts the events pushed.
	held, peak, n int
	closed        bool
}

type ruleRun struct {
	rule    Rule
	feed    Feed
	src     *sources
	checks  []*expCheck
	rows    []Row // the first maxRows, for explanations
	explain map[string]Explainer
	// peak is the most events the rule held (Feed.Held), looked at every
	// heldEvery events and at the end.
	peak int
}

// heldEvery is how many events pass between two looks at what the rules
// hold.
const heldEvery = 1024

// sample looks at what the rule holds, and forgets the events it can no
// longer cite.
func (r *ruleRun) sample() {
	r.peak = max(r.peak, r.feed.Held())
	r.src.release(r.feed.Oldest())
}

// NewChecker starts every rule exps name over a stream; an expectation
// naming a rule that is not loaded fails.
func NewChecker(ctx context.Context, rules []Rule, exps []atomics.Expectation) *Checker {
	c := &Checker{ctx: ctx, runs: map[string]*ruleRun{}}
	byID := ByID(rules)
	for _, exp := range exps {
		ec := newExpCheck(exp)
		c.checks = append(c.checks, ec)
		rule, ok := byID[exp.Rule]
		if !ok {
			continue
		}
		run := c.runs[exp.Rule]
		if run == nil {
			run = &ruleRun{rule: rule, src: newSources(true, &c.held, &c.peak), explain: map[string]Explainer{}}
			run.feed = rule.Start(ctx, run.add)
			c.runs[exp.Rule] = run
			c.order = append(c.order, run)
		}
		run.checks = append(run.checks, ec)
	}
	return c
}

// add takes a row the rule yields.
func (r *ruleRun) add(row Row) error {
	if len(r.rows) < maxRows {
		r.rows = append(r.rows, row)
	}
	refs := make([]EventRef, 0, len(row.Sources))
	origins := make([]event.Provenance, 0, len(row.Sources))
	for _, i := range row.Sources {
		if i < 0 || i >= r.src.n {
			continue
		}
		origins = append(origins, r.src.origin(i))
		if ref, ok := r.src.ref(i); ok {
			refs = append(refs, ref)
		}
	}
	for _, c := range r.checks {
		c.add(r.rule, row, refs, origins)
	}
	return nil
}

// Push runs every rule on the next event.
func (c *Checker) Push(ev *event.Event) error {
	c.n++
	for _, r := range c.order {
		if c.n%heldEvery == 0 {
			r.sample()
		}
		r.src.push(ev)
		if r.feed.Done() {
			continue
		}
		if err := r.feed.Push(ev); err != nil {
			return err
		}
		if r.feed.Kept() {
			r.src.keep()
		}
	}
	return nil
}

// Close ends the stream: the rules emit the rows they still hold. It
// reports whether a verdict needs an explanation, for which the same
// events must go through Explain again, in the same order.
func (c *Checker) Close() (again bool, err error) {
	if c.closed {
		return false, nil
	}
	c.closed = true
	for _, r := range c.order {
		r.src.cur = nil
		r.sample()
		if err := r.feed.Close(); err != nil {
			return false, err
		}
		for _, ec := range r.checks {
			for _, o := range ec.toExplain() {
				if _, ok := r.explain[o.String()]; !ok {
					r.explain[o.String()] = r.rule.Explainer(c.ctx, o, r.rows)
					again = true
				}
			}
		}
	}
	return again, nil
}

// Explain runs the explanations on the next event of the second pass.
func (c *Checker) Explain(ev *event.Event) error {
	for _, r := range c.order {
		for _, x := range r.explain {
			if err := x.Push(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verdicts are the expectations' verdicts, in their order.
func (c *Checker) Verdicts() []Verdict {
	out := make([]Verdict, len(c.checks))
	for i, ec := range c.checks {
		r := c.runs[ec.exp.Rule]
		if r == nil {
			out[i] = ec.verdict(nil)
			continue
		}
		out[i] = ec.verdict(r.rule)
		for _, o := range ec.toExplain() {
			if x, ok := r.explain[o.String()]; ok {
				ec.explained(&out[i], o, x.String())
			}
		}
	}
	return out
}

// Held is, per rule id, the most events the rule held at once (Feed.Held):
// what it kept of the stream, as looked at every heldEvery events.
func (c *Checker) Held() map[string]int {
	m := make(map[string]int, len(c.order))
	for _, r := range c.order {
		m[r.rule.ID()] = r.peak
	}
	return m
}

// Peak is the most event references (EventRefs and provenances of events
// the rules kept) the Checker has held at once: what it remembers of the
// stream, which does not grow with the events that no row can rest on.
func (c *Checker) Peak() int { return c.peak }
