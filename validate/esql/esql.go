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

type parser struct{ *core.Parser }

// Parse compiles an ES|QL query. Errors are *core.SyntaxError.
func Parse(src string) (*Query, error) {
	cp, err := core.NewParser("esql", src)
	if err != nil {
		return nil, err
	}
	p := parser{cp}
	q := &Query{src: src}
	if _, err := p.Expect("from"); err != nil {
		return nil, err
	}
	if err := p.from(q); err != nil {
		return nil, err
	}
	for p.Peek().Is("|") {
		p.Next()
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		q.cmds = append(q.cmds, c)
	}
	if t := p.Peek(); t.Kind != core.TEOF {
		return nil, p.ErrAt(t, "expected | or the end of the query, found %s", t.Describe())
	}
	return q, nil
}

// from reads index patterns as raw text: they hold - and *.
func (p parser) from(q *Query) error {
	for {
		t := p.Peek()
		start := t.Pos
		end := start
		for {
			t = p.Peek()
			if t.Kind == core.TEOF || t.Is("|") || t.Is(",") || (t.Pos > end && end > start) {
				break
			}
			p.Next()
			end = t.End
		}
		if end == start {
			return p.ErrAt(t, "expected an index pattern")
		}
		q.Indices = append(q.Indices, p.Src[start:end])
		if !p.Peek().Is(",") {
			break
		}
		p.Next()
	}
	if p.Peek().Is("metadata") {
		p.Next()
		for {
			t := p.Next()
			if t.Kind != core.TIdent {
				return p.ErrAt(t, "expected a metadata field")
			}
			q.Metadata = append(q.Metadata, t.Val)
			if !p.Peek().Is(",") {
				break
			}
			p.Next()
		}
	}
	return nil
}

func (p parser) command() (command, error) {
	t := p.Next()
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
			f := p.Next()
			if f.Kind != core.TIdent && !f.Is("*") {
				return nil, p.ErrAt(f, "expected a field name")
			}
			name := f.Val
			for nt := p.Peek(); nt.Is("*") && nt.Pos == f.End; nt = p.Peek() {
				p.Next()
				name += "*"
				f = nt
			}
			pats = append(pats, name)
			if !p.Peek().Is(",") {
				break
			}
			p.Next()
		}
		return &keepCmd{base{t.Pos, p.Prev().End}, pats, strings.EqualFold(t.Text, "drop")}, nil
	case "sort":
		c := &sortCmd{}
		for {
			f := p.Next()
			if f.Kind != core.TIdent {
				return nil, p.ErrAt(f, "expected a field name")
			}
			k := sortKey{field: f.Val}
			if p.Peek().Is("desc") || p.Peek().Is("asc") {
				k.desc = p.Next().Is("desc")
			}
			c.keys = append(c.keys, k)
			if !p.Peek().Is(",") {
				break
			}
			p.Next()
		}
		c.base = base{t.Pos, p.Prev().End}
		return c, nil
	case "limit":
		n := p.Next()
		v, err := strconv.Atoi(n.Val)
		if n.Kind != core.TNumber || err != nil {
			return nil, p.ErrAt(n, "limit needs a whole number")
		}
		return &limitCmd{base{t.Pos, n.End}, v}, nil
	}
	return nil, p.ErrAt(t, "command %s is not supported (from, where, stats, eval, keep, drop, sort, limit)", t.Describe())
}

func (b base) span() (int, int) { return b.s, b.e }

// Run evaluates the query over docs; index names each document's index
// (for the from command's patterns). Rows name documents by their index
// in docs.
func (q *Query) Run(docs []core.Doc, index func(core.Doc) string) []Row {
	var out []Row
	s := q.Stream(index, func(r Row) { out = append(out, r) })
	for i, d := range docs {
		s.Push(d, i)
	}
	s.Close()
	return out
}

