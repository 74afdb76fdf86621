package spl

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Query is a parsed, compiled SPL pipeline. It is immutable after Parse, so
// one Query may be Run from several goroutines.
type Query struct {
	src  string
	cmds []command
	// streamers are cmds as streamers, nil for a blocker: asserted once
	// at parse, not for every event and command.
	streamers []streamer
	search    *searchCmd // the first search command, for Explain
	slots     int        // number of field lookup-cache slots
	// keyed: the query begins with search, where or eval, which a stream
	// specialises per key of a Keyed event (specialise.go).
	keyed bool
}

// String returns the query text.
func (q *Query) String() string { return q.src }

type parser struct {
	src   string
	pos   int
	slots map[string]int // field name -> lookup-cache slot
	ctx   context.Context
	lim   Limits
	depth int // current nesting of terms and expressions
	steps int
	err   error // the context's error, once seen
}

// Limits bound what Parse accepts, so that a hostile or mistaken query
// fails with a clear error instead of exhausting memory or the stack.
type Limits struct {
	// MaxBytes is the longest query text (default 1 MiB; real detections
	// are a few KiB).
	MaxBytes int
	// MaxDepth is the deepest nesting of parentheses, NOT and unary
	// operators (default 5,000, well past any written query, well short
	// of the stack's limit).
	MaxDepth int
}

