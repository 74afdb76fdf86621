package spl

import (
	"slices"
	"strings"

	"github.com/t1567001/harness/validate/core"
)

type sOp uint8

const (
	sAnd   sOp = iota
	sOr        // children
	sNot       // kids[0]
	sCmp       // field op value
	sIn        // field IN (values): also what adjacent OR'ed field=value terms compile to
	sBare      // a term without a field
	sTrue      // a term that matches every event (time modifiers)
	sFalse     // a term that matches no event (a specialised search's, specialise.go)
)

// sNode is a node of a search expression.
type sNode struct {
	op    sOp
	kids  []*sNode
	field string
	slot  int        // the field's lookup-cache slot
	cmp   string     // "=", "!=", "<", "<=", ">", ">="
	pats  []wildcard // the value(s); one except for sIn
	// set is pats grouped by shape, for "=" (compiled by optimize).
	set   *core.WildcardSet
	num   float64 // the value as a number, for < <= > >=
	isNum bool
	text  string // source text, for explanations
	pos   int    // byte offset in the query
}

// match evaluates the node on r. Splunk: a field=value or field!=value term
// needs the field to exist, while NOT field=value matches when it is missing.
func (n *sNode) match(r *record) bool {
	if n.set != nil && len(r.over) == 0 && r.cols == nil {
		// The commonest node, a field=value term on an untouched event,
		// before the switch: a branch the processor predicts.
		s, ok := r.evLookup(n.slot, n.field)
		return ok && n.set.Match(s)
	}
	switch n.op {
	case sAnd:
		for _, k := range n.kids {
			if !k.match(r) {
				return false
			}
		}
		return true
	case sOr:
		for _, k := range n.kids {
			if k.match(r) {
				return true
			}
		}
		return false
	case sNot:
		return !n.kids[0].match(r)
	case sTrue:
		return true
	case sFalse:
		return false
	case sBare:
		return n.matchBare(r)
	}
	if len(r.over) == 0 && r.cols == nil {
		// An untouched event, as the first search sees it.
		s, ok := r.evLookup(n.slot, n.field)
		return ok && n.matchText(s)
	}
	// A later search command may see multivalue fields from stats.
	if v := r.get(n.field); v.Kind() == KindMulti {
		for _, s := range v.Values() {
			if n.matchText(s) {
				return true
			}
		}
		return false
	}
	s, ok := r.text(n.slot, n.field)
	return ok && n.matchText(s)
}