// Stream is one run of a query over documents pushed one at a time. The
// commands before the first that needs every row (stats, sort, limit) run
// on each document as it comes, and with no such command its row goes out
// at once; stats keeps one aggregate per group, sort and limit the rows
// that reach them, and Close runs the rest of the pipeline over what they
// kept.
type Stream struct {
	q     *Query
	index func(core.Doc) string
	emit  func(Row)
	seg   int       // the first blocking command, or len(cmds)
	lead  int       // the leading where commands that run on the document itself
	stats *statsAcc // when that command is stats
	held  []Row     // when it is sort or limit
	// loaded counts the documents in the query's indices, out[i] the rows
	// command i let through, total every document; closest[i] follows
	// the rows reaching where command i, when explaining.
	loaded, total int
	first         int // the first document kept, -1 before
	out           []int
	closest       []*core.Closest
}

// Stream starts a run whose rows go to emit; index names each document's
// index.
func (q *Query) Stream(index func(core.Doc) string, emit func(Row)) *Stream {
	s := &Stream{q: q, index: index, emit: emit, seg: len(q.cmds), first: -1, out: make([]int, len(q.cmds))}
cmds:
	for i, c := range q.cmds {
		switch c := c.(type) {
		case *whereCmd, *evalCmd, *keepCmd:
			continue
		case *statsCmd:
			s.stats = c.acc()
		}
		s.seg = i
		break cmds
	}
	// A where before any other command reads the document as it is (no
	// copy) unless it names a metadata field, which only the row has.
	for _, c := range q.cmds[:s.seg] {
		w, ok := c.(*whereCmd)
		if !ok || slices.ContainsFunc(core.FieldNames(w.cond), func(f string) bool { return slices.Contains(q.Metadata, f) }) {
			break
		}
		s.lead++
	}
	return s
}

// Oldest is the id of the first document the run keeps to cite; false
// when it keeps none. Ids are taken to increase as documents come.
func (s *Stream) Oldest() (id int, ok bool) { return s.first, s.first >= 0 }

// Held is how many documents the run cites in what it keeps: the rows
// a sort or limit holds, the sources of stats' groups.
func (s *Stream) Held() int {
	if s.stats != nil {
		return s.stats.cited
	}
	return len(s.held)
}

// Push runs one document, which the caller names id, through the commands
// that stream. It reports whether the run keeps the document to cite it in
// a row it yields at Close.
func (s *Stream) Push(d core.Doc, id int) (kept bool) {
	s.total++
	name := s.index(d)
	if !s.q.inIndex(name) {
		return false
	}
	s.loaded++
	for i, c := range s.q.cmds[:s.lead] {
		if s.closest != nil {
			s.closest[i].Add(d)
		}
		if !core.Truthy(c.(*whereCmd).cond.Eval(d)) {
			return false
		}
		s.out[i]++
	}
	t := s.q.row(d, name, id)
	for i, c := range s.q.cmds[s.lead:s.seg] {
		i += s.lead
		if s.closest != nil && s.closest[i] != nil {
			s.closest[i].Add(t.rows[0].Values)
		}
		if t = c.apply(t); len(t.rows) == 0 {
			return false
		}
		s.out[i]++
	}
	r := t.rows[0]
	switch {
	case s.stats != nil:
		kept = s.stats.add(r)
	case s.seg < len(s.q.cmds):
		s.held = append(s.held, r)
		kept = true
	default:
		s.emit(r)
	}
	if kept && s.first < 0 {
		s.first = id
	}
	return kept
}

// Close runs the commands from the first blocking one over what it kept,
// and emits the rows.
func (s *Stream) Close() {
	for _, r := range s.tail(nil).rows {
		s.emit(r)
	}
}