const (
	defaultMaxBytes = 1 << 20
	defaultMaxDepth = 5000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// enter counts one level of nesting at off and, now and then, looks at the
// context; every call is paired with leave.
func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > 2*p.lim.MaxDepth {
		return p.errAt(off, "query nested deeper than %d levels", p.lim.MaxDepth)
	}
	if p.steps++; p.steps%1024 == 0 {
		if err := p.ctx.Err(); err != nil {
			p.err = err
			return fmt.Errorf("spl: parse stopped: %w", err)
		}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// slot numbers a field name the query reads or assigns, for the record's
// lookup cache and its bindings.
func (p *parser) slot(name string) int {
	if n, ok := p.slots[name]; ok {
		return n
	}
	n := len(p.slots)
	p.slots[name] = n
	return n
}

func (p *parser) peek(m lexMode) (token, error) { return scan(p.src, p.pos, m) }

func (p *parser) next(m lexMode) (token, error) {
	t, err := scan(p.src, p.pos, m)
	if err == nil {
		p.pos = t.end
	}
	return t, err
}

func (p *parser) errAt(off int, format string, args ...any) *SyntaxError {
	return syntaxErrorAt(p.src, off, format, args...)
}

func (p *parser) expect(m lexMode, k tokKind) (token, error) {
	t, err := p.next(m)
	if err != nil {
		return t, err
	}
	if t.kind != k {
		return t, p.errAt(t.pos, "expected %s, found %s", k, t.describe())
	}
	return t, nil
}

// atEnd reports whether the current command ends here (a pipe or the end).
func (p *parser) atEnd() (bool, error) {
	t, err := p.peek(modeList)
	if err != nil {
		return false, err
	}
	return t.kind == tEOF || t.kind == tPipe, nil
}

// Parse parses and compiles a query within the default Limits. Errors
// are *SyntaxError.
func Parse(src string) (*Query, error) {
	return ParseContext(context.Background(), src, Limits{})
}

// ParseContext parses and compiles a query within lim (zero fields take
// the defaults), stopping with ctx's error when ctx is done.
func ParseContext(ctx context.Context, src string, lim Limits) (*Query, error) {
	lim = lim.withDefaults()
	if len(src) > lim.MaxBytes {
		return nil, syntaxErrorAt(src, 0, "query is %d bytes, more than the limit of %d", len(src), lim.MaxBytes)
	}
	p := &parser{src: src, slots: map[string]int{}, ctx: ctx, lim: lim}
	q := &Query{src: src}
	first := true
	for {
		t, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if t.kind == tEOF {
			if first {
				return nil, p.errAt(t.pos, "empty query")
			}
			break
		}
		var cmd command
		if first && t.kind != tPipe {
			// The leading search command is implied.
			if t.kind == tWord && t.text == "search" {
				p.pos = t.end
			}
			cmd, err = p.parseSearch(t.pos)
		} else {
			if _, err := p.expect(modeList, tPipe); err != nil {
				return nil, err
			}
			cmd, err = p.parseCommand()
		}
		if err != nil {
			return nil, err
		}
		first = false
		q.cmds = append(q.cmds, cmd)
		s, _ := cmd.(streamer)
		q.streamers = append(q.streamers, s)
		if s, ok := cmd.(*searchCmd); ok && q.search == nil {
			q.search = s
		}
		end, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if end.kind != tEOF && end.kind != tPipe {
			return nil, p.errAt(end.pos, "unexpected %s", end.describe())
		}
	}
	q.slots = len(p.slots)
	q.keyed = markKeyed(q.cmds)
	return q, nil
}

// markKeyed marks the where and eval commands that only search, where and
// eval precede, which may be specialised per event key, with the fields
// the evals up to them assign, and says whether the query begins so.
func markKeyed(cmds []command) bool {
	var assigned []string
	for i, c := range cmds {
		switch c := c.(type) {
		case *searchCmd:
		case *whereCmd:
			c.keyed, c.assigned = true, slices.Clip(assigned)
		case *evalCmd:
			for _, a := range c.assigns {
				assigned = append(assigned, a.field)
			}
			c.keyed, c.assigned = true, slices.Clip(assigned)
		default:
			return i > 0
		}
	}
	return len(cmds) > 0
}

func (p *parser) parseCommand() (command, error) {
	t, err := p.next(modeList)
	if err != nil {
		return nil, err
	}
	if t.kind != tWord {
		return nil, p.errAt(t.pos, "expected a command name, found %s", t.describe())
	}
	start := t.pos
	var cmd command
	switch t.text {
	case "search":
		cmd, err = p.parseSearch(start)
	case "where":
		cmd, err = p.parseWhere(start)
	case "eval":
		cmd, err = p.parseEval(start)
	case "table":
		cmd, err = p.parseTable(start)
	case "fields":
		cmd, err = p.parseFields(start)
	case "rename":
		cmd, err = p.parseRename(start)
	case "sort":
		cmd, err = p.parseSort(start)
	case "head":
		cmd, err = p.parseHead(start)
	case "dedup":
		cmd, err = p.parseDedup(start)
	case "stats":
		cmd, err = p.parseStats(start)
	default:
		return nil, p.errAt(t.pos, "unsupported command %q", t.text)
	}
	return cmd, err
}

func (p *parser) span(start int) cmdBase {
	return cmdBase{start: start, text: strings.TrimSpace(p.src[start:p.pos])}
}

// ---- search ----

func (p *parser) parseSearch(start int) (command, error) {
	if end, err := p.atEnd(); err != nil {
		return nil, err
	} else if end {
		return nil, p.errAt(p.pos, "search needs at least one term")
	}
	n, err := p.searchAnd()
	if err != nil {
		return nil, err
	}
	return &searchCmd{cmdBase: p.span(start), tree: n, fast: optimize(n)}, nil
}

// searchAnd is the loosest level: in the search command AND (explicit or
// implied by juxtaposition) binds less tightly than OR.
func (p *parser) searchAnd() (*sNode, error) {
	start, _ := skipSpace(p.src, p.pos)
	var kids []*sNode
	for {
		t, err := p.peek(modeSearch)
		if err != nil {
			return nil, err
		}
		if t.kind == tEOF || t.kind == tPipe || t.kind == tRParen {
			break
		}
		if t.kind == tWord && t.text == "AND" {
			if len(kids) == 0 {
				return nil, p.errAt(t.pos, "AND needs a term on its left")
			}
			p.pos = t.end
			continue
		}
		k, err := p.searchOr()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 0 {
		t, _ := p.peek(modeSearch)
		return nil, p.errAt(t.pos, "expected a search term, found %s", t.describe())
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &sNode{op: sAnd, kids: kids, pos: start, text: strings.TrimSpace(p.src[start:p.pos])}, nil
}

func (p *parser) searchOr() (*sNode, error) {
	start := p.pos
	first, err := p.searchNot()
	if err != nil {
		return nil, err
	}
	kids := []*sNode{first}
	for {
		t, err := p.peek(modeSearch)
		if err != nil {
			return nil, err
		}
		if t.kind != tWord || t.text != "OR" {
			break
		}
		p.pos = t.end
		k, err := p.searchNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &sNode{op: sOr, kids: kids, pos: first.pos, text: strings.TrimSpace(p.src[start:p.pos])}, nil
}

func (p *parser) searchNot() (*sNode, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	t, err := p.peek(modeSearch)
	if err != nil {
		return nil, err
	}
	if t.kind == tWord && t.text == "NOT" {
		p.pos = t.end
		k, err := p.searchNot()
		if err != nil {
			return nil, err
		}
		return &sNode{op: sNot, kids: []*sNode{k}, pos: t.pos, text: strings.TrimSpace(p.src[t.pos:p.pos])}, nil
	}
	return p.searchPrimary()
}

func (p *parser) searchPrimary() (*sNode, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	t, err := p.next(modeSearch)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tLParen:
		n, err := p.searchAnd()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(modeSearch, tRParen); err != nil {
			return nil, err
		}
		return n, nil
	case tString:
		return &sNode{op: sBare, pats: []wildcard{bareTerm(t.val)}, pos: t.pos, text: t.text}, nil
	case tWord:
		switch t.text {
		case "OR", "AND":
			return nil, p.errAt(t.pos, "%s needs a term on its left", t.text)
		case "NOT":
			return nil, p.errAt(t.pos, "NOT needs a term on its right")
		}
	default:
		return nil, p.errAt(t.pos, "expected a search term, found %s", t.describe())
	}
	// A word: a field comparison, field IN (...), or a bare term.
	op, err := p.peek(modeSearch)
	if err != nil {
		return nil, err
	}
	if op.kind == tOp {
		if op.text == "==" {
			return nil, p.errAt(op.pos, "use = in search, not ==")
		}
		p.pos = op.end
		v, err := p.next(modeSearch)
		if err != nil {
			return nil, err
		}
		if v.kind != tWord && v.kind != tString {
			return nil, p.errAt(v.pos, "expected a value after %s%s, found %s", t.text, op.text, v.describe())
		}
		n := &sNode{op: sCmp, field: t.val, slot: p.slot(t.val), cmp: op.text, pos: t.pos, text: p.src[t.pos:v.end]}
		if n.field == "earliest" || n.field == "latest" {
			// Replayed telemetry has no search window: time bounds match all.
			n.op = sTrue
			return n, nil
		}
		n.pats = []wildcard{compileWildcard(v.val, false)}
		n.num, n.isNum = parseNumber(v.val)
		return n, nil
	}
	if t.text == "TERM" || t.text == "CASE" {
		if op.kind == tLParen && op.pos == t.end {
			return nil, p.errAt(t.pos, "%s() is not supported", t.text)
		}
	}
	if op.kind == tWord && op.text == "IN" {
		after, err := scan(p.src, op.end, modeList)
		if err != nil {
			return nil, err
		}
		if after.kind == tLParen {
			p.pos = after.end
			return p.searchIn(t)
		}
	}
	return &sNode{op: sBare, pats: []wildcard{bareTerm(t.val)}, pos: t.pos, text: t.text}, nil
}

func bareTerm(v string) wildcard { return compileWildcard("*"+v+"*", false) }

func (p *parser) searchIn(field token) (*sNode, error) {
	n := &sNode{op: sIn, field: field.val, slot: p.slot(field.val), cmp: "=", pos: field.pos}
	for {
		v, err := p.next(modeList)
		if err != nil {
			return nil, err
		}
		switch v.kind {
		case tWord, tString:
			n.pats = append(n.pats, compileWildcard(v.val, false))
		case tRParen:
			if len(n.pats) == 0 {
				return nil, p.errAt(v.pos, "IN needs at least one value")
			}
			n.text = p.src[field.pos:v.end]
			return n, nil
		default:
			return nil, p.errAt(v.pos, "expected a value or \")\" in IN list, found %s", v.describe())
		}
		sep, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if sep.kind == tComma {
			p.pos = sep.end
		}
	}
}

// ---- where / eval expressions ----

func (p *parser) parseWhere(start int) (command, error) {
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, no := isBoolExpr(e); no {
		return nil, p.errAt(start, "where needs a Boolean expression, such as a comparison")
	}
	return &whereCmd{cmdBase: p.span(start), cond: asTester(e)}, nil
}

func (p *parser) parseEval(start int) (command, error) {
	c := &evalCmd{}
	for {
		t, err := p.next(modeExpr)
		if err != nil {
			return nil, err
		}
		if t.kind != tIdent && t.kind != tQField && t.kind != tString {
			return nil, p.errAt(t.pos, "expected a field name to assign, found %s", t.describe())
		}
		op, err := p.next(modeExpr)
		if err != nil {
			return nil, err
		}
		if op.kind != tOp || op.text != "=" {
			return nil, p.errAt(op.pos, "expected \"=\" after %s, found %s", t.text, op.describe())
		}
		exprStart, _ := skipSpace(p.src, p.pos)
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if yes, _ := isBoolExpr(e); yes {
			// Splunk refuses this too: "Fields cannot be assigned a boolean result."
			return nil, p.errAt(exprStart, "fields cannot be assigned a Boolean result; use if(condition, value, value)")
		}
		c.assigns = append(c.assigns, assignment{field: t.val, slot: p.slot(t.val), e: e, pos: exprStart})
		sep, err := p.peek(modeExpr)
		if err != nil {
			return nil, err
		}
		if sep.kind != tComma {
			break
		}
		p.pos = sep.end
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func (p *parser) expr() (expr, error) { return p.exprXor() }

func (p *parser) keyword(word string) (bool, error) {
	t, err := p.peek(modeExpr)
	if err != nil {
		return false, err
	}
	if t.kind == tIdent && t.text == word {
		p.pos = t.end
		return true, nil
	}
	return false, nil
}

func (p *parser) binaryLogic(word string, sub func() (expr, error)) (expr, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		ok, err := p.keyword(word)
		if err != nil {
			return nil, err
		}
		if !ok {
			return l, nil
		}
		r, err := sub()
		if err != nil {
			return nil, err
		}
		l = newLogic(word, l, r)
	}
}

// Splunk's eval/where order: NOT, then AND, then OR, then XOR.
func (p *parser) exprXor() (expr, error) { return p.binaryLogic("XOR", p.exprOr) }
func (p *parser) exprOr() (expr, error)  { return p.binaryLogic("OR", p.exprAnd) }
func (p *parser) exprAnd() (expr, error) { return p.binaryLogic("AND", p.exprNot) }

func (p *parser) exprNot() (expr, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	ok, err := p.keyword("NOT")
	if err != nil {
		return nil, err
	}
	if ok {
		x, err := p.exprNot()
		if err != nil {
			return nil, err
		}
		return newNot(x), nil
	}
	return p.exprCmp()
}

func (p *parser) exprCmp() (expr, error) {
	l, err := p.exprAdd()
	if err != nil {
		return nil, err
	}
	t, err := p.peek(modeExpr)
	if err != nil {
		return nil, err
	}
	switch {
	case t.kind == tOp && (t.text == "=" || t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.pos = t.end
		r, err := p.exprAdd()
		if err != nil {
			return nil, err
		}
		return newCmp(t.text, l, r), nil
	case t.kind == tIdent && t.text == "LIKE":
		p.pos = t.end
		r, err := p.exprAdd()
		if err != nil {
			return nil, err
		}
		return &likeExpr{x: l, pat: r}, nil
	case t.kind == tIdent && t.text == "IN":
		p.pos = t.end
		if _, err := p.expect(modeExpr, tLParen); err != nil {
			return nil, err
		}
		list, err := p.args()
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, p.errAt(t.pos, "IN needs at least one value")
		}
		return &inExpr{x: l, list: list}, nil
	}
	return l, nil
}

func (p *parser) exprAdd() (expr, error) {
	l, err := p.exprMul()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek(modeExpr)
		if err != nil {
			return nil, err
		}
		if t.kind != tOp || (t.text != "+" && t.text != "-" && t.text != ".") {
			return l, nil
		}
		p.pos = t.end
		r, err := p.exprMul()
		if err != nil {
			return nil, err
		}
		if t.text == "." {
			l = &concatExpr{l: l, r: r}
		} else {
			l = &arithExpr{op: t.text[0], l: l, r: r}
		}
	}
}

func (p *parser) exprMul() (expr, error) {
	l, err := p.exprUnary()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek(modeExpr)
		if err != nil {
			return nil, err
		}
		if t.kind != tOp || (t.text != "*" && t.text != "/" && t.text != "%") {
			return l, nil
		}
		p.pos = t.end
		r, err := p.exprUnary()
		if err != nil {
			return nil, err
		}
		l = &arithExpr{op: t.text[0], l: l, r: r}
	}
}

func (p *parser) exprUnary() (expr, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	t, err := p.peek(modeExpr)
	if err != nil {
		return nil, err
	}
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.pos = t.end
		x, err := p.exprUnary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		return &negExpr{x: x}, nil
	}
	return p.exprPrimary()
}

// isExprKeyword reports the operators that cannot be field names in where
// and eval; like Splunk's, they must be capitalised.
func isExprKeyword(s string) bool {
	switch s {
	case "AND", "OR", "NOT", "XOR", "LIKE", "IN":
		return true
	}
	return false
}

func (p *parser) exprPrimary() (expr, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	t, err := p.next(modeExpr)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "bad number %q", t.text)
		}
		return &litExpr{v: NumberValue(f)}, nil
	case tString:
		return &litExpr{v: StringValue(t.val)}, nil
	case tQField:
		return &fieldExpr{name: t.val, slot: p.slot(t.val)}, nil
	case tLParen:
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(modeExpr, tRParen); err != nil {
			return nil, err
		}
		return e, nil
	case tIdent:
		if isExprKeyword(t.text) {
			return nil, p.errAt(t.pos, "expected an expression, found %s", t.text)
		}
		next, err := p.peek(modeExpr)
		if err != nil {
			return nil, err
		}
		if next.kind == tLParen {
			p.pos = next.end
			return p.call(t)
		}
		return &fieldExpr{name: t.text, slot: p.slot(t.text)}, nil
	}
	return nil, p.errAt(t.pos, "expected an expression, found %s", t.describe())
}

