package spl

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"
)

// command is one stage of a pipeline.
type command interface {
	base() *cmdBase
}

// streamer is a command that looks at one record at a time.
type streamer interface {
	command
	stream(st *runState, i int, r *record) (keep bool, err error)
}

// blocker is a command that needs every record before producing output.
// It keeps only what it needs: sort the records (at most its limit, once
// trimmed), stats one aggregate per group.
type blocker interface {
	command
	sink() sink
}

// sink takes a blocking command's input one record at a time.
type sink interface {
	add(r *record)
	finish() []*record
}

type cmdBase struct {
	start int    // byte offset of the command name in the query
	text  string // the command's text, for explanations
}

func (c *cmdBase) base() *cmdBase { return c }

// runState holds what streaming commands remember during one Run, so that a
// Query itself stays immutable.
type runState struct {
	counts []int
	seen   []map[string]int
	stop   bool // head has its rows: nothing later in this segment passes
	// specs holds the commands specialised per event key (specialise.go).
	specs specCache
}

func newRunState(cmds int) *runState {
	return &runState{counts: make([]int, cmds), seen: make([]map[string]int, cmds), specs: specCache{cmds: cmds}}
}

type searchCmd struct {
	cmdBase
	tree *sNode // as written, for Explain
	fast *sNode // optimised for matching
}

func (c *searchCmd) stream(_ *runState, i int, r *record) (bool, error) {
	if len(r.over) == 0 && r.cols == nil {
		if r.spec != nil {
			n := r.spec.search[i]
			if n == nil {
				n = c.fast.specialise(r, r.ev.(Keyed))
				r.spec.search[i] = n
			}
			return n.match(r), nil
		}
	}
	return c.fast.match(r), nil
}

type whereCmd struct {
	cmdBase
	cond tester
	// keyed: only search, where and eval come before, so that an event's
	// constant fields reach this command unchanged but for assigned.
	keyed    bool
	assigned []string
}

func (c *whereCmd) stream(_ *runState, i int, r *record) (bool, error) {
	cond := c.cond
	if c.keyed && r.spec != nil {
		if cond = r.spec.where[i]; cond == nil {
			cond = specTest(c.cond, &specEnv{r: r, k: r.ev.(Keyed), assigned: c.assigned, ks: r.spec})
			r.spec.where[i] = cond
		}
	}
	return cond.test(r), nil
}

type assignment struct {
	field string
	slot  int
	e     expr
	pos   int
}

type evalCmd struct {
	cmdBase
	assigns []assignment
	// As for whereCmd; assigned includes this command's own fields.
	keyed    bool
	assigned []string
}

// errBoolAssign is reported at run time when a case() or if() branch yields
// a Boolean, which Splunk does not store in a field either.
type errBoolAssign struct{ field string }

func (e errBoolAssign) Error() string {
	return "field " + e.field + " cannot be assigned a Boolean result; use if(condition, value, value)"
}

func (c *evalCmd) stream(_ *runState, i int, r *record) (bool, error) {
	assigns := c.assigns
	if c.keyed && r.spec != nil {
		if assigns = r.spec.eval[i]; assigns == nil {
			sp := &specEnv{r: r, k: r.ev.(Keyed), assigned: c.assigned, ks: r.spec}
			assigns = slices.Clone(c.assigns)
			for j := range assigns {
				assigns[j].e = specExpr(assigns[j].e, sp)
				r.spec.assigned(assigns[j].field, assigns[j].e)
			}
			r.spec.eval[i] = assigns
		}
	}
	for _, a := range assigns {
		v := a.e.eval(r)
		if v.Kind() == KindBool {
			return false, errBoolAssign{a.field}
		}
		// Splunk: assigning null removes the field.
		r.setSlot(a.slot, a.field, v)
	}
	return true, nil
}

type fieldPat struct {
	name string
	wild bool
	w    wildcard
}

type tableCmd struct {
	cmdBase
	fields []fieldPat
	// static is the column list when no field has a wildcard: shared by
	// every record (set appends to a clipped copy), not built per event.
	static []string
}

