// Package eql runs Elastic's Event Query Language as detection rules use
// it: event queries (`process where ...`), the `:` operator (case-insensitive
// and wildcards), `like`/`like~`, `regex`/`regex~`, `in`/`in~`, `?field`,
// `not`, `and`/`or`, the string functions, and `sequence [by ...] [with
// maxspan=...]` with `[...]` steps and `until`. Queries compile onto
// validate/core and run over ECS documents ([core.Doc]).
package eql

import (
	"strconv"
	"strings"
	"time"

	"github.com/t1567001/harness/validate/core"
)

// Step is one event query: a category and a condition, with the join keys
// of a sequence step.
type Step struct {
	Category string // "any" for every category
	Cond     core.Expr
	By       []string
}

// Query is a compiled EQL query.
type Query struct {
	src      string
	Steps    []Step // one for an event query; two or more for a sequence
	Sequence bool
	By       []string      // sequence-wide join keys
	MaxSpan  time.Duration // 0: unbounded
	Until    *Step
}

type parser struct{ *core.Parser }

// Parse compiles an EQL query. Errors are *core.SyntaxError with line,
// column and a caret.
func Parse(src string) (*Query, error) {
	cp, err := core.NewParser("eql", src)
	if err != nil {
		return nil, err
	}
	p := parser{cp}
	q := &Query{src: src}
	if p.Peek().Is("sequence") {
		p.Next()
		if err := p.sequence(q); err != nil {
			return nil, err
		}
	} else {
		st, err := p.step()
		if err != nil {
			return nil, err
		}
		q.Steps = []Step{st}
	}
	if t := p.Peek(); t.Is("|") {
		return nil, p.ErrAt(t, "pipes (| head, | tail, ...) are not supported")
	} else if t.Kind != core.TEOF {
		return nil, p.ErrAt(t, "unexpected %s after the query", t.Describe())
	}
	return q, nil
}

func (p parser) sequence(q *Query) error {
	q.Sequence = true
	if p.Peek().Is("by") {
		p.Next()
		by, err := p.fieldList()
		if err != nil {
			return err
		}
		q.By = by
	}
	if p.Peek().Is("with") {
		p.Next()
		if _, err := p.Expect("maxspan"); err != nil {
			return err
		}
		if _, err := p.Expect("="); err != nil {
			return err
		}
		d, err := p.duration()
		if err != nil {
			return err
		}
		q.MaxSpan = d
	}
	for p.Peek().Is("[") {
		st, err := p.bracketStep()
		if err != nil {
			return err
		}
		q.Steps = append(q.Steps, st)
	}
	if len(q.Steps) < 2 {
		return p.ErrAt(p.Peek(), "a sequence needs at least two [ ... ] steps")
	}
	if p.Peek().Is("until") {
		p.Next()
		st, err := p.bracketStep()
		if err != nil {
			return err
		}
		q.Until = &st
	}
	return nil
}