// tail runs the blocking commands and those after them; when b is not
// nil, it writes what each left, as Explain does.
func (s *Stream) tail(b *strings.Builder) table {
	q := s.q
	if s.seg == len(q.cmds) {
		return table{}
	}
	var t table
	start := s.seg
	if s.stats != nil {
		t = s.stats.table()
		start++
		if b != nil && !s.line(b, s.seg, t, table{}) {
			return table{}
		}
	} else {
		t = tableOf(s.held)
	}
	for i := start; i < len(q.cmds); i++ {
		before := t
		t = q.cmds[i].apply(t)
		if b != nil && !s.line(b, i, t, before) {
			return table{}
		}
	}
	return t
}

// line writes what command i left, t, from before; it reports whether the
// explanation goes on.
func (s *Stream) line(b *strings.Builder, i int, t, before table) bool {
	c := s.q.cmds[i]
	fmt.Fprintf(b, "\n| %s: %d rows", s.q.text(c), len(t.rows))
	if w, ok := c.(*whereCmd); ok && len(t.rows) == 0 && len(before.rows) > 0 {
		closest := core.NewClosest(s.q.src, w.cond)
		for _, r := range before.rows {
			closest.Add(r.Values)
		}
		b.WriteString("\n  " + strings.ReplaceAll(closest.String(), "\n", "\n  "))
		return false
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
	return len(t.rows) > 0
}

// text is a command's query text on one line, clipped.
func (q *Query) text(c command) string {
	s, e := c.span()
	text := strings.Join(strings.Fields(q.src[s:e]), " ")
	if len(text) > 100 {
		text = text[:97] + "..."
	}
	return text
}

// row is document d of index name as a one-row table: every field, and
// the metadata fields named in from ... metadata (_index is known here;
// _id and _version are not, and stay null).
func (q *Query) row(d core.Doc, name string, id int) table {
	row := Row{Values: make(core.Doc, len(d)+1), Sources: []int{id}}
	for k, v := range d {
		row.Values[k] = v
	}
	if slices.Contains(q.Metadata, "_index") {
		row.Values["_index"] = core.StringValue(name)
	}
	row.Columns = row.Values.Fields()
	return table{cols: row.Columns, rows: []Row{row}}
}

// tableOf gathers rows that went through the streaming commands one at a
// time: the columns are every row's, in the order first seen.
func tableOf(rows []Row) table {
	t := table{rows: rows}
	seen := map[string]bool{}
	for _, r := range rows {
		for _, c := range r.Columns {
			if !seen[c] {
				seen[c] = true
				t.cols = append(t.cols, c)
			}
		}
	}
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
	x := q.Explainer(index)
	for i, d := range docs {
		x.Add(d, i)
	}
	return x.String()
}

// Explainer follows documents one at a time for Explain, holding what a
// run holds and, per where command, the row closest to passing it.
type Explainer struct{ s *Stream }

// Explainer starts an explanation; index names each document's index.
func (q *Query) Explainer(index func(core.Doc) string) *Explainer {
	s := q.Stream(index, func(Row) {})
	s.closest = make([]*core.Closest, len(q.cmds))
	for i, c := range q.cmds[:s.seg] {
		if w, ok := c.(*whereCmd); ok {
			s.closest[i] = core.NewClosest(q.src, w.cond)
		}
	}
	return &Explainer{s: s}
}

// Add offers the next document, which the caller names id.
func (x *Explainer) Add(d core.Doc, id int) { x.s.Push(d, id) }

func (x *Explainer) String() string {
	s, q := x.s, x.s.q
	var b strings.Builder
	fmt.Fprintf(&b, "from %s: %d of %d documents", strings.Join(q.Indices, ", "), s.loaded, s.total)
	in := s.loaded
	for i, c := range q.cmds[:s.seg] {
		fmt.Fprintf(&b, "\n| %s: %d rows", q.text(c), s.out[i])
		if s.out[i] == 0 {
			if s.closest[i] != nil && in > 0 {
				b.WriteString("\n  " + strings.ReplaceAll(s.closest[i].String(), "\n", "\n  "))
			}
			return b.String()
		}
		in = s.out[i]
	}
	s.tail(&b)
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
