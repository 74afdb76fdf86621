package eql

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/t1567001/harness/validate/core"
)

// Match is one result: the indexes, in docs, of the event an event query
// matched or of a sequence's events in order.
type Match struct {
	Events []int
}

// CategoryField and TimeField are the ECS fields an event category and a
// sequence's clock are read from.
const (
	CategoryField = "event.category"
	TimeField     = "@timestamp"
)

func (st *Step) matches(d core.Doc) bool {
	if st.Category != "any" {
		found := false
		for _, c := range d.Get(CategoryField).Values() {
			if strings.EqualFold(c, st.Category) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return core.Truthy(st.Cond.Eval(d))
}

// Run evaluates the query over docs.
func (q *Query) Run(docs []core.Doc) []Match {
	if !q.Sequence {
		var out []Match
		for i, d := range docs {
			if q.Steps[0].matches(d) {
				out = append(out, Match{Events: []int{i}})
			}
		}
		return out
	}
	return q.runSequence(docs)
}

type partial struct {
	events []int
	start  time.Time
}

func (q *Query) key(st *Step, d core.Doc) (string, bool) {
	var b strings.Builder
	for _, f := range append(append([]string(nil), q.By...), st.By...) {
		name, optional := strings.CutPrefix(f, "?")
		v := d.Get(name)
		if v.IsNull() && !optional {
			// Only optional join keys may be null.
			return "", false
		}
		b.WriteString(v.String())
		b.WriteByte(0)
	}
	return b.String(), true
}

func (q *Query) runSequence(docs []core.Doc) []Match {
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	times := make([]time.Time, len(docs))
	for i, d := range docs {
		times[i] = d.Time(TimeField)
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
	stages := make([]map[string]partial, len(q.Steps))
	for i := range stages {
		stages[i] = map[string]partial{}
	}
	var out []Match
	for _, i := range order {
		d := docs[i]
		if q.Until != nil && q.Until.matches(d) {
			if k, ok := q.key(q.Until, d); ok {
				for _, s := range stages {
					delete(s, k)
				}
			}
		}
		// Later stages first, so that one event advances a sequence once.
		for s := len(q.Steps) - 1; s >= 0; s-- {
			st := &q.Steps[s]
			if !st.matches(d) {
				continue
			}
			k, ok := q.key(st, d)
			if !ok {
				continue
			}
			if s == 0 {
				stages[0][k] = partial{events: []int{i}, start: times[i]}
				continue
			}
			prev, ok := stages[s-1][k]
			if !ok {
				continue
			}
			delete(stages[s-1], k)
			if q.MaxSpan > 0 && times[i].Sub(prev.start) > q.MaxSpan {
				continue
			}
			next := partial{events: append(append([]int(nil), prev.events...), i), start: prev.start}
			if s == len(q.Steps)-1 {
				out = append(out, Match{Events: next.events})
				continue
			}
			stages[s][k] = next
		}
	}
	return out
}

// Explain says why docs give no match: for an event query, which condition
// the closest event of the category fails on which field values; for a
// sequence, how far the steps got.
func (q *Query) Explain(docs []core.Doc) string {
	if len(q.Run(docs)) > 0 {
		return "the query matches"
	}
	var b strings.Builder
	for n, st := range q.Steps {
		var cands []core.Doc
		matched := 0
		for _, d := range docs {
			if st.Category == "any" || (&Step{Category: st.Category, Cond: &core.Lit{V: core.BoolValue(true)}}).matches(d) {
				cands = append(cands, d)
				if st.matches(d) {
					matched++
				}
			}
		}
		if q.Sequence {
			fmt.Fprintf(&b, "step %d: ", n+1)
		}
		switch {
		case len(cands) == 0:
			fmt.Fprintf(&b, "no %s event among %d events", st.Category, len(docs))
		case matched > 0:
			fmt.Fprintf(&b, "%d of %d %s events match", matched, len(cands), st.Category)
		default:
			fmt.Fprintf(&b, "none of %d %s events match; %s", len(cands), st.Category, core.ExplainConjuncts(q.src, st.Cond, cands))
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
