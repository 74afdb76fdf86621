// Package kql runs Kibana's query language (KQL, "kuery") as detection rules
// use it: field:value with quoted and unquoted values, * wildcards,
// field:(a or b) value lists, not/and/or with nested parentheses, field:*
// (exists) and ranges (field >= 5). Keyword fields match exactly and
// case-sensitively, as Elasticsearch does; analyzed text fields (named by
// the caller) match a phrase of words case-insensitively. Queries compile
// onto validate/core.
package kql

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/t1567001/harness/validate/core"
)

// Query is a compiled KQL query.
type Query struct {
	src  string
	Cond core.Expr
}

// Options say how fields are mapped.
type Options struct {
	// Text reports whether a field is an analyzed text field.
	Text func(field string) bool
}

type tok struct {
	kind      byte // 'w' word, 's' quoted string, 'o' operator, 0 end
	pos, end  int
	text, val string
	hasWild   bool
}

type parser struct {
	src  string
	toks []tok
	i    int
	opts Options
}

// Parse compiles a KQL query. Errors are *core.SyntaxError.
func Parse(src string, opts Options) (*Query, error) {
	if opts.Text == nil {
		opts.Text = func(string) bool { return false }
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, opts: opts}
	if p.peek().kind == 0 {
		return nil, core.ErrorAt("kql", src, 0, "empty query")
	}
	cond, err := p.or(p.clause)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 0 {
		return nil, p.errAt(t, "unexpected %q", t.text)
	}
	return &Query{src: src, Cond: cond}, nil
}

// Match reports whether d matches.
func (q *Query) Match(d core.Doc) bool { return core.Truthy(q.Cond.Eval(d)) }

// Explain says which condition the closest document fails, on which values.
func (q *Query) Explain(docs []core.Doc) string {
	c := q.Closest()
	for _, d := range docs {
		c.Add(d)
	}
	return c.String()
}

// Closest follows documents one at a time for Explain, keeping only the
// one nearest to matching.
func (q *Query) Closest() *core.Closest { return core.NewClosest(q.src, q.Cond) }

func (p *parser) errAt(t tok, format string, args ...any) error {
	return core.ErrorAt("kql", p.src, t.pos, format, args...)
}

func (p *parser) peek() tok { return p.toks[p.i] }
func (p *parser) next() tok {
	t := p.toks[p.i]
	if t.kind != 0 {
		p.i++
	}
	return t
}

func (t tok) keyword(k string) bool { return t.kind == 'w' && strings.EqualFold(t.text, k) }

func (p *parser) or(leaf func() (core.Expr, error)) (core.Expr, error) {
	at := func(w string) (int, bool) { t := p.peek(); return t.pos, t.keyword(w) }
	return core.ParseBool(at, func() { p.next() }, leaf)
}

// clause is a parenthesised query or field:value.
func (p *parser) clause() (core.Expr, error) {
	t := p.next()
	if t.kind == 'o' && t.text == "(" {
		x, err := p.or(p.clause)
		if err != nil {
			return nil, err
		}
		cl := p.next()
		if cl.kind != 'o' || cl.text != ")" {
			return nil, p.errAt(cl, "expected \")\"")
		}
		return core.WithSpan(x, t.pos, cl.end), nil
	}
	if t.kind != 'w' && t.kind != 's' {
		return nil, p.errAt(t, "expected a field name")
	}
	op := p.next()
	field := &core.Field{Pos: core.Pos{Start: t.pos, End: t.end}, Name: t.val}
	switch {
	case op.kind == 'o' && op.text == ":":
	case op.kind == 'o' && (op.text == "<" || op.text == "<=" || op.text == ">" || op.text == ">="):
		v := p.next()
		if v.kind != 'w' && v.kind != 's' {
			return nil, p.errAt(v, "expected a value after %s", op.text)
		}
		lit := &core.Lit{Pos: core.Pos{Start: v.pos, End: v.end}, V: core.EventValue(v.val)}
		return core.NewCmp(core.Pos{Start: t.pos, End: v.end}, op.text, field, []core.Expr{lit}, false, false)
	default:
		if t.kind == 'w' && (op.kind == 0 || op.kind == 'w' || op.kind == 's') {
			return nil, p.errAt(t, "a value without a field (full-text search) is not supported; write field:value")
		}
		return nil, p.errAt(op, "expected \":\" after the field name")
	}
	if v := p.peek(); v.kind == 'o' && v.text == "{" {
		return nil, p.errAt(v, "nested field queries ({ ... }) are not supported")
	}
	return p.value(field)
}