func (p parser) bracketStep() (Step, error) {
	if _, err := p.Expect("["); err != nil {
		return Step{}, err
	}
	st, err := p.step()
	if err != nil {
		return st, err
	}
	if _, err := p.Expect("]"); err != nil {
		return st, err
	}
	if p.Peek().Is("by") {
		p.Next()
		if st.By, err = p.fieldList(); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (p parser) fieldList() ([]string, error) {
	var out []string
	for {
		t := p.Next()
		opt := ""
		if f := p.Peek(); t.Is("?") && f.Kind == core.TIdent && f.Pos == t.End {
			// An optional join key may be null.
			opt, t = "?", p.Next()
		}
		if t.Kind != core.TIdent {
			return nil, p.ErrAt(t, "expected a field name, found %s", t.Describe())
		}
		out = append(out, opt+t.Val)
		if !p.Peek().Is(",") {
			return out, nil
		}
		p.Next()
	}
}

func (p parser) duration() (time.Duration, error) {
	t := p.Next()
	if t.Kind != core.TNumber {
		return 0, p.ErrAt(t, "expected a duration such as 10s, found %s", t.Describe())
	}
	n, err := strconv.Atoi(t.Val)
	if err != nil {
		return 0, p.ErrAt(t, "bad duration %q", t.Text)
	}
	u := p.Peek()
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	if u.Kind == core.TIdent && u.Pos == t.End {
		p.Next()
		d, ok := units[strings.ToLower(u.Val)]
		if !ok {
			return 0, p.ErrAt(u, "unknown time unit %q (ms, s, m, h, d)", u.Val)
		}
		return time.Duration(n) * d, nil
	}
	// A bare number is milliseconds.
	return time.Duration(n) * time.Millisecond, nil
}

func (p parser) step() (Step, error) {
	t := p.Next()
	if t.Kind != core.TIdent && t.Kind != core.TString {
		return Step{}, p.ErrAt(t, "expected an event category (process, network, any, ...), found %s", t.Describe())
	}
	st := Step{Category: strings.ToLower(t.Val)}
	if _, err := p.Expect("where"); err != nil {
		return st, err
	}
	cond, err := p.Or(p.comparison)
	if err != nil {
		return st, err
	}
	st.Cond = cond
	return st, nil
}

func (p parser) comparison() (core.Expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.Peek()
	negate := false
	if t.Is("not") && p.PeekAt(1).Kind != core.TEOF && (p.PeekAt(1).Is("in") || p.PeekAt(1).Is("in~")) {
		p.Next()
		negate = true
		t = p.Peek()
	}
	op, fold := "", false
	switch {
	case t.Is("=="), t.Is("!="), t.Is("<"), t.Is("<="), t.Is(">"), t.Is(">="):
		op = t.Text
	case t.Is(":"):
		op, fold = core.OpWildcard, true
	case t.Is("in"):
		op = core.OpIn
	case t.Is("like"):
		op = core.OpWildcard
	case t.Is("regex"):
		op = core.OpRegex
	case t.Is("="):
		return nil, p.ErrAt(t, "use == to compare (or : for case-insensitive matching)")
	default:
		if negate {
			return nil, p.ErrAt(t, "expected in after not")
		}
		return l, nil
	}
	p.Next()
	if tl := p.Peek(); tl.Is("~") && tl.Pos == t.End && t.Kind == core.TIdent {
		p.Next()
		fold = true
	}
	var rhs []core.Expr
	if p.Peek().Is("(") && (op == core.OpIn || op == core.OpWildcard || op == core.OpRegex) {
		var err error
		if rhs, _, err = p.List(false, p.operand); err != nil {
			return nil, err
		}
	} else {
		if op == core.OpIn {
			return nil, p.ErrAt(p.Peek(), "in needs a parenthesised list")
		}
		x, err := p.operand()
		if err != nil {
			return nil, err
		}
		rhs = []core.Expr{x}
	}
	if op == core.OpNe {
		op, negate = core.OpEq, true
	}
	if op == core.OpWildcard || op == core.OpRegex {
		for _, r := range rhs {
			if _, ok := r.(*core.Lit); !ok {
				s, _ := r.Span()
				return nil, core.ErrorAt("eql", p.Src, s, "the right side of %s must be a string literal", t.Text)
			}
		}
	}
	s, _ := l.Span()
	_, e := rhs[len(rhs)-1].Span()
	if p.Prev().Is(")") {
		e = p.Prev().End
	}
	c, err := core.NewCmp(core.Pos{Start: s, End: e}, op, l, rhs, fold, negate)
	if err != nil {
		return nil, core.ErrorAt("eql", p.Src, s, "%v", err)
	}
	return c, nil
}

func (p parser) operand() (core.Expr, error) {
	t := p.Next()
	pos := core.Pos{Start: t.Pos, End: t.End}
	switch {
	case t.Is("("):
		x, err := p.Or(p.comparison)
		if err != nil {
			return nil, err
		}
		cl, err := p.Expect(")")
		if err != nil {
			return nil, err
		}
		return core.WithSpan(x, t.Pos, cl.End), nil
	case t.Kind == core.TString:
		return &core.Lit{Pos: pos, V: core.StringValue(t.Val)}, nil
	case t.Kind == core.TNumber:
		f, err := strconv.ParseFloat(t.Val, 64)
		if err != nil {
			return nil, p.ErrAt(t, "bad number %q", t.Text)
		}
		return &core.Lit{Pos: pos, V: core.NumberValue(f)}, nil
	case t.Is("-"):
		n := p.Next()
		f, err := strconv.ParseFloat(n.Val, 64)
		if n.Kind != core.TNumber || err != nil {
			return nil, p.ErrAt(n, "expected a number after -")
		}
		return &core.Lit{Pos: core.Pos{Start: t.Pos, End: n.End}, V: core.NumberValue(-f)}, nil
	case t.Is("true"), t.Is("false"):
		return &core.Lit{Pos: pos, V: core.BoolValue(t.Is("true"))}, nil
	case t.Is("null"):
		return &core.Lit{Pos: pos}, nil
	case t.Is("?"):
		f := p.Next()
		if f.Kind != core.TIdent || f.Pos != t.End {
			return nil, p.ErrAt(f, "expected a field name after ?")
		}
		return &core.Field{Pos: core.Pos{Start: t.Pos, End: f.End}, Name: f.Val, Optional: true}, nil
	case t.Kind == core.TIdent:
		if nt := p.Peek(); nt.Is("(") && nt.Pos == t.End || nt.Is("~") && nt.Pos == t.End {
			return p.call(t)
		}
		return &core.Field{Pos: pos, Name: t.Val}, nil
	}
	return nil, p.ErrAt(t, "expected a field, a value or (, found %s", t.Describe())
}

func (p parser) call(name core.Token) (core.Expr, error) {
	fold := false
	if p.Peek().Is("~") {
		p.Next()
		fold = true
	}
	args, cl, err := p.List(true, func() (core.Expr, error) { return p.Or(p.comparison) })
	if err != nil {
		return nil, err
	}
	fn, err := function(name.Val, fold, len(args))
	if err != nil {
		return nil, p.ErrAt(name, "%v", err)
	}
	return &core.Call{Pos: core.Pos{Start: name.Pos, End: cl.End}, Name: name.Val, Args: args, Fn: fn}, nil
}
