package core

// Parser is the token cursor the C-like languages (EQL, ES|QL) share, with
// their common grammar: and/or/not over comparisons.
type Parser struct {
	Lang string
	Src  string
	Toks []Token
	I    int
}

// NewParser lexes src for language lang.
func NewParser(lang, src string) (*Parser, error) {
	toks, err := Lex(lang, src)
	if err != nil {
		return nil, err
	}
	return &Parser{Lang: lang, Src: src, Toks: toks}, nil
}

// Peek is the next token, not consumed.
func (p *Parser) Peek() Token { return p.Toks[p.I] }

// PeekAt is the token k places after the next one (the end token past the
// end).
func (p *Parser) PeekAt(k int) Token {
	if p.I+k >= len(p.Toks) {
		return p.Toks[len(p.Toks)-1]
	}
	return p.Toks[p.I+k]
}

// Next consumes the next token; the end token is never consumed.
func (p *Parser) Next() Token {
	t := p.Toks[p.I]
	if t.Kind != TEOF {
		p.I++
	}
	return t
}

// Prev is the last token consumed.
func (p *Parser) Prev() Token { return p.Toks[max(p.I-1, 0)] }

// ErrAt is a syntax error at t.
func (p *Parser) ErrAt(t Token, format string, args ...any) error {
	return ErrorAt(p.Lang, p.Src, t.Pos, format, args...)
}

// Expect consumes the operator or keyword s, or fails naming what it found.
func (p *Parser) Expect(s string) (Token, error) {
	t := p.Next()
	if !t.Is(s) {
		return t, p.ErrAt(t, "expected %q, found %s", s, t.Describe())
	}
	return t, nil
}

// List parses "(" item ("," item)* ")", or "()" where empty is allowed,
// and returns the items and the closing parenthesis.
func (p *Parser) List(empty bool, item func() (Expr, error)) ([]Expr, Token, error) {
	if _, err := p.Expect("("); err != nil {
		return nil, Token{}, err
	}
	var items []Expr
	for !(empty && len(items) == 0 && p.Peek().Is(")")) {
		x, err := item()
		if err != nil {
			return nil, Token{}, err
		}
		items = append(items, x)
		if !p.Peek().Is(",") {
			break
		}
		p.Next()
	}
	cl, err := p.Expect(")")
	if err != nil {
		return nil, Token{}, err
	}
	return items, cl, nil
}

// Or parses sub (or sub)*, with and binding tighter and not tighter still.
func (p *Parser) Or(sub func() (Expr, error)) (Expr, error) {
	return ParseBool(func(w string) (int, bool) { t := p.Peek(); return t.Pos, t.Is(w) }, func() { p.Next() }, sub)
}

// ParseBool parses the Boolean grammar every language here shares over
// any token cursor: sub (or sub)*, and binding tighter, not tighter still.
// at reports whether the next token is the keyword w, and where it is;
// skip consumes it.
func ParseBool(at func(w string) (int, bool), skip func(), sub func() (Expr, error)) (Expr, error) {
	var not func() (Expr, error)
	not = func() (Expr, error) {
		start, ok := at("not")
		if !ok {
			return sub()
		}
		skip()
		x, err := not()
		if err != nil {
			return nil, err
		}
		_, e := x.Span()
		return &Not{Pos: Pos{Start: start, End: e}, X: x}, nil
	}
	and := func() (Expr, error) { return logic(at, skip, "and", not) }
	return logic(at, skip, "or", and)
}

func logic(at func(string) (int, bool), skip func(), word string, sub func() (Expr, error)) (Expr, error) {
	first, err := sub()
	if err != nil {
		return nil, err
	}
	args := []Expr{first}
	for _, ok := at(word); ok; _, ok = at(word) {
		skip()
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
	return &Logic{Pos: Pos{Start: s, End: e}, Or: word == "or", Args: args}, nil
}

// WithSpan widens a parenthesised expression's span to its parentheses, so
// that an explanation quotes them.
func WithSpan(x Expr, s, e int) Expr {
	switch v := x.(type) {
	case *Logic:
		v.Pos = Pos{Start: s, End: e}
	case *Cmp:
		v.Pos = Pos{Start: s, End: e}
	case *Not:
		v.Pos = Pos{Start: s, End: e}
	}
	return x
}