// args parses a comma-separated list up to and including ")".
func (p *parser) args() ([]expr, error) {
	var list []expr
	t, err := p.peek(modeExpr)
	if err != nil {
		return nil, err
	}
	if t.kind == tRParen {
		p.pos = t.end
		return nil, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		t, err := p.next(modeExpr)
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tComma:
			continue
		case tRParen:
			return list, nil
		}
		return nil, p.errAt(t.pos, "expected \",\" or \")\", found %s", t.describe())
	}
}

func (p *parser) call(name token) (expr, error) {
	argStart, _ := skipSpace(p.src, p.pos)
	args, err := p.args()
	if err != nil {
		return nil, err
	}
	arity := func(lo, hi int) error {
		if len(args) < lo || (hi >= 0 && len(args) > hi) {
			want := strconv.Itoa(lo)
			switch {
			case hi < 0:
				want = "at least " + want
			case hi != lo:
				want += " to " + strconv.Itoa(hi)
			}
			return p.errAt(name.pos, "%s() takes %s argument(s), got %d", name.text, want, len(args))
		}
		return nil
	}
	switch name.text {
	case "match", "replace":
		n := 2
		if name.text == "replace" {
			n = 3
		}
		if err := arity(n, n); err != nil {
			return nil, err
		}
		re, err := p.regex(args[1], name, argStart)
		if err != nil {
			return nil, err
		}
		if name.text == "match" {
			return &matchExpr{x: args[0], re: re, lit: compileLiterals(re.String())}, nil
		}
		lit, ok := args[2].(*litExpr)
		if !ok || lit.v.Kind() != KindString {
			return nil, p.errAt(name.pos, "replace() needs a string literal replacement")
		}
		return &replaceExpr{x: args[0], re: re, repl: splunkReplacement(lit.v.String())}, nil
	case "like":
		if err := arity(2, 2); err != nil {
			return nil, err
		}
		return &likeExpr{x: args[0], pat: args[1]}, nil
	case "in":
		if err := arity(2, -1); err != nil {
			return nil, err
		}
		return &inExpr{x: args[0], list: args[1:]}, nil
	case "case":
		if len(args) < 2 || len(args)%2 != 0 {
			return nil, p.errAt(name.pos, "case() takes condition/value pairs, got %d argument(s)", len(args))
		}
		return newCase(args), nil
	case "if":
		if err := arity(3, 3); err != nil {
			return nil, err
		}
		return newIf(args), nil
	}
	def, ok := lookupFunction(name.text)
	if !ok {
		return nil, p.errAt(name.pos, "unsupported function %s()", name.text)
	}
	if err := arity(def.min, def.max); err != nil {
		return nil, err
	}
	return &callExpr{name: name.text, args: args, fn: def.fn, bool: def.bool}, nil
}

