// Package esql runs the subset of ES|QL that Elastic's detection rules use:
// `from` (index patterns, metadata), `where`, `stats ... by`, `eval`,
// `keep`, `drop`, `sort`, `limit`, with comparisons, and/or/not, `is [not]
// null`, `in`, `like`, `rlike` and the functions those rules call
// (mv_contains, to_lower, to_upper, length, coalesce; count, count_distinct,
// values, min, max, sum, avg). Queries compile onto validate/core and run
// over ECS documents.
package esql

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/t1567001/harness/validate/core"
)

// Query is a compiled ES|QL query.
type Query struct {
	src string
	// Indices are the from command's index patterns.
	Indices  []string
	Metadata []string
	cmds     []command
}

// Row is one result row: its columns in order, and the indexes of the
// documents it rests on.
type Row struct {
	Columns []string
	Values  core.Doc
	Sources []int
}

type table struct {
	cols []string
	rows []Row
}

type command interface {
	apply(t table) table
	span() (int, int)
}

type base struct{ s, e int }

type parser struct {
	src  string
	toks []core.Token
	i    int
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
	return core.ErrorAt("esql", p.src, t.Pos, format, args...)
}
func (p *parser) expect(s string) (core.Token, error) {
	t := p.next()
	if !t.Is(s) {
		return t, p.errAt(t, "expected %q, found %s", s, t.Describe())
	}
	return t, nil
}

