package spl

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// expr is a compiled where/eval expression.
type expr interface {
	eval(r *record) Value
}

type litExpr struct{ v Value }

func (e *litExpr) eval(*record) Value { return e.v }

type fieldExpr struct {
	name string
	slot int
}

func (e *fieldExpr) eval(r *record) Value { return r.getSlot(e.slot, e.name) }

type negExpr struct{ x expr }

func (e *negExpr) eval(r *record) Value {
	if f, ok := e.x.eval(r).Numeric(); ok {
		return NumberValue(-f)
	}
	return Value{}
}

// arithExpr is + - * / %. Null in, null out (Splunk: "If any argument is
// null, the result is null").
type arithExpr struct {
	op   byte
	l, r expr
}

func (e *arithExpr) eval(r *record) Value {
	a, b := e.l.eval(r), e.r.eval(r)
	if a.Kind() == KindNull || b.Kind() == KindNull {
		return Value{}
	}
	x, okA := a.Numeric()
	y, okB := b.Numeric()
	if !okA || !okB {
		if e.op == '+' {
			// Splunk's + concatenates when its operands are strings.
			sa, _ := a.Text()
			sb, _ := b.Text()
			return StringValue(sa + sb)
		}
		return Value{}
	}
	switch e.op {
	case '+':
		return NumberValue(x + y)
	case '-':
		return NumberValue(x - y)
	case '*':
		return NumberValue(x * y)
	case '/':
		if y == 0 {
			return Value{}
		}
		return NumberValue(x / y)
	case '%':
		if y == 0 {
			return Value{}
		}
		return NumberValue(math.Mod(x, y))
	}
	return Value{}
}

type concatExpr struct{ l, r expr }

func (e *concatExpr) eval(r *record) Value {
	a, okA := e.l.eval(r).Text()
	b, okB := e.r.eval(r).Text()
	if !okA || !okB {
		return Value{}
	}
	return StringValue(a + b)
}

// tester is an expression with a truth value of its own, tested without
// building a Boolean Value: conditions of where, case, if, AND, OR and NOT.
type tester interface {
	test(r *record) bool
}

// truthyExpr tests an expression that is not itself a condition: only the
// Boolean true passes.
type truthyExpr struct{ x expr }

func (e truthyExpr) test(r *record) bool { return truthy(e.x.eval(r)) }

// asTester returns e as a condition.
func asTester(e expr) tester {
	if t, ok := e.(tester); ok {
		return t
	}
	return truthyExpr{e}
}