// expand resolves wildcard field names against the record's fields, in the
// record's field order, as Splunk's table and fields do.
func expand(pats []fieldPat, r *record, onlyPresent bool) []string {
	var out []string
	var visible []string
	for _, p := range pats {
		if !p.wild {
			if !slices.Contains(out, p.name) && (!onlyPresent || !r.get(p.name).IsNull()) {
				out = append(out, p.name)
			}
			continue
		}
		if visible == nil {
			visible = r.names()
		}
		for _, n := range visible {
			if p.w.Match(n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func restrict(r *record, cols []string) {
	r.unpack()
	if r.cols != nil {
		// Fields the previous table or fields removed must stay removed.
		for _, n := range cols {
			if !slices.Contains(r.cols, n) {
				r.set(n, Value{})
			}
		}
	}
	r.cols = cols
}

func (c *tableCmd) stream(_ *runState, _ int, r *record) (bool, error) {
	cols := c.static
	if cols == nil {
		cols = expand(c.fields, r, false)
	}
	restrict(r, cols)
	return true, nil
}

type fieldsCmd struct {
	cmdBase
	remove bool
	fields []fieldPat
}

func (c *fieldsCmd) stream(_ *runState, _ int, r *record) (bool, error) {
	if c.remove {
		drop := expand(c.fields, r, true)
		var keep []string
		for _, n := range r.names() {
			if !slices.Contains(drop, n) {
				keep = append(keep, n)
			}
		}
		restrict(r, keep)
		return true, nil
	}
	cols := expand(c.fields, r, true)
	// Splunk keeps the internal fields _raw and _time unless removed with -.
	for _, internal := range []string{"_raw", "_time"} {
		if !slices.Contains(cols, internal) && !r.get(internal).IsNull() {
			cols = append(cols, internal)
		}
	}
	restrict(r, cols)
	return true, nil
}

type renameCmd struct {
	cmdBase
	pairs [][2]string
}

func (c *renameCmd) stream(_ *runState, _ int, r *record) (bool, error) {
	for _, p := range c.pairs {
		from, to := p[0], p[1]
		v := r.get(from)
		if v.IsNull() || from == to {
			continue
		}
		r.unpack()
		if r.cols != nil {
			cols := make([]string, 0, len(r.cols))
			for _, n := range r.cols {
				switch n {
				case from:
					cols = append(cols, to)
				case to:
				default:
					cols = append(cols, n)
				}
			}
			r.cols = cols
		}
		r.set(from, Value{})
		r.set(to, v)
	}
	return true, nil
}

type headCmd struct {
	cmdBase
	n int
}

func (c *headCmd) stream(st *runState, i int, _ *record) (bool, error) {
	if st.counts[i] >= c.n {
		st.stop = true
		return false, nil
	}
	st.counts[i]++
	return true, nil
}

type dedupCmd struct {
	cmdBase
	limit     int
	keepEmpty bool
	fields    []string
}

func (c *dedupCmd) stream(st *runState, i int, r *record) (bool, error) {
	var b strings.Builder
	for _, f := range c.fields {
		v := r.get(f)
		if v.IsNull() {
			// Splunk drops results missing a dedup field unless keepempty=true.
			return c.keepEmpty, nil
		}
		b.WriteString(strings.Join(v.Values(), "\x01"))
		b.WriteByte(0)
	}
	if st.seen[i] == nil {
		st.seen[i] = make(map[string]int)
	}
	k := b.String()
	if st.seen[i][k] >= c.limit {
		return false, nil
	}
	st.seen[i][k]++
	return true, nil
}

type sortKey struct {
	field string
	desc  bool
	as    string // "", "auto", "num", "str", "ip"
}

type sortCmd struct {
	cmdBase
	limit int
	keys  []sortKey
}

// sval is a precomputed sort key.
type sval struct {
	null  bool
	isNum bool
	num   float64
	str   string
}

// sameStrings reports whether a and b are the same slice (not merely
// equal).
func sameStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func sortValue(v Value, field, as string) sval {
	s, ok := v.Text()
	if !ok {
		return sval{null: true}
	}
	if as == "str" {
		return sval{str: s}
	}
	if f, ok := v.Number(); ok {
		return sval{isNum: true, num: f, str: s}
	}
	if field == "_time" {
		// _time may be an ISO timestamp; order it as a time.
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return sval{isNum: true, num: float64(t.UnixNano()) / 1e9, str: s}
			}
		}
	}
	if as == "num" {
		return sval{null: true}
	}
	return sval{str: s}
}

// compareSort orders non-null keys as Splunk's sort does: numbers before
// strings, numbers numerically, strings lexicographically (uppercase first).
func compareSort(a, b sval) int {
	switch {
	case a.isNum && b.isNum:
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	case a.isNum:
		return -1
	case b.isNum:
		return 1
	}
	return strings.Compare(a.str, b.str)
}

type sortSink struct {
	c    *sortCmd
	recs []*record
}

func (c *sortCmd) sink() sink { return &sortSink{c: c} }

func (s *sortSink) add(r *record) {
	s.recs = append(s.recs, r)
	// With a limit, only the first limit records in order can be output:
	// trim now and then so that memory stays bounded by the limit.
	if lim := s.c.limit; lim > 0 && len(s.recs) >= 2*lim+1024 {
		s.recs = s.c.order(s.recs)
	}
}

func (s *sortSink) finish() []*record { return s.c.order(s.recs) }

// order sorts recs stably and applies the limit.
func (c *sortCmd) order(recs []*record) []*record {
	// One block holds every record's keys, record i's at i*nk.
	nk := len(c.keys)
	keys := make([]sval, len(recs)*nk)
	// Rows kept after one table share its columns: each key's column is
	// found once for them all.
	var cols []string
	at := make([]int, nk)
	for j := range at {
		at[j] = -1
	}
	for i, r := range recs {
		if r.row != nil && !sameStrings(r.cols, cols) {
			cols = r.cols
			for j, k := range c.keys {
				at[j] = slices.Index(cols, k.field)
			}
		}
		for j, k := range c.keys {
			var v Value
			switch {
			case r.row == nil:
				v = r.get(k.field)
			case at[j] >= 0:
				v = r.row[at[j]]
			}
			keys[i*nk+j] = sortValue(v, k.field, k.as)
		}
	}
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		a, b := keys[x*nk:(x+1)*nk], keys[y*nk:(y+1)*nk]
		for j, k := range c.keys {
			// Results missing the field sort last in either direction.
			if a[j].null || b[j].null {
				if a[j].null != b[j].null {
					if b[j].null {
						return -1
					}
					return 1
				}
				continue
			}
			cmp := compareSort(a[j], b[j])
			if k.desc {
				cmp = -cmp
			}
			if cmp != 0 {
				return cmp
			}
		}
		return 0
	})
	out := make([]*record, len(recs))
	for i, j := range idx {
		out[i] = recs[j]
	}
	if c.limit > 0 && len(out) > c.limit {
		out = out[:c.limit]
	}
	return out
}