// regex compiles a literal regular expression once, at parse time.
func (p *parser) regex(arg expr, name token, argPos int) (*regexp.Regexp, error) {
	lit, ok := arg.(*litExpr)
	if !ok || lit.v.Kind() != KindString {
		return nil, p.errAt(name.pos, "%s() needs a string literal regular expression", name.text)
	}
	if c := pcreOnly(lit.v.String()); c != "" {
		return nil, p.errAt(argPos, "%s() regular expression uses %s, which is PCRE-only and unsupported by Go's RE2 engine", name.text, c)
	}
	re, err := regexp.Compile(lit.v.String())
	if err != nil {
		return nil, p.errAt(argPos, "%s() regular expression: %v", name.text, err)
	}
	return re, nil
}

// splunkReplacement converts replace()'s \1 group references to Go's ${1}
// and protects literal dollar signs.
func splunkReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ---- field-list commands ----

// fieldList reads field names separated by spaces or commas until the end
// of the command or a word in stop.
func (p *parser) fieldList(stop ...string) ([]token, error) {
	var out []token
	for {
		t, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tComma:
			p.pos = t.end
			continue
		case tWord, tString:
			for _, s := range stop {
				if t.kind == tWord && strings.EqualFold(t.text, s) {
					return out, nil
				}
			}
			p.pos = t.end
			out = append(out, t)
			continue
		case tEOF, tPipe:
			return out, nil
		}
		return nil, p.errAt(t.pos, "expected a field name, found %s", t.describe())
	}
}

