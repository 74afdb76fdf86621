package core

import (
	"fmt"
	"regexp"
	"strings"
)

// Expr is a compiled expression of EQL, KQL or ES|QL over one document.
// Boolean expressions evaluate to a Boolean value; a comparison with a null
// side is false, as in Elasticsearch.
type Expr interface {
	Eval(d Doc) Value
	// Span is the expression's byte range in the query text.
	Span() (start, end int)
}

// Pos is an expression's byte range in the query text.
type Pos struct{ Start, End int }

// Span implements Expr.
func (p Pos) Span() (int, int) { return p.Start, p.End }

// Field reads a document field. Optional fields (EQL's ?field) are null
// when absent, as every field is here; the flag is kept for explanations.
type Field struct {
	Pos
	Name     string
	Optional bool
}

// Eval implements Expr.
func (f *Field) Eval(d Doc) Value { return d.Get(f.Name) }

// Lit is a literal.
type Lit struct {
	Pos
	V Value
}

// Eval implements Expr.
func (l *Lit) Eval(Doc) Value { return l.V }

// The comparison operators of [Cmp].
const (
	OpEq       = "=="
	OpNe       = "!="
	OpLt       = "<"
	OpLe       = "<="
	OpGt       = ">"
	OpGe       = ">="
	OpIn       = "in"       // equal to one of the values
	OpWildcard = "wildcard" // '*' and '?' glob, whole value
	OpRegex    = "regex"    // whole-value regular expression
)

// Cmp compares the left side with one or more right-hand values. On a
// multivalue left side it holds when any value does, as a term query does.
// Fold compares case-insensitively; Negate inverts the result on a non-null
// left side (!=, not in); Phrase, for analyzed text fields, matches the
// right side's words in order anywhere in the text.
type Cmp struct {
	Pos
	Op     string
	L      Expr
	R      []Expr
	Fold   bool
	Negate bool
	Phrase bool
	// LiteralQuestion makes '?' an ordinary character in wildcards (KQL).
	LiteralQuestion bool
	res             []*regexp.Regexp
	// wild holds the compiled form of each literal wildcard pattern
	// without '?' (nil where a pattern needs Glob), so that matching
	// allocates nothing.
	wild []*Wildcard
}

// NewCmp builds a comparison, compiling regular expressions (anchored, as
// Lucene's are) when Op is OpRegex.
func NewCmp(pos Pos, op string, l Expr, r []Expr, fold, negate bool) (*Cmp, error) {
	c := &Cmp{Pos: pos, Op: op, L: l, R: r, Fold: fold, Negate: negate}
	if op == OpWildcard {
		c.wild = make([]*Wildcard, len(r))
		for i, x := range r {
			if lit, ok := x.(*Lit); ok {
				if p, ok := lit.V.Text(); ok && !strings.Contains(p, "?") && lit.V.Kind() != KindMulti {
					w := CompileWildcard(p, !fold)
					c.wild[i] = &w
				}
			}
		}
	}
	if op == OpRegex {
		for _, x := range r {
			s, _ := x.Eval(nil).Text()
			p := "^(?:" + s + ")$"
			if fold {
				p = "(?i)" + p
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("regular expression %q: %w", s, err)
			}
			c.res = append(c.res, re)
		}
	}
	return c, nil
}

// Eval implements Expr.
func (c *Cmp) Eval(d Doc) Value {
	lv := c.L.Eval(d)
	if len(c.R) == 1 && c.Op != OpRegex {
		if rv := c.R[0].Eval(d); rv.IsNull() && (c.Op == OpEq || c.Op == OpNe || c.Op == OpIn) {
			// field == null, field != null
			return BoolValue(lv.IsNull() != (c.Op == OpNe || c.Negate))
		}
	}
	if lv.IsNull() {
		return BoolValue(false)
	}
	hit := false
	if lv.Kind() != KindMulti {
		hit = c.one(lv, d)
	} else {
		for _, l := range elements(lv) {
			if c.one(l, d) {
				hit = true
				break
			}
		}
	}
	return BoolValue(hit != c.Negate)
}

func elements(v Value) []Value {
	if v.Kind() != KindMulti {
		return []Value{v}
	}
	out := make([]Value, 0, len(v.Values()))
	for _, s := range v.Values() {
		out = append(out, EventValue(s))
	}
	return out
}

