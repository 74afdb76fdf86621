package eql

import (
	"fmt"
	"strings"
	"time"

	"github.com/t1567001/harness/validate/core"
)

// Match is one result: the ids of the event an event query matched, or of
// a sequence's events in order, with their documents.
type Match struct {
	Events []int
	Docs   []core.Doc
}

// CategoryField and TimeField are the ECS fields an event category and a
// sequence's clock are read from.
const (
	CategoryField = "event.category"
	TimeField     = "@timestamp"
)

func (st *Step) inCategory(d core.Doc) bool {
	if st.Category == "any" {
		return true
	}
	for _, c := range d.Get(CategoryField).Values() {
		if strings.EqualFold(c, st.Category) {
			return true
		}
	}
	return false
}

func (st *Step) matches(d core.Doc) bool {
	return st.inCategory(d) && core.Truthy(st.Cond.Eval(d))
}

// Run evaluates the query over docs: an event query in their order, a
// sequence in time order. A match names documents by their index in docs.
func (q *Query) Run(docs []core.Doc) []Match {
	var out []Match
	s := q.Stream(func(m Match) { out = append(out, m) })
	for _, i := range q.order(docs) {
		s.Push(docs[i], i)
	}
	return out
}

// order is the order a slice of documents is read in: a sequence's in
// time, stable.
func (q *Query) order(docs []core.Doc) []int {
	if q.Sequence {
		return core.InTimeOrder(docs, TimeField)
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	return order
}

// Stream runs the query over documents pushed one at a time, in time order
// (a sequence joins its steps in the order they come). Each match goes out
// as soon as it is complete. An event query keeps nothing; a sequence
// keeps only its pending partial sequences, at most one per join key and
// step, and drops them when maxspan has passed since their first event or
// an until event with their key arrives.
type Stream struct {
	q      *Query
	emit   func(Match)
	stages []map[string]partial
	// held counts the documents the partial sequences hold.
	held int
	now  time.Time
	n    int
}

type partial struct {
	events []int
	docs   []core.Doc
	start  time.Time
}

// sweepEvery is how many documents pass between two sweeps of the partial
// sequences that maxspan has expired.
const sweepEvery = 1024

// Stream starts a run whose matches go to emit.
func (q *Query) Stream(emit func(Match)) *Stream {
	s := &Stream{q: q, emit: emit}
	if q.Sequence {
		s.stages = make([]map[string]partial, len(q.Steps))
		for i := range s.stages {
			s.stages[i] = map[string]partial{}
		}
	}
	return s
}

// Held is how many documents the pending partial sequences hold.
func (s *Stream) Held() int { return s.held }

// Oldest is the id of the first document of the oldest pending partial
// sequence; false when none is pending.
func (s *Stream) Oldest() (id int, ok bool) {
	for _, st := range s.stages {
		for _, p := range st {
			if !ok || p.events[0] < id {
				id, ok = p.events[0], true
			}
		}
	}
	return id, ok
}

// Push runs one document, which the caller names id, through the query.
// It reports whether the stream keeps the document in a pending partial
// sequence (a later match may rest on it).
func (s *Stream) Push(d core.Doc, id int) (kept bool) {
	q := s.q
	if !q.Sequence {
		if q.Steps[0].matches(d) {
			s.emit(Match{Events: []int{id}, Docs: []core.Doc{d}})
		}
		return false
	}
	t := d.Time(TimeField)
	if t.After(s.now) {
		s.now = t
	}
	if s.n++; q.MaxSpan > 0 && s.n%sweepEvery == 0 {
		s.sweep()
	}
	if q.Until != nil && q.Until.matches(d) {
		if k, ok := q.key(q.Until, d); ok {
			for _, st := range s.stages {
				s.drop(st, k)
			}
		}
	}
	// Later stages first, so that one event advances a sequence once.
	for i := len(q.Steps) - 1; i >= 0; i-- {
		st := &q.Steps[i]
		if !st.matches(d) {
			continue
		}
		k, ok := q.key(st, d)
		if !ok {
			continue
		}
		if i == 0 {
			s.drop(s.stages[0], k)
			s.hold(0, k, partial{events: []int{id}, docs: []core.Doc{d}, start: t})
			kept = true
			continue
		}
		prev, ok := s.stages[i-1][k]
		if !ok {
			continue
		}
		s.drop(s.stages[i-1], k)
		if q.MaxSpan > 0 && t.Sub(prev.start) > q.MaxSpan {
			continue
		}
		next := partial{events: append(append([]int(nil), prev.events...), id), docs: append(append([]core.Doc(nil), prev.docs...), d), start: prev.start}
		if i == len(q.Steps)-1 {
			s.emit(Match{Events: next.events, Docs: next.docs})
			continue
		}
		s.drop(s.stages[i], k)
		s.hold(i, k, next)
		kept = true
	}
	return kept
}

func (s *Stream) hold(stage int, k string, p partial) {
	s.stages[stage][k] = p
	s.held += len(p.docs)
}

func (s *Stream) drop(stage map[string]partial, k string) {
	if p, ok := stage[k]; ok {
		delete(stage, k)
		s.held -= len(p.docs)
	}
}

// sweep drops the partial sequences that can no longer complete: their
// first event is more than maxspan before the latest document.
func (s *Stream) sweep() {
	for _, st := range s.stages {
		for k, p := range st {
			if s.now.Sub(p.start) > s.q.MaxSpan {
				s.drop(st, k)
			}
		}
	}
}

func (q *Query) key(st *Step, d core.Doc) (string, bool) {
	var b strings.Builder
	for _, list := range [][]string{q.By, st.By} {
		for _, f := range list {
			name, optional := strings.CutPrefix(f, "?")
			v := d.Get(name)
			if v.IsNull() && !optional {
				// Only optional join keys may be null.
				return "", false
			}
			b.WriteString(v.String())
			b.WriteByte(0)
		}
	}
	return b.String(), true
}

// Explain says why docs give no match: for an event query, which condition
// the closest event of the category fails on which field values; for a
// sequence, how far the steps got.
func (q *Query) Explain(docs []core.Doc) string {
	x := q.Explainer()
	for _, i := range q.order(docs) {
		x.Add(docs[i], i)
	}
	return x.String()
}

// Explainer follows documents one at a time and says, at the end, why they
// give no match, holding per step only counts and the closest document.
type Explainer struct {
	q       *Query
	run     *Stream
	matches int
	total   int
	steps   []stepCount
}

type stepCount struct {
	cands, matched int
	closest        *core.Closest
}

// Explainer starts an explanation over documents pushed in time order.
func (q *Query) Explainer() *Explainer {
	x := &Explainer{q: q, steps: make([]stepCount, len(q.Steps))}
	x.run = q.Stream(func(Match) { x.matches++ })
	for i, st := range q.Steps {
		x.steps[i].closest = core.NewClosest(q.src, st.Cond)
	}
	return x
}

// Add offers the next document, which the caller names id.
func (x *Explainer) Add(d core.Doc, id int) {
	x.total++
	x.run.Push(d, id)
	for i := range x.q.Steps {
		st, c := &x.q.Steps[i], &x.steps[i]
		if !st.inCategory(d) {
			continue
		}
		c.cands++
		if core.Truthy(st.Cond.Eval(d)) {
			c.matched++
		}
		c.closest.Add(d)
	}
}

func (x *Explainer) String() string {
	q := x.q
	if x.matches > 0 {
		return "the query matches"
	}
	var b strings.Builder
	for n, st := range q.Steps {
		c := x.steps[n]
		if q.Sequence {
			fmt.Fprintf(&b, "step %d: ", n+1)
		}
		switch {
		case c.cands == 0:
			fmt.Fprintf(&b, "no %s event among %d events", st.Category, x.total)
		case c.matched > 0:
			fmt.Fprintf(&b, "%d of %d %s events match", c.matched, c.cands, st.Category)
		default:
			fmt.Fprintf(&b, "none of %d %s events match; %s", c.cands, st.Category, c.closest.String())
		}
		b.WriteString("\n")
	}
	if q.Sequence {
		fmt.Fprintf(&b, "no events joined in order on %s", strings.Join(q.By, ", "))
		if q.MaxSpan > 0 {
			fmt.Fprintf(&b, " within %s", q.MaxSpan)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