// value is one value, or a parenthesised list of values, for field.
func (p *parser) value(field *core.Field) (core.Expr, error) {
	t := p.next()
	if t.kind == 'o' && t.text == "(" {
		x, err := p.or(func() (core.Expr, error) { return p.value(field) })
		if err != nil {
			return nil, err
		}
		cl := p.next()
		if cl.kind != 'o' || cl.text != ")" {
			return nil, p.errAt(cl, "expected \")\"")
		}
		return core.WithSpan(x, field.Start, cl.end), nil
	}
	if t.kind != 'w' && t.kind != 's' {
		return nil, p.errAt(t, "expected a value")
	}
	if t.kind == 'w' {
		// An unquoted value runs over spaces up to a keyword or a
		// parenthesis: `content: null pointer` is one value of two words.
		words := []tok{t}
		for n := p.peek(); n.kind == 'w' && !n.keyword("and") && !n.keyword("or") && !n.keyword("not"); n = p.peek() {
			if nn := p.toks[p.i+1]; nn.kind == 'o' && (nn.text == ":" || nn.text[0] == '<' || nn.text[0] == '>') {
				break
			}
			words = append(words, p.next())
		}
		if len(words) > 1 {
			return p.words(field, words)
		}
	}
	pos := core.Pos{Start: field.Start, End: t.end}
	lit := &core.Lit{Pos: core.Pos{Start: t.pos, End: t.end}, V: core.EventValue(t.val)}
	text := p.opts.Text(field.Name)
	switch {
	case t.kind == 'w' && t.val == "*":
		return core.NewCmp(pos, core.OpEq, field, []core.Expr{&core.Lit{Pos: lit.Pos}}, false, true)
	case t.kind == 'w' && t.hasWild:
		c, err := core.NewCmp(pos, core.OpWildcard, field, []core.Expr{lit}, false, false)
		if err == nil {
			c.LiteralQuestion, c.Phrase = true, text
		}
		return c, err
	}
	c, err := core.NewCmp(pos, core.OpEq, field, []core.Expr{lit}, false, false)
	if err == nil {
		c.Phrase = text
	}
	return c, err
}

// words is an unquoted value of several words. On a text field Kibana
// sends a match query: any of the words, in any order; on other fields the
// words are a terms query (status_code: 400 401 404): any of them.
func (p *parser) words(field *core.Field, words []tok) (core.Expr, error) {
	pos := core.Pos{Start: field.Start, End: words[len(words)-1].end}
	var any []core.Expr
	for _, w := range words {
		lit := &core.Lit{Pos: core.Pos{Start: w.pos, End: w.end}, V: core.EventValue(w.val)}
		op := core.OpEq
		if w.hasWild {
			op = core.OpWildcard
		}
		c, err := core.NewCmp(pos, op, field, []core.Expr{lit}, false, false)
		if err != nil {
			return nil, err
		}
		c.Phrase, c.LiteralQuestion = p.opts.Text(field.Name), true
		any = append(any, c)
	}
	return &core.Logic{Pos: pos, Or: true, Args: any}, nil
}

const special = `\():<>"{}`

func lex(src string) ([]tok, error) {
	var toks []tok
	i := 0
	for {
		for i < len(src) {
			r, n := utf8.DecodeRuneInString(src[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i >= len(src) {
			return append(toks, tok{pos: len(src), end: len(src)}), nil
		}
		start := i
		c := src[i]
		switch {
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, core.ErrorAt("kql", src, start, "unterminated quoted string")
				}
				if src[i] == '\\' && i+1 < len(src) {
					b.WriteByte(src[i+1])
					i += 2
					continue
				}
				if src[i] == '"' {
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			toks = append(toks, tok{kind: 's', pos: start, end: i, text: src[start:i], val: b.String()})
		case c == '<' || c == '>':
			i++
			if i < len(src) && src[i] == '=' {
				i++
			}
			toks = append(toks, tok{kind: 'o', pos: start, end: i, text: src[start:i]})
		case strings.IndexByte(`():{}`, c) >= 0:
			i++
			toks = append(toks, tok{kind: 'o', pos: start, end: i, text: src[start:i]})
		default:
			var b strings.Builder
			wild := false
			for i < len(src) {
				r, n := utf8.DecodeRuneInString(src[i:])
				if unicode.IsSpace(r) || (n == 1 && strings.IndexByte(special, src[i]) >= 0 && src[i] != '\\') {
					break
				}
				if src[i] == '\\' {
					if i+1 >= len(src) {
						return nil, core.ErrorAt("kql", src, i, "a backslash must escape a character")
					}
					_, m := utf8.DecodeRuneInString(src[i+1:])
					b.WriteString(src[i+1 : i+1+m])
					i += 1 + m
					continue
				}
				if src[i] == '*' {
					wild = true
				}
				b.WriteString(src[i : i+n])
				i += n
			}
			if i == start {
				return nil, core.ErrorAt("kql", src, i, "unexpected %q", src[i:i+1])
			}
			toks = append(toks, tok{kind: 'w', pos: start, end: i, text: src[start:i], val: b.String(), hasWild: wild})
		}
	}
}