func (c *Cmp) one(l Value, d Doc) bool {
	ls, _ := l.Text()
	if c.Op == OpRegex {
		for _, re := range c.res {
			if re.MatchString(ls) {
				return true
			}
		}
		return false
	}
	for i, x := range c.R {
		if c.wild != nil && c.wild[i] != nil && !c.Phrase {
			if c.wild[i].Match(ls) {
				return true
			}
			continue
		}
		r := x.Eval(d)
		if r.Kind() != KindMulti {
			if c.match(l, ls, r) {
				return true
			}
			continue
		}
		for _, rv := range elements(r) {
			if c.match(l, ls, rv) {
				return true
			}
		}
	}
	return false
}

func (c *Cmp) match(l Value, ls string, r Value) bool {
	if r.IsNull() {
		return false
	}
	rs, _ := r.Text()
	switch c.Op {
	case OpWildcard:
		if c.Phrase {
			return PhraseMatch(ls, rs, true)
		}
		one := byte('?')
		if c.LiteralQuestion {
			one = 0
		}
		return Glob(ls, rs, '*', one, c.Fold)
	case OpEq, OpNe, OpIn:
		if c.Phrase {
			return PhraseMatch(ls, rs, false)
		}
		if c.Fold {
			if x, ok := l.Numeric(); ok {
				if y, ok := r.Numeric(); ok {
					return x == y
				}
			}
			return strings.EqualFold(ls, rs)
		}
		n, ok := CompareValues(l, r)
		return ok && n == 0
	}
	n, ok := CompareValues(l, r)
	if !ok {
		return false
	}
	switch c.Op {
	case OpLt:
		return n < 0
	case OpLe:
		return n <= 0
	case OpGt:
		return n > 0
	case OpGe:
		return n >= 0
	}
	return false
}

// PhraseMatch is a match_phrase on an analyzed text field: the words of
// phrase (split as the standard analyzer splits, case-folded) appear in
// order and adjacent in text. With wild, a '*' in a word is a wildcard.
func PhraseMatch(text, phrase string, wild bool) bool {
	tw, pw := words(text, false), words(phrase, wild)
	if len(pw) == 0 {
		return false
	}
	for i := 0; i+len(pw) <= len(tw); i++ {
		ok := true
		for j, w := range pw {
			if !Glob(tw[i+j], w, '*', 0, false) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func words(s string, wild bool) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		if wild && r == '*' {
			return false
		}
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127 && r != '\u00a0')
	})
}

// Logic is and/or over two or more operands.
type Logic struct {
	Pos
	Or   bool
	Args []Expr
}

// Eval implements Expr.
func (e *Logic) Eval(d Doc) Value {
	for _, a := range e.Args {
		if Truthy(a.Eval(d)) == e.Or {
			return BoolValue(e.Or)
		}
	}
	return BoolValue(!e.Or)
}

// Not negates a Boolean.
type Not struct {
	Pos
	X Expr
}

// Eval implements Expr.
func (e *Not) Eval(d Doc) Value { return BoolValue(!Truthy(e.X.Eval(d))) }

// Call is a function applied to its evaluated arguments.
type Call struct {
	Pos
	Name string
	Args []Expr
	Fn   func(args []Value) Value
}

// Eval implements Expr.
func (e *Call) Eval(d Doc) Value {
	vals := make([]Value, len(e.Args))
	for i, a := range e.Args {
		vals[i] = a.Eval(d)
	}
	return e.Fn(vals)
}

// Conjuncts splits a top-level and into its operands.
func Conjuncts(e Expr) []Expr {
	if l, ok := e.(*Logic); ok && !l.Or {
		var out []Expr
		for _, a := range l.Args {
			out = append(out, Conjuncts(a)...)
		}
		return out
	}
	return []Expr{e}
}

// FieldNames lists the fields an expression reads, in order, once each.
func FieldNames(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case *Field:
			if !seen[x.Name] {
				seen[x.Name] = true
				out = append(out, x.Name)
			}
		case *Cmp:
			walk(x.L)
			for _, r := range x.R {
				walk(r)
			}
		case *Logic:
			for _, a := range x.Args {
				walk(a)
			}
		case *Not:
			walk(x.X)
		case *Call:
			for _, a := range x.Args {
				walk(a)
			}
		}
	}
	walk(e)
	return out
}