// Parse compiles an ES|QL query. Errors are *core.SyntaxError.
func Parse(src string) (*Query, error) {
	toks, err := core.Lex("esql", src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	q := &Query{src: src}
	if _, err := p.expect("from"); err != nil {
		return nil, err
	}
	if err := p.from(q); err != nil {
		return nil, err
	}
	for p.peek().Is("|") {
		p.next()
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		q.cmds = append(q.cmds, c)
	}
	if t := p.peek(); t.Kind != core.TEOF {
		return nil, p.errAt(t, "expected | or the end of the query, found %s", t.Describe())
	}
	return q, nil
}

// from reads index patterns as raw text: they hold - and *.
func (p *parser) from(q *Query) error {
	for {
		t := p.peek()
		start := t.Pos
		end := start
		for {
			t = p.peek()
			if t.Kind == core.TEOF || t.Is("|") || t.Is(",") || (t.Pos > end && end > start) {
				break
			}
			p.next()
			end = t.End
		}
		if end == start {
			return p.errAt(t, "expected an index pattern")
		}
		q.Indices = append(q.Indices, p.src[start:end])
		if !p.peek().Is(",") {
			break
		}
		p.next()
	}
	if p.peek().Is("metadata") {
		p.next()
		for {
			t := p.next()
			if t.Kind != core.TIdent {
				return p.errAt(t, "expected a metadata field")
			}
			q.Metadata = append(q.Metadata, t.Val)
			if !p.peek().Is(",") {
				break
			}
			p.next()
		}
	}
	return nil
}

func (p *parser) command() (command, error) {
	t := p.next()
	switch strings.ToLower(t.Text) {
	case "where":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		_, e := x.Span()
		return &whereCmd{base{t.Pos, e}, x}, nil
	case "stats":
		return p.stats(t)
	case "eval":
		return p.eval(t)
	case "keep", "drop":
		var pats []string
		for {
			f := p.next()
			if f.Kind != core.TIdent && !f.Is("*") {
				return nil, p.errAt(f, "expected a field name")
			}
			name := f.Val
			for nt := p.peek(); nt.Is("*") && nt.Pos == f.End; nt = p.peek() {
				p.next()
				name += "*"
				f = nt
			}
			pats = append(pats, name)
			if !p.peek().Is(",") {
				break
			}
			p.next()
		}
		return &keepCmd{base{t.Pos, p.toks[p.i-1].End}, pats, strings.EqualFold(t.Text, "drop")}, nil
	case "sort":
		c := &sortCmd{}
		for {
			f := p.next()
			if f.Kind != core.TIdent {
				return nil, p.errAt(f, "expected a field name")
			}
			k := sortKey{field: f.Val}
			if p.peek().Is("desc") || p.peek().Is("asc") {
				k.desc = p.next().Is("desc")
			}
			c.keys = append(c.keys, k)
			if !p.peek().Is(",") {
				break
			}
			p.next()
		}
		c.base = base{t.Pos, p.toks[p.i-1].End}
		return c, nil
	case "limit":
		n := p.next()
		v, err := strconv.Atoi(n.Val)
		if n.Kind != core.TNumber || err != nil {
			return nil, p.errAt(n, "limit needs a whole number")
		}
		return &limitCmd{base{t.Pos, n.End}, v}, nil
	}
	return nil, p.errAt(t, "command %s is not supported (from, where, stats, eval, keep, drop, sort, limit)", t.Describe())
}

func (b base) span() (int, int) { return b.s, b.e }

// Run evaluates the query over docs; index names each document's index
// (for the from command's patterns).
func (q *Query) Run(docs []core.Doc, index func(core.Doc) string) []Row {
	t := q.load(docs, index)
	for _, c := range q.cmds {
		t = c.apply(t)
	}
	return t.rows
}

func (q *Query) load(docs []core.Doc, index func(core.Doc) string) table {
	var t table
	seen := map[string]bool{}
	for i, d := range docs {
		if !q.inIndex(index(d)) {
			continue
		}
		row := Row{Values: core.Doc{}, Sources: []int{i}}
		for k, v := range d {
			row.Values[k] = v
			if !seen[k] {
				seen[k] = true
				t.cols = append(t.cols, k)
			}
		}
		// Metadata fields named in from ... metadata: _index is known
		// here; _id and _version are not, and stay null.
		if slices.Contains(q.Metadata, "_index") {
			row.Values["_index"] = core.StringValue(index(d))
			if !seen["_index"] {
				seen["_index"] = true
				t.cols = append(t.cols, "_index")
			}
		}
		t.rows = append(t.rows, row)
	}
	sort.Strings(t.cols)
	for i := range t.rows {
		t.rows[i].Columns = t.cols
	}
	return t
}

func (q *Query) inIndex(name string) bool {
	for _, p := range q.Indices {
		if core.Glob(name, p, '*', 0, false) {
			return true
		}
	}
	return false
}

// Explain says what each command of the pipeline left, and for the first
// where that leaves nothing, which condition the closest row fails.
func (q *Query) Explain(docs []core.Doc, index func(core.Doc) string) string {
	t := q.load(docs, index)
	var b strings.Builder
	fmt.Fprintf(&b, "from %s: %d of %d documents", strings.Join(q.Indices, ", "), len(t.rows), len(docs))
	for _, c := range q.cmds {
		before := t
		t = c.apply(t)
		s, e := c.span()
		text := strings.Join(strings.Fields(q.src[s:e]), " ")
		if len(text) > 100 {
			text = text[:97] + "..."
		}
		fmt.Fprintf(&b, "\n| %s: %d rows", text, len(t.rows))
		if w, ok := c.(*whereCmd); ok && len(t.rows) == 0 && len(before.rows) > 0 {
			rows := make([]core.Doc, len(before.rows))
			for i, r := range before.rows {
				rows[i] = r.Values
			}
			b.WriteString("\n  " + strings.ReplaceAll(core.ExplainConjuncts(q.src, w.cond, rows), "\n", "\n  "))
			break
		}
		if _, ok := c.(*statsCmd); ok {
			for i, r := range t.rows {
				if i == 5 {
					b.WriteString("\n  ...")
					break
				}
				var parts []string
				for _, col := range r.Columns {
					parts = append(parts, col+"="+clip(r.Values.Get(col).String()))
				}
				b.WriteString("\n  " + strings.Join(parts, " "))
			}
		}
		if len(t.rows) == 0 {
			break
		}
	}
	return b.String()
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", ",")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

type whereCmd struct {
	base
	cond core.Expr
}

func (c *whereCmd) apply(t table) table {
	out := table{cols: t.cols}
	for _, r := range t.rows {
		if core.Truthy(c.cond.Eval(r.Values)) {
			out.rows = append(out.rows, r)
		}
	}
	return out
}

type keepCmd struct {
	base
	pats []string
	drop bool
}

func (c *keepCmd) apply(t table) table {
	var cols []string
	if c.drop {
		for _, col := range t.cols {
			if !slices.ContainsFunc(c.pats, func(p string) bool { return core.Glob(col, p, '*', 0, false) }) {
				cols = append(cols, col)
			}
		}
	} else {
		for _, p := range c.pats {
			for _, col := range t.cols {
				if core.Glob(col, p, '*', 0, false) && !slices.Contains(cols, col) {
					cols = append(cols, col)
				}
			}
		}
	}
	out := table{cols: cols}
	for _, r := range t.rows {
		nr := Row{Columns: cols, Values: core.Doc{}, Sources: r.Sources}
		for _, col := range cols {
			if v := r.Values.Get(col); !v.IsNull() {
				nr.Values[col] = v
			}
		}
		out.rows = append(out.rows, nr)
	}
	return out
}

type sortKey struct {
	field string
	desc  bool
}

type sortCmd struct {
	base
	keys []sortKey
}

func (c *sortCmd) apply(t table) table {
	rows := slices.Clone(t.rows)
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range c.keys {
			a, b := rows[i].Values.Get(k.field), rows[j].Values.Get(k.field)
			n, ok := core.CompareValues(a, b)
			if !ok {
				// Nulls last.
				if a.IsNull() == b.IsNull() {
					continue
				}
				return b.IsNull()
			}
			if n != 0 {
				return (n < 0) != k.desc
			}
		}
		return false
	})
	return table{cols: t.cols, rows: rows}
}

type limitCmd struct {
	base
	n int
}

func (c *limitCmd) apply(t table) table {
	if len(t.rows) > c.n {
		t.rows = t.rows[:c.n]
	}
	return t
}
