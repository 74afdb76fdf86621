package sigma

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// The condition grammar (Sigma specification v2), parsed here: sigma-go
// v0.6.6's lexer rejects identifiers such as "sel_1*" or "selection-a".
//
//	expr    = and { "or" and }
//	and     = not { "and" not }
//	not     = "not" not | primary
//	primary = "(" expr ")" | ("1" | "all") "of" (pattern | "them") | identifier

type condOp uint8

const (
	condSearch condOp = iota
	condAnd
	condOr
	condNot
	condOneOf // any of idx
	condAllOf // all of idx
)

type cond struct {
	op     condOp
	kids   []*cond
	search int   // condSearch
	idx    []int // condOneOf, condAllOf
}

// eval evaluates the condition, asking test for a search's result.
func (c *cond) eval(test func(int) bool) bool {
	switch c.op {
	case condSearch:
		return test(c.search)
	case condAnd:
		for _, k := range c.kids {
			if !k.eval(test) {
				return false
			}
		}
		return true
	case condOr:
		for _, k := range c.kids {
			if k.eval(test) {
				return true
			}
		}
		return false
	case condNot:
		return !c.kids[0].eval(test)
	case condOneOf:
		for _, i := range c.idx {
			if test(i) {
				return true
			}
		}
		return false
	case condAllOf:
		for _, i := range c.idx {
			if !test(i) {
				return false
			}
		}
		return true
	}
	return false
}

type condParser struct {
	toks  []string
	pos   int
	names []string // search identifiers, by index
	depth int
}

func tokenizeCondition(s string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			flush()
		case r == '(' || r == ')' || r == '|':
			flush()
			toks = append(toks, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

// parseCondition compiles a condition against the rule's search names.
func parseCondition(s string, names []string) (*cond, error) {
	p := &condParser{toks: tokenizeCondition(s), names: names}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("condition is empty")
	}
	c, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		if p.toks[p.pos] == "|" {
			return nil, fmt.Errorf("aggregation %q is Sigma v1 syntax: write it as a correlation rule", strings.Join(p.toks[p.pos:], " "))
		}
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return c, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) expr() (*cond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxConditionDepth {
		return nil, fmt.Errorf("condition nests deeper than %d", MaxConditionDepth)
	}
	return p.binary("or", condOr, p.and)
}

func (p *condParser) and() (*cond, error) { return p.binary("and", condAnd, p.not) }

func (p *condParser) binary(word string, op condOp, next func() (*cond, error)) (*cond, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	kids := []*cond{first}
	for strings.EqualFold(p.peek(), word) {
		p.pos++
		k, err := next()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &cond{op: op, kids: kids}, nil
}

func (p *condParser) not() (*cond, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > MaxConditionDepth {
			return nil, fmt.Errorf("condition nests deeper than %d", MaxConditionDepth)
		}
		k, err := p.not()
		if err != nil {
			return nil, err
		}
		return &cond{op: condNot, kids: []*cond{k}}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (*cond, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition ends early")
	case t == "(":
		p.pos++
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ')'")
		}
		p.pos++
		return c, nil
	case t == ")" || t == "|" || isKeyword(t):
		return nil, fmt.Errorf("unexpected %q", t)
	case (t == "1" || strings.EqualFold(t, "all") || strings.EqualFold(t, "any")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		p.pos += 2
		target := p.peek()
		if target == "" || target == "(" || target == ")" || isKeyword(target) {
			return nil, fmt.Errorf("%q of what?", t)
		}
		p.pos++
		var idx []int
		for i, n := range p.names {
			var ok bool
			if strings.EqualFold(target, "them") {
				ok = !strings.HasPrefix(n, "_")
			} else {
				ok, _ = path.Match(target, n)
			}
			if ok {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return nil, fmt.Errorf("pattern %q matches no search identifier", target)
		}
		op := condOneOf
		if t != "1" && !strings.EqualFold(t, "any") {
			op = condAllOf
		}
		return &cond{op: op, idx: idx}, nil
	}
	p.pos++
	for i, n := range p.names {
		if n == t {
			return &cond{op: condSearch, search: i}, nil
		}
	}
	return nil, fmt.Errorf("search identifier %q is not defined", t)
}

func isKeyword(t string) bool {
	return strings.EqualFold(t, "and") || strings.EqualFold(t, "or") || strings.EqualFold(t, "not")
}
