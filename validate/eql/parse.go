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

type parser struct {
	src  string
	toks []core.Token
	i    int
}

// Parse compiles an EQL query. Errors are *core.SyntaxError with line,
// column and a caret.
func Parse(src string) (*Query, error) {
	toks, err := core.Lex("eql", src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	q := &Query{src: src}
	if p.peek().Is("sequence") {
		p.next()
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
	if t := p.peek(); t.Is("|") {
		return nil, p.errAt(t, "pipes (| head, | tail, ...) are not supported")
	} else if t.Kind != core.TEOF {
		return nil, p.errAt(t, "unexpected %s after the query", t.Describe())
	}
	return q, nil
}

func (p *parser) peek() core.Token { return p.toks[p.i] }
func (p *parser) next() core.Token {
	t := p.toks[p.i]
	if t.Kind != core.TEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t core.Token, format string, args ...any) error {
	return core.ErrorAt("eql", p.src, t.Pos, format, args...)
}

func (p *parser) expect(s string) (core.Token, error) {
	t := p.next()
	if !t.Is(s) {
		return t, p.errAt(t, "expected %q, found %s", s, t.Describe())
	}
	return t, nil
}

func (p *parser) sequence(q *Query) error {
	q.Sequence = true
	if p.peek().Is("by") {
		p.next()
		by, err := p.fieldList()
		if err != nil {
			return err
		}
		q.By = by
	}
	if p.peek().Is("with") {
		p.next()
		if _, err := p.expect("maxspan"); err != nil {
			return err
		}
		if _, err := p.expect("="); err != nil {
			return err
		}
		d, err := p.duration()
		if err != nil {
			return err
		}
		q.MaxSpan = d
	}
	for p.peek().Is("[") {
		st, err := p.bracketStep()
		if err != nil {
			return err
		}
		q.Steps = append(q.Steps, st)
	}
	if len(q.Steps) < 2 {
		return p.errAt(p.peek(), "a sequence needs at least two [ ... ] steps")
	}
	if p.peek().Is("until") {
		p.next()
		st, err := p.bracketStep()
		if err != nil {
			return err
		}
		q.Until = &st
	}
	return nil
}

func (p *parser) bracketStep() (Step, error) {
	if _, err := p.expect("["); err != nil {
		return Step{}, err
	}
	st, err := p.step()
	if err != nil {
		return st, err
	}
	if _, err := p.expect("]"); err != nil {
		return st, err
	}
	if p.peek().Is("by") {
		p.next()
		if st.By, err = p.fieldList(); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (p *parser) fieldList() ([]string, error) {
	var out []string
	for {
		t := p.next()
		opt := ""
		if f := p.peek(); t.Is("?") && f.Kind == core.TIdent && f.Pos == t.End {
			// An optional join key may be null.
			opt, t = "?", p.next()
		}
		if t.Kind != core.TIdent {
			return nil, p.errAt(t, "expected a field name, found %s", t.Describe())
		}
		out = append(out, opt+t.Val)
		if !p.peek().Is(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) duration() (time.Duration, error) {
	t := p.next()
	if t.Kind != core.TNumber {
		return 0, p.errAt(t, "expected a duration such as 10s, found %s", t.Describe())
	}
	n, err := strconv.Atoi(t.Val)
	if err != nil {
		return 0, p.errAt(t, "bad duration %q", t.Text)
	}
	u := p.peek()
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	if u.Kind == core.TIdent && u.Pos == t.End {
		p.next()
		d, ok := units[strings.ToLower(u.Val)]
		if !ok {
			return 0, p.errAt(u, "unknown time unit %q (ms, s, m, h, d)", u.Val)
		}
		return time.Duration(n) * d, nil
	}
	// A bare number is milliseconds.
	return time.Duration(n) * time.Millisecond, nil
}

func (p *parser) step() (Step, error) {
	t := p.next()
	if t.Kind != core.TIdent && t.Kind != core.TString {
		return Step{}, p.errAt(t, "expected an event category (process, network, any, ...), found %s", t.Describe())
	}
	st := Step{Category: strings.ToLower(t.Val)}
	if _, err := p.expect("where"); err != nil {
		return st, err
	}
	cond, err := p.or()
	if err != nil {
		return st, err
	}
	st.Cond = cond
	return st, nil
}

func (p *parser) or() (core.Expr, error) {
	return p.logic(true, p.and)
}

func (p *parser) and() (core.Expr, error) {
	return p.logic(false, p.not)
}

func (p *parser) logic(or bool, sub func() (core.Expr, error)) (core.Expr, error) {
	word := "and"
	if or {
		word = "or"
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	args := []core.Expr{first}
	for p.peek().Is(word) {
		p.next()
		x, err := sub()
		if err != nil {
			return nil, err
		}
		args = append(args, x)
	}
	if len(args) == 1 {
		return first, nil
	}
	s, _ := args[0].Span()
	_, e := args[len(args)-1].Span()
	return &core.Logic{Pos: core.Pos{Start: s, End: e}, Or: or, Args: args}, nil
}

func (p *parser) not() (core.Expr, error) {
	if t := p.peek(); t.Is("not") {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		_, e := x.Span()
		return &core.Not{Pos: core.Pos{Start: t.Pos, End: e}, X: x}, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (core.Expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	negate := false
	if t.Is("not") && p.toks[p.i+1].Kind != core.TEOF && (p.toks[p.i+1].Is("in") || p.toks[p.i+1].Is("in~")) {
		p.next()
		negate = true
		t = p.peek()
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
		return nil, p.errAt(t, "use == to compare (or : for case-insensitive matching)")
	default:
		if negate {
			return nil, p.errAt(t, "expected in after not")
		}
		return l, nil
	}
	p.next()
	if tl := p.peek(); tl.Is("~") && tl.Pos == t.End && t.Kind == core.TIdent {
		p.next()
		fold = true
	}
	var rhs []core.Expr
	if p.peek().Is("(") && (op == core.OpIn || op == core.OpWildcard || op == core.OpRegex) {
		p.next()
		for {
			x, err := p.operand()
			if err != nil {
				return nil, err
			}
			rhs = append(rhs, x)
			if p.peek().Is(",") {
				p.next()
				continue
			}
			break
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
	} else {
		if op == core.OpIn {
			return nil, p.errAt(p.peek(), "in needs a parenthesised list")
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
				return nil, core.ErrorAt("eql", p.src, s, "the right side of %s must be a string literal", t.Text)
			}
		}
	}
	s, _ := l.Span()
	_, e := rhs[len(rhs)-1].Span()
	if p.toks[p.i-1].Is(")") {
		e = p.toks[p.i-1].End
	}
	c, err := core.NewCmp(core.Pos{Start: s, End: e}, op, l, rhs, fold, negate)
	if err != nil {
		return nil, core.ErrorAt("eql", p.src, s, "%v", err)
	}
	return c, nil
}

func (p *parser) operand() (core.Expr, error) {
	t := p.next()
	pos := core.Pos{Start: t.Pos, End: t.End}
	switch {
	case t.Is("("):
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		cl, err := p.expect(")")
		if err != nil {
			return nil, err
		}
		return withSpan(x, t.Pos, cl.End), nil
	case t.Kind == core.TString:
		return &core.Lit{Pos: pos, V: core.StringValue(t.Val)}, nil
	case t.Kind == core.TNumber:
		f, err := strconv.ParseFloat(t.Val, 64)
		if err != nil {
			return nil, p.errAt(t, "bad number %q", t.Text)
		}
		return &core.Lit{Pos: pos, V: core.NumberValue(f)}, nil
	case t.Is("-"):
		n := p.next()
		f, err := strconv.ParseFloat(n.Val, 64)
		if n.Kind != core.TNumber || err != nil {
			return nil, p.errAt(n, "expected a number after -")
		}
		return &core.Lit{Pos: core.Pos{Start: t.Pos, End: n.End}, V: core.NumberValue(-f)}, nil
	case t.Is("true"), t.Is("false"):
		return &core.Lit{Pos: pos, V: core.BoolValue(t.Is("true"))}, nil
	case t.Is("null"):
		return &core.Lit{Pos: pos}, nil
	case t.Is("?"):
		f := p.next()
		if f.Kind != core.TIdent || f.Pos != t.End {
			return nil, p.errAt(f, "expected a field name after ?")
		}
		return &core.Field{Pos: core.Pos{Start: t.Pos, End: f.End}, Name: f.Val, Optional: true}, nil
	case t.Kind == core.TIdent:
		if nt := p.peek(); nt.Is("(") && nt.Pos == t.End || nt.Is("~") && nt.Pos == t.End {
			return p.call(t)
		}
		return &core.Field{Pos: pos, Name: t.Val}, nil
	}
	return nil, p.errAt(t, "expected a field, a value or (, found %s", t.Describe())
}

// withSpan widens a parenthesised expression's span to its parentheses.
func withSpan(x core.Expr, s, e int) core.Expr {
	switch v := x.(type) {
	case *core.Logic:
		v.Pos = core.Pos{Start: s, End: e}
	case *core.Cmp:
		v.Pos = core.Pos{Start: s, End: e}
	case *core.Not:
		v.Pos = core.Pos{Start: s, End: e}
	}
	return x
}

func (p *parser) call(name core.Token) (core.Expr, error) {
	fold := false
	if p.peek().Is("~") {
		p.next()
		fold = true
	}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	var args []core.Expr
	for !p.peek().Is(")") {
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		args = append(args, x)
		if !p.peek().Is(",") {
			break
		}
		p.next()
	}
	cl, err := p.expect(")")
	if err != nil {
		return nil, err
	}
	fn, err := function(name.Val, fold, len(args))
	if err != nil {
		return nil, p.errAt(name, "%v", err)
	}
	return &core.Call{Pos: core.Pos{Start: name.Pos, End: cl.End}, Name: name.Val, Args: args, Fn: fn}, nil
}