type aggregate struct {
	fn    string
	field string
	name  string
}

type statsCmd struct {
	cmdBase
	aggs []aggregate
	by   []string
}

type group struct {
	by   []Value
	aggs []aggState
	src  []int
}

type statsSink struct {
	c      *statsCmd
	groups map[string]*group
	order  []*group
	key    strings.Builder
}

func (c *statsCmd) sink() sink { return &statsSink{c: c, groups: map[string]*group{}} }

func (s *statsSink) add(r *record) {
	c := s.c
	key := &s.key
	{
		key.Reset()
		by := make([]Value, len(c.by))
		skip := false
		for i, f := range c.by {
			by[i] = r.get(f)
			if by[i].IsNull() {
				// Splunk leaves out results that lack a by-field.
				skip = true
				break
			}
			key.WriteString(strings.Join(by[i].Values(), "\x01"))
			key.WriteByte(0)
		}
		if skip {
			return
		}
		g := s.groups[key.String()]
		if g == nil {
			// The group keeps its own copies: not the event's strings.
			for i := range by {
				by[i] = by[i].Detach()
			}
			g = &group{by: by, aggs: make([]aggState, len(c.aggs))}
			s.groups[key.String()] = g
			s.order = append(s.order, g)
		}
		g.src = append(g.src, r.src...)
		for i, a := range c.aggs {
			if a.field == "" {
				g.aggs[i].AddRow()
				continue
			}
			g.aggs[i].Add(a.fn, r.get(a.field))
		}
	}
}

