package esql

import (
	"slices"
	"strings"

	"github.com/t1567001/harness/validate/core"
)

type agg struct {
	name  string
	fn    string // core.Agg's name
	field core.Expr
	star  bool
}

type statsCmd struct {
	base
	aggs []agg
	by   []string
}

// aggregations maps ES|QL's names to core.Agg's.
var aggregations = map[string]string{
	"count": "count", "count_distinct": "dc", "values": "values",
	"min": "min", "max": "max", "sum": "sum", "avg": "avg",
}

func (p parser) stats(t core.Token) (command, error) {
	c := &statsCmd{}
	for {
		name := ""
		first := p.Peek()
		if first.Kind == core.TIdent && p.PeekAt(1).Is("=") {
			p.Next()
			p.Next()
			name = first.Val
		}
		fnTok := p.Next()
		fn, ok := aggregations[strings.ToLower(fnTok.Text)]
		if fnTok.Kind != core.TIdent || !ok {
			return nil, p.ErrAt(fnTok, "expected an aggregation (count, count_distinct, values, min, max, sum, avg), found %s", fnTok.Describe())
		}
		if _, err := p.Expect("("); err != nil {
			return nil, err
		}
		a := agg{fn: fn}
		if p.Peek().Is("*") {
			p.Next()
			a.star = true
		} else {
			x, err := p.operand()
			if err != nil {
				return nil, err
			}
			a.field = x
		}
		cl, err := p.Expect(")")
		if err != nil {
			return nil, err
		}
		if name == "" {
			name = p.Src[fnTok.Pos:cl.End]
		}
		a.name = name
		c.aggs = append(c.aggs, a)
		if !p.Peek().Is(",") {
			break
		}
		p.Next()
	}
	if p.Peek().Is("by") {
		p.Next()
		for {
			f := p.Next()
			if f.Kind != core.TIdent {
				return nil, p.ErrAt(f, "expected a field name after by")
			}
			c.by = append(c.by, f.Val)
			if !p.Peek().Is(",") {
				break
			}
			p.Next()
		}
	}
	c.base = base{t.Pos, p.Prev().End}
	return c, nil
}

func (c *statsCmd) apply(t table) table {
	a := c.acc()
	for _, r := range t.rows {
		a.add(r)
	}
	return a.table()
}

// statsAcc is stats over rows added one at a time: an aggregate per group,
// and the first core.MaxSources rows' sources.
type statsAcc struct {
	c      *statsCmd
	order  []*group
	groups map[string]*group
	cited  int // the sources the groups cite
}

type group struct {
	key     []core.Value
	aggs    []core.Agg
	sources []int
}

func (c *statsCmd) acc() *statsAcc { return &statsAcc{c: c, groups: map[string]*group{}} }

// add folds r into its group; it reports whether the group cites r's
// sources.
func (a *statsAcc) add(r Row) bool {
	c := a.c
	var kb strings.Builder
	key := make([]core.Value, len(c.by))
	for i, f := range c.by {
		key[i] = r.Values.Get(f)
		kb.WriteString(key[i].String())
		kb.WriteByte(0)
	}
	g := a.groups[kb.String()]
	if g == nil {
		g = &group{key: key, aggs: make([]core.Agg, len(c.aggs))}
		a.groups[kb.String()] = g
		a.order = append(a.order, g)
	}
	kept := len(g.sources) < core.MaxSources
	if kept {
		g.sources = append(g.sources, r.Sources...)
		a.cited += len(r.Sources)
	}
	for i, ag := range c.aggs {
		if ag.star {
			g.aggs[i].AddRow()
			continue
		}
		if v := ag.field.Eval(r.Values); !v.IsNull() {
			g.aggs[i].Add(ag.fn, v)
		}
	}
	return kept
}

// table is the groups' rows.
func (a *statsAcc) table() table {
	c := a.c
	var cols []string
	for _, ag := range c.aggs {
		cols = append(cols, ag.name)
	}
	cols = append(cols, c.by...)
	out := table{cols: cols}
	order := a.order
	if len(order) == 0 && len(c.by) == 0 {
		// Without by, stats yields one row even over no rows.
		order = append(order, &group{aggs: make([]core.Agg, len(c.aggs))})
	}
	for _, g := range order {
		r := Row{Columns: cols, Values: core.Doc{}, Sources: g.sources}
		for i, ag := range c.aggs {
			if v := g.aggs[i].Result(ag.fn); !v.IsNull() {
				r.Values[ag.name] = v
			}
		}
		for i, f := range c.by {
			if !g.key[i].IsNull() {
				r.Values[f] = g.key[i]
			}
		}
		out.rows = append(out.rows, r)
	}
	return out
}

type evalCmd struct {
	base
	names []string
	exprs []core.Expr
}

func (p parser) eval(t core.Token) (command, error) {
	c := &evalCmd{}
	for {
		n := p.Next()
		if n.Kind != core.TIdent {
			return nil, p.ErrAt(n, "expected a field name")
		}
		if _, err := p.Expect("="); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.names = append(c.names, n.Val)
		c.exprs = append(c.exprs, x)
		if !p.Peek().Is(",") {
			break
		}
		p.Next()
	}
	c.base = base{t.Pos, p.Prev().End}
	return c, nil
}

func (c *evalCmd) apply(t table) table {
	cols := t.cols
	for _, n := range c.names {
		if !slices.Contains(cols, n) {
			cols = append(append([]string(nil), cols...), n)
		}
	}
	out := table{cols: cols}
	for _, r := range t.rows {
		nr := Row{Columns: cols, Values: core.Doc{}, Sources: r.Sources}
		for k, v := range r.Values {
			nr.Values[k] = v
		}
		for i, n := range c.names {
			if v := c.exprs[i].Eval(nr.Values); v.IsNull() {
				delete(nr.Values, n)
			} else {
				nr.Values[n] = v
			}
		}
		out.rows = append(out.rows, nr)
	}
	return out
}