// The comparison operators, decoded once.
const (
	opEq = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

func cmpOp(op string) int {
	switch op {
	case "!=":
		return opNe
	case "<":
		return opLt
	case "<=":
		return opLe
	case ">":
		return opGt
	case ">=":
		return opGe
	}
	return opEq // "=", "=="
}

// cmpExpr is a comparison. Against a literal (the usual case, Signal="x"
// or Score>=2) the right side is kept as a value; against a string literal,
// which is never a number, the left side's text is compared directly.
type cmpExpr struct {
	op   string
	code int
	l, r expr
	lit  *Value // the right side, when it is a literal
	text bool   // lit is a string literal, whose text is str
	str  string
}

func newCmp(op string, l, r expr) expr {
	e := &cmpExpr{op: op, code: cmpOp(op), l: l, r: r}
	if x, ok := r.(*litExpr); ok {
		e.lit = &x.v
		e.str, e.text = x.v.Text()
		e.text = e.text && x.v.Kind() == KindString
		if _, ok := l.(*litExpr); ok {
			// Two literals: decided once (1==1, the catch-all of case).
			return &litExpr{v: BoolValue(e.test(nil))}
		}
	}
	return e
}

func (e *cmpExpr) eval(r *record) Value { return BoolValue(e.test(r)) }

func (e *cmpExpr) test(r *record) bool {
	var c int
	switch {
	case e.text:
		// compareValues with a string literal compares text.
		s, ok := e.l.eval(r).Text()
		if !ok {
			return false
		}
		if e.code == opEq {
			return s == e.str
		}
		c = strings.Compare(s, e.str)
	default:
		rv := e.lit
		if rv == nil {
			v := e.r.eval(r)
			rv = &v
		}
		var ok bool
		if c, ok = compareValues(e.l.eval(r), *rv); !ok {
			return false
		}
	}
	switch e.code {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

// logicExpr is AND, OR and XOR; a non-Boolean operand counts as false.
type logicExpr struct {
	op   string
	l, r tester
}

func newLogic(op string, l, r expr) expr { return &logicExpr{op: op, l: asTester(l), r: asTester(r)} }

func (e *logicExpr) eval(r *record) Value { return BoolValue(e.test(r)) }

func (e *logicExpr) test(r *record) bool {
	a := e.l.test(r)
	switch e.op {
	case "AND":
		return a && e.r.test(r)
	case "OR":
		return a || e.r.test(r)
	}
	return a != e.r.test(r)
}

type notExpr struct{ x tester }

func newNot(x expr) expr { return &notExpr{x: asTester(x)} }

func (e *notExpr) eval(r *record) Value { return BoolValue(e.test(r)) }
func (e *notExpr) test(r *record) bool  { return !e.x.test(r) }

// caseExpr is case(condition, value, ...) and if(condition, then, else):
// the value of the first true condition, else (null for case). A null or
// non-Boolean condition counts as false.
type caseExpr struct {
	conds []tester
	vals  []expr
	els   expr
}

func newCase(args []expr) expr {
	e := &caseExpr{}
	for i := 0; i+1 < len(args); i += 2 {
		e.conds = append(e.conds, asTester(args[i]))
		e.vals = append(e.vals, args[i+1])
	}
	return e
}

func newIf(args []expr) expr {
	return &caseExpr{conds: []tester{asTester(args[0])}, vals: args[1:2], els: args[2]}
}

func (e *caseExpr) eval(r *record) Value {
	for i, c := range e.conds {
		if c.test(r) {
			return e.vals[i].eval(r)
		}
	}
	if e.els != nil {
		return e.els.eval(r)
	}
	return Value{}
}

// callExpr is a function whose arguments are evaluated by the function, so
// that case, if and coalesce stay lazy and no argument slice is allocated.
type callExpr struct {
	name string
	args []expr
	fn   func(r *record, args []expr) Value
	bool bool // returns a Boolean
}

func (e *callExpr) eval(r *record) Value { return e.fn(r, e.args) }

// matchExpr is match(X, regex): an unanchored regular expression search.
// Splunk: a null X does not match.
type matchExpr struct {
	x   expr
	re  *regexp.Regexp
	lit *literalMatcher // equivalent fast path, when the regex allows one
	// last, on a copy only one stream uses (a specialised one), is the
	// last text matched and its result: a stream's events mostly repeat
	// a host or a parent image.
	last *lastMatch
}

type lastMatch struct {
	s     string
	match bool
	set   bool
}

func (e *matchExpr) eval(r *record) Value { return BoolValue(e.test(r)) }

func (e *matchExpr) test(r *record) bool {
	s, ok := e.x.eval(r).Text()
	if !ok {
		return false
	}
	if m := e.last; m != nil {
		if !m.set || s != m.s {
			m.s, m.match, m.set = s, e.matchText(s), true
		}
		return m.match
	}
	return e.matchText(s)
}

func (e *matchExpr) matchText(s string) bool {
	if e.lit != nil {
		return e.lit.Match(s)
	}
	return e.re.MatchString(s)
}

type replaceExpr struct {
	x    expr
	re   *regexp.Regexp
	repl string
}

func (e *replaceExpr) eval(r *record) Value {
	s, ok := e.x.eval(r).Text()
	if !ok {
		return Value{}
	}
	return StringValue(e.re.ReplaceAllString(s, e.repl))
}

// likeExpr is like(X, pattern) and X LIKE pattern: SQL wildcards, % for any
// run of characters and _ for exactly one, matched case-sensitively.
type likeExpr struct {
	x, pat expr
}

func (e *likeExpr) eval(r *record) Value {
	s, ok := e.x.eval(r).Text()
	p, okP := e.pat.eval(r).Text()
	return BoolValue(ok && okP && likeMatch(s, p))
}

type inExpr struct {
	x    expr
	list []expr
}

func (e *inExpr) eval(r *record) Value {
	v := e.x.eval(r)
	for _, l := range e.list {
		if c, ok := compareValues(v, l.eval(r)); ok && c == 0 {
			return BoolValue(true)
		}
	}
	return BoolValue(false)
}

// isBoolExpr reports whether e certainly yields a Boolean (yes), certainly
// not (no), or depends on the data (maybe: case and if).
func isBoolExpr(e expr) (yes, no bool) {
	switch e := e.(type) {
	case *cmpExpr, *logicExpr, *notExpr, *matchExpr, *likeExpr, *inExpr:
		return true, false
	case *caseExpr:
		return false, false
	case *callExpr:
		if e.bool {
			return true, false
		}
		if e.name == "coalesce" {
			return false, false
		}
		return false, true
	case *litExpr:
		return e.v.Kind() == KindBool, e.v.Kind() != KindBool
	}
	return false, true
}

// functions maps names to their arity and implementation. Bounds: -1 means
// no upper bound.
type funcDef struct {
	min, max int
	bool     bool
	fn       func(r *record, args []expr) Value
}

// lookupFunction returns the definition of an eval function. A switch rather
// than a package-level map keeps the package free of global mutable state.
func lookupFunction(name string) (funcDef, bool) {
	switch name {
	case "abs":
		return funcDef{1, 1, false, func(r *record, a []expr) Value {
			if f, ok := a[0].eval(r).Numeric(); ok {
				return NumberValue(math.Abs(f))
			}
			return Value{}
		}}, true
	case "coalesce":
		return funcDef{1, -1, false, func(r *record, a []expr) Value {
			for _, x := range a {
				if v := x.eval(r); v.Kind() != KindNull {
					return v
				}
			}
			return Value{}
		}}, true
	case "false":
		return funcDef{0, 0, true, func(*record, []expr) Value { return BoolValue(false) }}, true
	case "true":
		return funcDef{0, 0, true, func(*record, []expr) Value { return BoolValue(true) }}, true
	case "null":
		return funcDef{0, 0, false, func(*record, []expr) Value { return Value{} }}, true
	case "isnull":
		return funcDef{1, 1, true, func(r *record, a []expr) Value { return BoolValue(a[0].eval(r).Kind() == KindNull) }}, true
	case "isnotnull":
		return funcDef{1, 1, true, func(r *record, a []expr) Value {
			return BoolValue(a[0].eval(r).Kind() != KindNull)
		}}, true
	case "isnum":
		return funcDef{1, 1, true, func(r *record, a []expr) Value {
			_, ok := a[0].eval(r).Numeric()
			return BoolValue(ok)
		}}, true
	case "isstr":
		return funcDef{1, 1, true, func(r *record, a []expr) Value {
			v := a[0].eval(r)
			_, num := v.Numeric()
			return BoolValue((v.Kind() == KindString || v.Kind() == KindMulti) && !num)
		}}, true
	case "len":
		return funcDef{1, 1, false, func(r *record, a []expr) Value {
			if s, ok := a[0].eval(r).Text(); ok {
				return NumberValue(float64(utf8.RuneCountInString(s)))
			}
			return Value{}
		}}, true
	case "lower":
		return funcDef{1, 1, false, textFn(strings.ToLower)}, true
	case "upper":
		return funcDef{1, 1, false, textFn(strings.ToUpper)}, true
	case "trim":
		return funcDef{1, 2, false, trimFn(strings.Trim)}, true
	case "ltrim":
		return funcDef{1, 2, false, trimFn(strings.TrimLeft)}, true
	case "rtrim":
		return funcDef{1, 2, false, trimFn(strings.TrimRight)}, true
	case "mvcount":
		return funcDef{1, 1, false, func(r *record, a []expr) Value {
			v := a[0].eval(r)
			if v.Kind() == KindNull {
				return Value{}
			}
			return NumberValue(float64(len(v.Values())))
		}}, true
	case "round":
		return funcDef{1, 2, false, func(r *record, a []expr) Value {
			f, ok := a[0].eval(r).Numeric()
			if !ok {
				return Value{}
			}
			digits := 0.0
			if len(a) == 2 {
				if d, ok := a[1].eval(r).Numeric(); ok {
					digits = math.Trunc(d)
				}
			}
			p := math.Pow(10, digits)
			return NumberValue(math.Round(f*p) / p)
		}}, true
	// substr counts characters from 1; a negative start counts from the end.
	case "substr":
		return funcDef{2, 3, false, func(r *record, a []expr) Value {
			s, ok := a[0].eval(r).Text()
			start, okS := a[1].eval(r).Numeric()
			if !ok || !okS {
				return Value{}
			}
			runes := []rune(s)
			i := int(start)
			switch {
			case i < 0:
				i = len(runes) + i
			case i > 0:
				i--
			}
			i = max(0, min(i, len(runes)))
			j := len(runes)
			if len(a) == 3 {
				n, ok := a[2].eval(r).Numeric()
				if !ok {
					return Value{}
				}
				j = max(i, min(len(runes), i+int(n)))
			}
			return StringValue(string(runes[i:j]))
		}}, true
	case "tonumber":
		return funcDef{1, 2, false, func(r *record, a []expr) Value {
			v := a[0].eval(r)
			if v.Kind() == KindNumber {
				return v
			}
			s, ok := v.Text()
			if !ok {
				return Value{}
			}
			base := 10.0
			if len(a) == 2 {
				if base, ok = a[1].eval(r).Numeric(); !ok {
					return Value{}
				}
			}
			s = strings.TrimSpace(s)
			if base == 10 {
				if f, ok := parseNumber(s); ok {
					return NumberValue(f)
				}
				return Value{}
			}
			if base == 16 {
				s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
			}
			if base < 2 || base > 36 {
				return Value{}
			}
			n, err := strconv.ParseInt(s, int(base), 64)
			if err != nil {
				return Value{}
			}
			return NumberValue(float64(n))
		}}, true
	case "tostring":
		return funcDef{1, 2, false, func(r *record, a []expr) Value {
			v := a[0].eval(r)
			if v.Kind() == KindBool {
				// Splunk spells Booleans with a capital letter here.
				if b, _ := v.Bool(); b {
					return StringValue("True")
				}
				return StringValue("False")
			}
			if len(a) == 2 {
				format, _ := a[1].eval(r).Text()
				if f, ok := v.Numeric(); ok && format == "hex" {
					return StringValue("0x" + strings.ToUpper(strconv.FormatInt(int64(f), 16)))
				}
			}
			s, ok := v.Text()
			if !ok {
				return Value{}
			}
			return StringValue(s)
		}}, true
	}
	return funcDef{}, false
}

func textFn(f func(string) string) func(r *record, a []expr) Value {
	return func(r *record, a []expr) Value {
		if s, ok := a[0].eval(r).Text(); ok {
			return StringValue(f(s))
		}
		return Value{}
	}
}

func trimFn(f func(string, string) string) func(r *record, a []expr) Value {
	return func(r *record, a []expr) Value {
		s, ok := a[0].eval(r).Text()
		if !ok {
			return Value{}
		}
		cut := " \t"
		if len(a) == 2 {
			if cut, ok = a[1].eval(r).Text(); !ok {
				return Value{}
			}
		}
		return StringValue(f(s, cut))
	}
}

// pcreOnly names the first construct in re that PCRE accepts but RE2 does
// not, or returns "" when there is none.
func pcreOnly(re string) string {
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c == '\\' && i+1 < len(re) {
			n := re[i+1]
			if !inClass {
				switch {
				case n >= '1' && n <= '9':
					return "backreference \\" + string(n)
				case n == 'k' || n == 'g':
					return "backreference \\" + string(n)
				case n == 'K':
					return "match reset \\K"
				}
			}
			i++
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
			if i+1 < len(re) && re[i+1] == ']' {
				i++
			} else if i+2 < len(re) && re[i+1] == '^' && re[i+2] == ']' {
				i += 2
			}
		case '(':
			rest := re[i:]
			for _, p := range []struct{ prefix, name string }{
				{"(?=", "lookahead (?=...)"}, {"(?!", "negative lookahead (?!...)"},
				{"(?<=", "lookbehind (?<=...)"}, {"(?<!", "negative lookbehind (?<!...)"},
				{"(?>", "atomic group (?>...)"}, {"(?|", "branch reset (?|...)"},
				{"(?P=", "backreference (?P=name)"}, {"(?P>", "subroutine call (?P>name)"},
				{"(?R)", "recursion (?R)"}, {"(?(", "conditional (?(...)...)"},
			} {
				if strings.HasPrefix(rest, p.prefix) {
					return p.name
				}
			}
		case '*', '+', '?', '}':
			if i+1 < len(re) && re[i+1] == '+' {
				return "possessive quantifier " + re[i:i+2]
			}
		}
	}
	return ""
}