func (s *statsSink) finish() []*record {
	c, order := s.c, s.order
	if len(c.by) == 0 && len(order) == 0 {
		order = append(order, &group{aggs: make([]aggState, len(c.aggs))})
	}
	sort.SliceStable(order, func(x, y int) bool {
		for i := range c.by {
			cmp := compareSort(sortValue(order[x].by[i], c.by[i], ""), sortValue(order[y].by[i], c.by[i], ""))
			if cmp != 0 {
				return cmp < 0
			}
		}
		return false
	})
	cols := slices.Clone(c.by)
	for _, a := range c.aggs {
		if !slices.Contains(cols, a.name) {
			cols = append(cols, a.name)
		}
	}
	out := make([]*record, 0, len(order))
	for _, g := range order {
		r := &record{cols: cols, src: g.src}
		for i, f := range c.by {
			r.over = append(r.over, binding{name: f, val: g.by[i]})
		}
		for i, a := range c.aggs {
			v := g.aggs[i].Result(a.fn)
			r.over = append(r.over, binding{name: a.name, val: v})
		}
		out = append(out, r)
	}
	return out
}

// Run evaluates the pipeline over events, in order, and returns the result
// rows. Events are not modified.
func (q *Query) Run(events []Event) ([]Row, error) {
	return q.RunContext(context.Background(), slices.Values(events))
}

// RunContext evaluates the pipeline over a sequence of events and returns
// the result rows; it stops with ctx's error when ctx is done.
func (q *Query) RunContext(ctx context.Context, events iter.Seq[Event]) ([]Row, error) {
	var rows []Row
	s := q.Stream(ctx, func(r Row) error { rows = append(rows, r); return nil })
	for ev := range events {
		if err := s.Push(ev); err != nil {
			return nil, err
		}
		if s.Done() {
			break
		}
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

// Stream is one run of a query over events pushed one at a time. Events
// flow through the streaming commands (search, where, eval, table, ...)
// and out as rows at once; the first command that needs every event
// (sort, stats) keeps only what it needs until Close. No event is held
// after Push returns unless such a command keeps its record.
type Stream struct {
	q       *Query
	ctx     context.Context
	emit    func(Result) error
	vals    []Value // the values of the Result being emitted
	st      *runState
	seg     int // the first blocking command, or len(cmds)
	sink    sink
	scratch record
	kp      keeper // the memory of the records the sink keeps
	n       int
	kept    int
	err     error
	closed  bool
}

// ctxEvery is how many events pass between two looks at the context: a
// look costs about as much as evaluating a small query on one event.
const ctxEvery = 64

// Result is a result row as the pipeline yields it, valid only during the
// call it is given to: Fields in output order and Values beside them (null
// where the row lacks the field), without the map of a [Row]. A caller that
// keeps a Result copies what it keeps.
type Result struct {
	Fields  []string
	Values  []Value
	Sources []int // as in [Row]
}

// Row copies r into a Row.
func (r Result) Row() Row {
	row := Row{Fields: slices.Clone(r.Fields), Values: make(map[string]Value, len(r.Fields)), Sources: r.Sources}
	for i, n := range r.Fields {
		if !r.Values[i].IsNull() {
			row.Values[n] = r.Values[i]
		}
	}
	return row
}

// Stream starts a run whose rows go to emit, in order.
func (q *Query) Stream(ctx context.Context, emit func(Row) error) *Stream {
	return q.StreamResults(ctx, func(r Result) error { return emit(r.Row()) })
}

// StreamResults starts a run whose rows go to emit as Results, in order:
// for a caller that converts rows to its own form, so that no Row map is
// built on the way.
func (q *Query) StreamResults(ctx context.Context, emit func(Result) error) *Stream {
	s := &Stream{
		q: q, ctx: ctx, emit: emit,
		st:      newRunState(len(q.cmds)),
		seg:     q.segmentEnd(0),
		scratch: record{slots: make([]slotEntry, q.slots)},
		kp:      newKeeper(),
	}
	if s.seg < len(q.cmds) {
		s.sink = q.cmds[s.seg].(blocker).sink()
	}
	return s
}

// Push runs one event through the pipeline. The event is not modified,
// and not held after Push returns: a command that keeps a record (sort)
// keeps a copy, so the caller may reuse a view for the next event.
func (s *Stream) Push(ev Fields) error {
	if s.err != nil {
		return s.err
	}
	if s.n++; s.n%ctxEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			s.err = fmt.Errorf("spl: stopped after %d events: %w", s.n-1, err)
			return s.err
		}
	}
	if s.st.stop {
		return nil
	}
	s.scratch.reset(ev)
	if k, ok := ev.(Keyed); ok && s.q.keyed {
		s.scratch.spec = s.st.specs.lookup(k)
	}
	keep, err := s.q.streamRange(s.st, &s.scratch, 0, s.seg)
	if err != nil {
		s.err = err
		return err
	}
	if !keep {
		return nil
	}
	// The row rests on this event: its index in the stream.
	if s.sink != nil {
		s.kept++
		s.sink.add(s.scratch.keep(s.n-1, &s.kp))
		return nil
	}
	s.scratch.src = []int{s.n - 1}
	if err := s.emitRecord(&s.scratch); err != nil {
		s.err = err
	}
	return s.err
}

