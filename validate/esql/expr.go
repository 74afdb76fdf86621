package esql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/t1567001/harness/validate/core"
)

func (p parser) expr() (core.Expr, error) { return p.Or(p.comparison) }

func (p parser) comparison() (core.Expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	s, _ := l.Span()
	t := p.Peek()
	negate := false
	if t.Is("is") {
		p.Next()
		if p.Peek().Is("not") {
			p.Next()
			negate = true
		}
		n, err := p.Expect("null")
		if err != nil {
			return nil, err
		}
		return core.NewCmp(core.Pos{Start: s, End: n.End}, core.OpEq, l, []core.Expr{&core.Lit{Pos: core.Pos{Start: n.Pos, End: n.End}}}, false, negate)
	}
	if t.Is("not") {
		p.Next()
		negate = true
		t = p.Peek()
	}
	op := ""
	switch {
	case !negate && (t.Is("==") || t.Is("!=") || t.Is("<") || t.Is("<=") || t.Is(">") || t.Is(">=")):
		op = t.Text
	case t.Is("in"):
		op = core.OpIn
	case t.Is("like"):
		op = core.OpWildcard
	case t.Is("rlike"):
		op = core.OpRegex
	case t.Is("="):
		return nil, p.ErrAt(t, "use == to compare")
	default:
		if negate {
			return nil, p.ErrAt(t, "expected in, like or rlike after not")
		}
		return l, nil
	}
	p.Next()
	var rhs []core.Expr
	end := 0
	if op == core.OpIn {
		var cl core.Token
		var err error
		if rhs, cl, err = p.List(false, p.operand); err != nil {
			return nil, err
		}
		end = cl.End
	} else {
		x, err := p.operand()
		if err != nil {
			return nil, err
		}
		rhs = []core.Expr{x}
		_, end = x.Span()
	}
	if op == core.OpNe {
		op, negate = core.OpEq, true
	}
	c, err := core.NewCmp(core.Pos{Start: s, End: end}, op, l, rhs, false, negate)
	if err != nil {
		return nil, core.ErrorAt("esql", p.Src, s, "%v", err)
	}
	return c, nil
}

func (p parser) operand() (core.Expr, error) {
	t := p.Next()
	pos := core.Pos{Start: t.Pos, End: t.End}
	switch {
	case t.Is("("):
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.Expect(")"); err != nil {
			return nil, err
		}
		return x, nil
	case t.Kind == core.TString:
		return &core.Lit{Pos: pos, V: core.StringValue(t.Val)}, nil
	case t.Kind == core.TNumber:
		f, err := strconv.ParseFloat(t.Val, 64)
		if err != nil {
			return nil, p.ErrAt(t, "bad number %q", t.Text)
		}
		return &core.Lit{Pos: pos, V: core.NumberValue(f)}, nil
	case t.Is("true"), t.Is("false"):
		return &core.Lit{Pos: pos, V: core.BoolValue(t.Is("true"))}, nil
	case t.Is("null"):
		return &core.Lit{Pos: pos}, nil
	case t.Kind == core.TIdent:
		if nt := p.Peek(); nt.Is("(") {
			return p.call(t)
		}
		return &core.Field{Pos: pos, Name: t.Val}, nil
	}
	return nil, p.ErrAt(t, "expected a field, a value or (, found %s", t.Describe())
}

func (p parser) call(name core.Token) (core.Expr, error) {
	args, cl, err := p.List(true, p.expr)
	if err != nil {
		return nil, err
	}
	fn, err := scalar(strings.ToLower(name.Val), len(args))
	if err != nil {
		return nil, p.ErrAt(name, "%v", err)
	}
	return &core.Call{Pos: core.Pos{Start: name.Pos, End: cl.End}, Name: name.Val, Args: args, Fn: fn}, nil
}

func scalar(name string, n int) (func([]core.Value) core.Value, error) {
	arity := map[string]int{"mv_contains": 2, "to_lower": 1, "to_upper": 1, "length": 1, "coalesce": -1}
	want, ok := arity[name]
	if !ok {
		return nil, fmt.Errorf("function %s() is not supported", name)
	}
	if want >= 0 && n != want || n == 0 {
		return nil, fmt.Errorf("%s() takes %d arguments, got %d", name, want, n)
	}
	str := func(v core.Value, f func(string) string) core.Value {
		if v.IsNull() {
			return v
		}
		vals := v.Values()
		out := make([]string, len(vals))
		for i, s := range vals {
			out[i] = f(s)
		}
		if len(out) == 1 {
			return core.StringValue(out[0])
		}
		return core.MultiValue(out)
	}
	switch name {
	case "mv_contains":
		// true when every value of the second argument is among the first's.
		return func(a []core.Value) core.Value {
			if a[0].IsNull() || a[1].IsNull() {
				return core.BoolValue(a[1].IsNull())
			}
			have := map[string]bool{}
			for _, s := range a[0].Values() {
				have[s] = true
			}
			for _, s := range a[1].Values() {
				if !have[s] {
					return core.BoolValue(false)
				}
			}
			return core.BoolValue(true)
		}, nil
	case "to_lower":
		return func(a []core.Value) core.Value { return str(a[0], strings.ToLower) }, nil
	case "to_upper":
		return func(a []core.Value) core.Value { return str(a[0], strings.ToUpper) }, nil
	case "length":
		return core.Length, nil
	}
	return func(a []core.Value) core.Value {
		for _, v := range a {
			if !v.IsNull() {
				return v
			}
		}
		return core.Value{}
	}, nil
}