func (p *parser) parseTable(start int) (command, error) {
	toks, err := p.fieldList()
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, p.errAt(p.pos, "table needs at least one field")
	}
	c := &tableCmd{}
	static := true
	for _, t := range toks {
		f := fieldPattern(t.val)
		c.fields = append(c.fields, f)
		static = static && !f.wild
	}
	if static {
		c.static = expand(c.fields, nil, false)
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func fieldPattern(name string) fieldPat {
	w := compileWildcard(name, true)
	return fieldPat{name: name, wild: w.HasStar(), w: w}
}

func (p *parser) parseFields(start int) (command, error) {
	c := &fieldsCmd{}
	t, err := p.peek(modeList)
	if err != nil {
		return nil, err
	}
	if t.kind == tWord && (t.text == "-" || t.text == "+") {
		c.remove = t.text == "-"
		p.pos = t.end
	}
	toks, err := p.fieldList()
	if err != nil {
		return nil, err
	}
	for i, t := range toks {
		v := t.val
		if i == 0 && t.kind == tWord && (strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+")) && len(v) > 1 {
			c.remove = v[0] == '-'
			v = v[1:]
		}
		c.fields = append(c.fields, fieldPattern(v))
	}
	if len(c.fields) == 0 {
		return nil, p.errAt(p.pos, "fields needs at least one field")
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func (p *parser) parseRename(start int) (command, error) {
	c := &renameCmd{}
	for {
		toks, err := p.fieldList("AS")
		if err != nil {
			return nil, err
		}
		if len(toks) == 0 {
			if len(c.pairs) == 0 {
				return nil, p.errAt(p.pos, "rename needs \"field AS newname\"")
			}
			break
		}
		if len(toks) != 1 {
			return nil, p.errAt(toks[1].pos, "expected AS after %s", toks[0].text)
		}
		as, err := p.next(modeList)
		if err != nil {
			return nil, err
		}
		if as.kind != tWord || !strings.EqualFold(as.text, "AS") {
			return nil, p.errAt(as.pos, "expected AS after %s, found %s", toks[0].text, as.describe())
		}
		to, err := p.next(modeList)
		if err != nil {
			return nil, err
		}
		if to.kind != tWord && to.kind != tString {
			return nil, p.errAt(to.pos, "expected a new field name after AS, found %s", to.describe())
		}
		if strings.Contains(toks[0].val, "*") || strings.Contains(to.val, "*") {
			return nil, p.errAt(toks[0].pos, "wildcards in rename are not supported")
		}
		c.pairs = append(c.pairs, [2]string{toks[0].val, to.val})
	}
	c.cmdBase = p.span(start)
	return c, nil
}

// option reads name=value if the next word is name; commands take options
// such as limit=N before or among their fields.
func (p *parser) option(name string) (string, bool, error) {
	t, err := p.peek(modeList)
	if err != nil || t.kind != tWord || t.text != name {
		return "", false, err
	}
	eq, err := scan(p.src, t.end, modeList)
	if err != nil || eq.kind != tOp || eq.text != "=" {
		return "", false, err
	}
	v, err := scan(p.src, eq.end, modeList)
	if err != nil {
		return "", false, err
	}
	if v.kind != tWord && v.kind != tString {
		return "", false, p.errAt(v.pos, "expected a value for %s=, found %s", name, v.describe())
	}
	p.pos = v.end
	return v.val, true, nil
}

func (p *parser) count(what string, v string, pos int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, p.errAt(pos, "%s must be a non-negative integer, got %q", what, v)
	}
	return n, nil
}

func (p *parser) parseSort(start int) (command, error) {
	// Splunk's default sort limit is 10000 results; 0 means no limit.
	c := &sortCmd{limit: 10000}
	t, err := p.peek(modeList)
	if err != nil {
		return nil, err
	}
	if t.kind == tWord && looksNumeric(t.text) {
		if c.limit, err = p.count("sort count", t.text, t.pos); err != nil {
			return nil, err
		}
		p.pos = t.end
	}
	if v, ok, err := p.option("limit"); err != nil {
		return nil, err
	} else if ok {
		if c.limit, err = p.count("limit", v, t.pos); err != nil {
			return nil, err
		}
	}
	desc := false
	pending := false
	for {
		t, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if t.kind == tComma {
			p.pos = t.end
			continue
		}
		if t.kind == tEOF || t.kind == tPipe {
			break
		}
		if t.kind != tWord && t.kind != tString {
			return nil, p.errAt(t.pos, "expected a sort field, found %s", t.describe())
		}
		p.pos = t.end
		name := t.val
		if t.kind == tWord && (name == "-" || name == "+") {
			desc, pending = name == "-", true
			continue
		}
		if t.kind == tWord && !pending && len(name) > 1 && (name[0] == '-' || name[0] == '+') {
			desc = name[0] == '-'
			name = name[1:]
		} else if !pending {
			desc = false
		}
		if t.kind == tWord && (name == "d" || name == "desc") && len(c.keys) > 0 {
			// A trailing "desc" reverses the whole sort.
			for i := range c.keys {
				c.keys[i].desc = !c.keys[i].desc
			}
			continue
		}
		key := sortKey{field: name, desc: desc}
		if t.kind == tWord {
			for _, fn := range []string{"num", "str", "auto", "ip"} {
				if name == fn {
					if _, err := p.expect(modeList, tLParen); err != nil {
						return nil, err
					}
					f, err := p.next(modeList)
					if err != nil {
						return nil, err
					}
					if f.kind != tWord && f.kind != tString {
						return nil, p.errAt(f.pos, "expected a field in %s(), found %s", fn, f.describe())
					}
					if _, err := p.expect(modeList, tRParen); err != nil {
						return nil, err
					}
					key.field, key.as = f.val, fn
				}
			}
		}
		c.keys = append(c.keys, key)
		pending = false
	}
	if pending {
		return nil, p.errAt(p.pos, "expected a field after the sort direction")
	}
	if len(c.keys) == 0 {
		return nil, p.errAt(p.pos, "sort needs at least one field")
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func (p *parser) parseHead(start int) (command, error) {
	c := &headCmd{n: 10}
	t, err := p.peek(modeList)
	if err != nil {
		return nil, err
	}
	if v, ok, err := p.option("limit"); err != nil {
		return nil, err
	} else if ok {
		if c.n, err = p.count("limit", v, t.pos); err != nil {
			return nil, err
		}
	} else if t.kind == tWord {
		if c.n, err = p.count("head count", t.text, t.pos); err != nil {
			return nil, err
		}
		p.pos = t.end
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func (p *parser) parseDedup(start int) (command, error) {
	c := &dedupCmd{limit: 1}
	t, err := p.peek(modeList)
	if err != nil {
		return nil, err
	}
	if t.kind == tWord && looksNumeric(t.text) {
		if c.limit, err = p.count("dedup count", t.text, t.pos); err != nil {
			return nil, err
		}
		if c.limit == 0 {
			return nil, p.errAt(t.pos, "dedup count must be at least 1")
		}
		p.pos = t.end
	}
	for {
		v, ok, err := p.option("keepempty")
		if err != nil {
			return nil, err
		}
		if ok {
			c.keepEmpty = strings.EqualFold(v, "true") || v == "1"
			continue
		}
		t, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if t.kind == tComma {
			p.pos = t.end
			continue
		}
		if t.kind != tWord && t.kind != tString {
			break
		}
		if t.kind == tWord {
			// An option the engine does not implement would silently
			// change what dedup keeps: refuse it.
			if strings.EqualFold(t.text, "sortby") {
				return nil, p.errAt(t.pos, "dedup sortby is not supported")
			}
			if eq, err := scan(p.src, t.end, modeList); err == nil && eq.kind == tOp && eq.text == "=" {
				return nil, p.errAt(t.pos, "dedup option %s= is not supported (only keepempty=)", t.text)
			}
		}
		p.pos = t.end
		c.fields = append(c.fields, t.val)
	}
	if len(c.fields) == 0 {
		return nil, p.errAt(p.pos, "dedup needs at least one field")
	}
	c.cmdBase = p.span(start)
	return c, nil
}

func (p *parser) parseStats(start int) (command, error) {
	c := &statsCmd{}
	for {
		t, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if t.kind == tComma {
			p.pos = t.end
			continue
		}
		if t.kind != tWord || strings.EqualFold(t.text, "by") {
			break
		}
		p.pos = t.end
		a := aggregate{fn: strings.ToLower(t.text)}
		switch a.fn {
		case "count", "c", "dc", "distinct_count", "values", "list", "min", "max", "sum", "avg", "mean", "first", "last":
		default:
			return nil, p.errAt(t.pos, "unsupported stats function %q", t.text)
		}
		a.name = t.text
		open, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if open.kind == tLParen {
			p.pos = open.end
			f, err := p.next(modeList)
			if err != nil {
				return nil, err
			}
			if f.kind != tWord && f.kind != tString {
				return nil, p.errAt(f.pos, "expected a field in %s(), found %s", t.text, f.describe())
			}
			if _, err := p.expect(modeList, tRParen); err != nil {
				return nil, err
			}
			a.field = f.val
			a.name = t.text + "(" + f.val + ")"
		} else if a.fn != "count" && a.fn != "c" {
			return nil, p.errAt(open.pos, "%s needs a field: %s(field)", t.text, t.text)
		}
		as, err := p.peek(modeList)
		if err != nil {
			return nil, err
		}
		if as.kind == tWord && strings.EqualFold(as.text, "as") {
			p.pos = as.end
			n, err := p.next(modeList)
			if err != nil {
				return nil, err
			}
			if n.kind != tWord && n.kind != tString {
				return nil, p.errAt(n.pos, "expected a name after AS, found %s", n.describe())
			}
			a.name = n.val
		}
		c.aggs = append(c.aggs, a)
	}
	if len(c.aggs) == 0 {
		t, _ := p.peek(modeList)
		return nil, p.errAt(t.pos, "stats needs a function such as count")
	}
	t, err := p.peek(modeList)
	if err != nil {
		return nil, err
	}
	if t.kind == tWord && strings.EqualFold(t.text, "by") {
		p.pos = t.end
		toks, err := p.fieldList()
		if err != nil {
			return nil, err
		}
		if len(toks) == 0 {
			return nil, p.errAt(p.pos, "BY needs at least one field")
		}
		for _, f := range toks {
			c.by = append(c.by, f.val)
		}
	}
	c.cmdBase = p.span(start)
	return c, nil
}