// Kept is how many events have reached the first command that needs
// every event (sort, stats): the rows Close emits rest only on those.
func (s *Stream) Kept() int { return s.kept }

// Done reports whether no further event can change the result (a head
// has all its rows): the caller may stop reading.
func (s *Stream) Done() bool { return s.st.stop || s.err != nil }

// Close runs the blocking commands over what they kept and emits the
// remaining rows.
func (s *Stream) Close() error {
	if s.err != nil || s.closed || s.sink == nil {
		s.closed = true
		return s.err
	}
	s.closed = true
	recs := s.sink.finish()
	q := s.q
	for i := s.seg; i < len(q.cmds); {
		i++
		end := q.segmentEnd(i)
		s.st.stop = false
		out := recs[:0]
		for k, r := range recs {
			if k%ctxEvery == 0 {
				if err := s.ctx.Err(); err != nil {
					return fmt.Errorf("spl: stopped: %w", err)
				}
			}
			keep, err := q.streamRange(s.st, r, i, end)
			if err != nil {
				return err
			}
			if keep {
				out = append(out, r)
			}
			if s.st.stop {
				break
			}
		}
		recs = out
		if end < len(q.cmds) {
			sk := q.cmds[end].(blocker).sink()
			for _, r := range recs {
				sk.add(r)
			}
			recs = sk.finish()
		}
		i = end
	}
	for _, r := range recs {
		if err := s.emitRecord(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stream) emitRecord(r *record) error {
	var res Result
	res, s.vals = r.result(s.vals)
	return s.emit(res)
}

// segmentEnd returns the index of the first blocking command at or after i.
func (q *Query) segmentEnd(i int) int {
	for ; i < len(q.cmds); i++ {
		if _, ok := q.cmds[i].(blocker); ok {
			return i
		}
	}
	return i
}

func (q *Query) streamRange(st *runState, r *record, from, to int) (bool, error) {
	for i := from; i < to; i++ {
		keep, err := q.streamers[i].stream(st, i, r)
		if err != nil {
			b := q.cmds[i].base()
			line, col := position(q.src, b.start)
			return false, fmt.Errorf("spl: %d:%d: %s: %w", line, col, firstWord(b.text), err)
		}
		if !keep {
			return false, nil
		}
	}
	return true, nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// Explanation tells why an event did or did not produce a result.
type Explanation struct {
	// Search is the evaluation of the first search clause; nil when the
	// query has none.
	Search *Trace
	// Stages follows the event through the streaming commands (search,
	// where, eval, table, ...) up to the first command that needs every
	// event (sort, stats), stopping at the command that dropped it.
	Stages []Stage
	// Kept is true when the event survived every stage in Stages.
	Kept bool
}

// Stage is one command applied to the explained event.
type Stage struct {
	Command string // the command text as written
	Line    int
	Column  int
	Kept    bool
	// Set lists, for eval, the fields assigned and their values (null when
	// the assignment removed the field), which shows e.g. why a score was 1.
	Set []FieldValue
	Err error // a run-time error raised by the command
}

// FieldValue is a field name and its value.
type FieldValue struct {
	Field string
	Value Value
}

// Explain evaluates the query on one event and reports, term by term, how
// the first search clause matched and which later command, if any, dropped
// the event. It is how a detection engineer learns why a rule missed.
func (q *Query) Explain(ev Event) *Explanation {
	x := &Explanation{Kept: true}
	r := &record{}
	r.reset(ev)
	st := newRunState(len(q.cmds))
	for i, c := range q.cmds {
		s, ok := c.(streamer)
		if !ok {
			break
		}
		b := c.base()
		stage := Stage{Command: b.text}
		stage.Line, stage.Column = position(q.src, b.start)
		if sc, ok := c.(*searchCmd); ok && sc == q.search {
			x.Search = sc.tree.explain(newPosTracker(q.src), r)
		}
		keep, err := s.stream(st, i, r)
		stage.Kept, stage.Err = keep && err == nil, err
		if e, ok := c.(*evalCmd); ok {
			for _, a := range e.assigns {
				stage.Set = append(stage.Set, FieldValue{Field: a.field, Value: r.get(a.field)})
			}
		}
		x.Stages = append(x.Stages, stage)
		if !stage.Kept {
			x.Kept = false
			break
		}
	}
	if x.Search == nil && q.search != nil {
		// The first search clause comes after a blocking command; still
		// show how its terms fare on the raw event.
		r.reset(ev)
		x.Search = q.search.tree.explain(newPosTracker(q.src), r)
	}
	return x
}

// Hypothetical evaluates the streaming commands after the first search on
// ev as if that search had kept it, and returns what eval assigned: what the
// rule would have made of an event its search dropped (for instance the
// Signal it would have carried). It stops where a later command drops the
// event or at the first command that needs every event.
func (q *Query) Hypothetical(ev Event) []FieldValue {
	r := &record{}
	r.reset(ev)
	st := newRunState(len(q.cmds))
	var set []FieldValue
	for i, c := range q.cmds {
		s, ok := c.(streamer)
		if !ok {
			break
		}
		if sc, ok := c.(*searchCmd); ok && sc == q.search {
			continue
		}
		keep, err := s.stream(st, i, r)
		if e, ok := c.(*evalCmd); ok {
			for _, a := range e.assigns {
				set = append(set, FieldValue{Field: a.field, Value: r.get(a.field)})
			}
		}
		if !keep || err != nil {
			break
		}
	}
	return set
}

// String renders the explanation for people: the search trace, then each
// stage with its outcome.
func (x *Explanation) String() string {
	var b strings.Builder
	if x.Search != nil {
		b.WriteString("search:\n")
		x.Search.write(&b, 1)
	}
	for _, s := range x.Stages {
		mark := "[ok]"
		if !s.Kept {
			mark = "[dropped]"
		}
		fmt.Fprintf(&b, "%s %d:%d %s\n", mark, s.Line, s.Column, firstLine(s.Command))
		for _, f := range s.Set {
			fmt.Fprintf(&b, "    %s = %s\n", f.Field, f.Value)
		}
		if s.Err != nil {
			fmt.Fprintf(&b, "    error: %v\n", s.Err)
		}
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
