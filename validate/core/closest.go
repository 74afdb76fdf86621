package core

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Closest follows documents one at a time and keeps the one nearest to
// meeting a condition, so that a miss is explained without holding the
// documents: the most top-level conditions met, then the most of the
// condition's fields present (a document that has the field a condition
// tests says more about why it fails than one that lacks it).
type Closest struct {
	src          string
	parts        []Expr
	fields       []string
	best         Doc
	bestN, bestF int
}

// NewClosest starts looking for the document closest to cond; src is the
// query text the expression spans index.
func NewClosest(src string, cond Expr) *Closest {
	return &Closest{src: src, parts: Conjuncts(cond), fields: FieldNames(cond), bestN: -1, bestF: -1}
}

// Add offers one document; the first of equally close ones is kept.
func (c *Closest) Add(d Doc) {
	n, f := 0, 0
	for _, p := range c.parts {
		if Truthy(p.Eval(d)) {
			n++
		}
	}
	for _, name := range c.fields {
		if !d.Get(name).IsNull() {
			f++
		}
	}
	if n > c.bestN || n == c.bestN && f > c.bestF {
		c.best, c.bestN, c.bestF = d, n, f
	}
}

// String says which of the conditions the closest document meets and
// which it fails, on what values.
func (c *Closest) String() string {
	if c.bestN < 0 {
		return "no event to match"
	}
	d := c.best
	var b strings.Builder
	fmt.Fprintf(&b, "closest event meets %d of %d conditions", c.bestN, len(c.parts))
	for _, p := range c.parts {
		ok := Truthy(p.Eval(d))
		mark := "ok  "
		if !ok {
			mark = "FAIL"
		}
		s, e := p.Span()
		text := strings.Join(strings.Fields(c.src[s:e]), " ")
		if len(text) > 120 {
			text = text[:117] + "..."
		}
		fmt.Fprintf(&b, "\n  %s %s", mark, text)
		if !ok {
			var vals []string
			for _, f := range FieldNames(p) {
				v := d.Get(f).String()
				if len(v) > 200 {
					v = v[:197] + "..."
				}
				vals = append(vals, f+"="+strings.ReplaceAll(v, "\n", " "))
			}
			sort.Strings(vals)
			fmt.Fprintf(&b, "  [%s]", strings.Join(vals, ", "))
		}
	}
	return b.String()
}

// InTimeOrder returns the indexes of docs in the order of their date
// field (stable; a document without one comes first).
func InTimeOrder(docs []Doc, field string) []int {
	order := make([]int, len(docs))
	times := make([]time.Time, len(docs))
	for i, d := range docs {
		order[i], times[i] = i, d.Time(field)
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
	return order
}

// MaxSources is the most events a result row that aggregates (stats, a
// threshold) names as its sources: the first ones. Its counts and values
// cover every event; only the list is cut, so that a group of millions of
// events is held in constant memory.
const MaxSources = 1000