func (n *sNode) matchText(s string) bool {
	switch n.cmp {
	case "=":
		if n.set != nil {
			return n.set.Match(s)
		}
		for i := range n.pats {
			if n.pats[i].Match(s) {
				return true
			}
		}
		return false
	case "!=":
		return !n.pats[0].Match(s)
	}
	// Splunk compares numerically when both sides are numbers and
	// lexicographically otherwise.
	var c int
	if f, ok := parseNumber(s); ok && n.isNum {
		switch {
		case f < n.num:
			c = -1
		case f > n.num:
			c = 1
		}
	} else {
		c = strings.Compare(s, n.pats[0].Pattern)
	}
	switch n.cmp {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// metadata are the fields Splunk adds to an event beside its text: a bare
// term, which searches the text, never matches them.
var metadata = map[string]bool{
	"index": true, "sourcetype": true, "source": true, "host": true,
	"splunk_server": true, "linecount": true, "punct": true, "_time": true,
}

// matchBare matches a term without a field: on _raw when the event has one,
// otherwise on every field value but Splunk's metadata (events built from
// structured data have no raw text).
func (n *sNode) matchBare(r *record) bool {
	w := &n.pats[0]
	if raw, ok := r.text(-1, "_raw"); ok {
		return w.Match(raw)
	}
	found := false
	r.ev.Each(func(k, v string) bool {
		if metadata[k] || r.get(k).IsNull() && (len(r.over) > 0 || r.cols != nil) {
			return true
		}
		found = w.Match(v)
		return !found
	})
	if found {
		return true
	}
	for _, b := range r.over {
		if metadata[b.name] {
			continue
		}
		if s, ok := b.val.Text(); ok && w.Match(s) {
			return true
		}
	}
	for i, v := range r.row {
		if metadata[r.cols[i]] {
			continue
		}
		if s, ok := v.Text(); ok && w.Match(s) {
			return true
		}
	}
	return false
}

// optimize returns an equivalent tree for evaluation: nested ANDs and ORs are
// flattened, OR'ed field=value terms on one field merge into a single node
// so that the field is looked up once (the seed query ORs nine
// DestinationHostname values), and each such node's values are grouped by
// shape. The parsed tree is kept as written for Explain.
func optimize(n *sNode) *sNode {
	n = flatten(n)
	hoist(n)
	compileSets(n)
	return n
}

// hoist puts first in an AND the test that each branch of an OR in it
// makes on one field: OR(AND(F=a, ...), AND(F=b, ...)) implies F IN
// (a, b), so adding that test changes nothing it matches, and an event
// no branch can match is turned away by one lookup before the AND's
// other terms (rules branch on EventCode so). The ANDs and ORs hoist
// sees are flatten's copies, not the tree kept for Explain.
func hoist(n *sNode) {
	for _, k := range n.kids {
		hoist(k)
	}
	if n.op != sAnd {
		return
	}
	var first []*sNode
	for _, k := range n.kids {
		if k.op != sOr {
			continue
		}
		if h := implied(k); h != nil {
			first = append(first, h)
		}
	}
	if len(first) > 0 {
		n.kids = append(first, n.kids...)
	}
}

// implied returns the field=value test that every branch of or makes on
// one field, as one node matching any of their values, or nil.
func implied(or *sNode) *sNode {
	for _, cand := range equalities(or.kids[0]) {
		h := &sNode{op: sIn, field: cand.field, slot: cand.slot, cmp: "=", text: or.text, pos: or.pos}
		for _, b := range or.kids {
			i := slices.IndexFunc(equalities(b), func(t *sNode) bool { return t.field == cand.field })
			if i < 0 {
				h = nil
				break
			}
			h.pats = append(h.pats, equalities(b)[i].pats...)
		}
		if h != nil {
			return h
		}
	}
	return nil
}

// equalities are the field=value terms a match of n needs: n itself, or
// the children of an AND.
func equalities(n *sNode) []*sNode {
	isEq := func(t *sNode) bool { return t.op == sIn || t.op == sCmp && t.cmp == "=" }
	if isEq(n) {
		return []*sNode{n}
	}
	if n.op != sAnd {
		return nil
	}
	var out []*sNode
	for _, k := range n.kids {
		if isEq(k) {
			out = append(out, k)
		}
	}
	return out
}

func compileSets(n *sNode) {
	for _, k := range n.kids {
		compileSets(k)
	}
	if (n.op == sCmp || n.op == sIn) && n.cmp == "=" && n.set == nil {
		set := core.NewWildcardSet(n.pats)
		n.set = &set
	}
}

func flatten(n *sNode) *sNode {
	switch n.op {
	case sAnd, sOr:
		var kids []*sNode
		for _, k := range n.kids {
			k = flatten(k)
			if k.op == n.op {
				kids = append(kids, k.kids...)
			} else {
				kids = append(kids, k)
			}
		}
		if n.op == sOr {
			kids = mergeOr(kids)
		}
		if len(kids) == 1 {
			return kids[0]
		}
		c := *n
		c.kids = kids
		return &c
	case sNot:
		c := *n
		c.kids = []*sNode{flatten(n.kids[0])}
		return &c
	}
	return n
}

func mergeOr(kids []*sNode) []*sNode {
	var out []*sNode
	merged := map[*sNode]bool{} // nodes built here, safe to extend in place
	for _, k := range kids {
		eq := k.op == sIn || (k.op == sCmp && k.cmp == "=")
		if eq && len(out) > 0 {
			prev := out[len(out)-1]
			if (prev.op == sIn || (prev.op == sCmp && prev.cmp == "=")) && prev.field == k.field {
				if !merged[prev] {
					m := &sNode{op: sIn, field: prev.field, slot: prev.slot, cmp: "=", text: prev.text, pos: prev.pos}
					m.pats = append([]wildcard(nil), prev.pats...)
					merged[m] = true
					out[len(out)-1] = m
					prev = m
				}
				prev.pats = append(prev.pats, k.pats...)
				continue
			}
		}
		out = append(out, k)
	}
	return out
}

// Trace reports how one node of a search expression evaluated on an event:
// the Boolean structure (Op is AND, OR or NOT with Children) and, for leaf
// terms, the field, the pattern(s) as the engine saw them after unescaping and
// the event's actual value. Every child is evaluated, without short-circuit,
// so that a trace shows all the terms that failed.
type Trace struct {
	Op       string   // "AND", "OR", "NOT", or for a leaf "=", "!=", "<", "<=", ">", ">=", "IN", "TERM", "TRUE"
	Text     string   // the node's text in the query, e.g. Image="*\\git.exe"
	Field    string   // leaf: the field tested ("_raw" for a bare term, "" when the event has no _raw)
	Patterns []string // leaf: the value(s) after unescaping, e.g. *\git.exe
	Actual   string   // leaf: the field's value on the event
	Present  bool     // leaf: whether the field exists on the event
	Matched  bool
	Line     int // position of the node in the query
	Column   int
	Children []*Trace
}

func (n *sNode) explain(pt *posTracker, r *record) *Trace {
	t := &Trace{Text: n.text}
	t.Line, t.Column = pt.at(n.pos)
	switch n.op {
	case sAnd, sOr:
		t.Op = "AND"
		if n.op == sOr {
			t.Op = "OR"
		}
		t.Matched = n.op == sAnd
		for _, k := range n.kids {
			c := k.explain(pt, r)
			t.Children = append(t.Children, c)
			if n.op == sAnd {
				t.Matched = t.Matched && c.Matched
			} else {
				t.Matched = t.Matched || c.Matched
			}
		}
		return t
	case sNot:
		t.Op = "NOT"
		c := n.kids[0].explain(pt, r)
		t.Children = []*Trace{c}
		t.Matched = !c.Matched
		return t
	case sTrue:
		t.Op = "TRUE"
		t.Matched = true
		return t
	case sBare:
		t.Op = "TERM"
		if raw, ok := r.text(-1, "_raw"); ok {
			t.Field, t.Actual, t.Present = "_raw", raw, true
		}
	case sIn:
		t.Op = "IN"
	default:
		t.Op = n.cmp
	}
	if n.op != sBare {
		t.Field = n.field
		t.Actual, t.Present = r.text(-1, n.field)
	}
	for _, p := range n.pats {
		t.Patterns = append(t.Patterns, p.Pattern)
	}
	t.Matched = n.match(r)
	return t
}

// Leaves returns the leaf terms of the trace in query order.
func (t *Trace) Leaves() []*Trace {
	if len(t.Children) == 0 {
		return []*Trace{t}
	}
	var out []*Trace
	for _, c := range t.Children {
		out = append(out, c.Leaves()...)
	}
	return out
}

// String renders the trace as an indented tree, one node per line, marking
// each node matched ("ok") or not ("no") and giving leaves' actual values.
func (t *Trace) String() string {
	var b strings.Builder
	t.write(&b, 0)
	return b.String()
}

func (t *Trace) write(b *strings.Builder, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	if t.Matched {
		b.WriteString("[ok] ")
	} else {
		b.WriteString("[no] ")
	}
	if len(t.Children) > 0 {
		b.WriteString(t.Op)
		b.WriteByte('\n')
		for _, c := range t.Children {
			c.write(b, depth+1)
		}
		return
	}
	b.WriteString(t.Text)
	switch {
	case t.Op == "TRUE":
	case t.Field == "":
		b.WriteString(": no _raw; searched every field value")
	case !t.Present:
		b.WriteString(": field " + t.Field + " is absent")
	default:
		b.WriteString(": " + t.Field + " is " + quote(t.Actual))
	}
	b.WriteByte('\n')
}

func quote(s string) string { return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\"" }
