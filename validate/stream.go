package validate

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/spl"
)

// Feed runs one rule over events pushed one at a time: rows go out as the
// rule yields them, so that a recording of any size is checked in
// constant memory (commands such as sort and stats keep what they need).
type Feed interface {
	// Push offers one event; the rule does not keep it. Rows name their
	// events by their index in the stream (Row.Sources).
	Push(ev *event.Event) error
	// Kept reports whether the rule keeps the index of the event pushed
	// last to cite it in a row it yields later (a stats group, a pending
	// sequence, a correlation window): the caller keeps what it shows of
	// such an event.
	Kept() bool
	// Done reports whether no further event can change the rule's rows.
	Done() bool
	// Held is how many events the rule holds now, as records (sort) or as
	// indexes it will cite (a stats group, a pending sequence, a
	// correlation window): what it keeps of the stream.
	Held() int
	// Oldest is the index of the oldest event the rule may still cite in
	// a row, or the number of events pushed when it may cite none of
	// those gone by.
	Oldest() int
	// Close ends the stream and emits the rows still held.
	Close() error
}

// Explainer follows events one at a time, the same events a rule ran
// over, and says at the end, in the rule's terms, why they give (or do
// not give) an outcome. It keeps counts and a few examples, never the
// events.
type Explainer interface {
	Push(ev *event.Event) error
	String() string
}

// timeOrdered is a rule whose result depends on the order of events
// (correlations, sequences, first sightings): over events held in memory
// it runs in time order.
type timeOrdered interface{ timeOrdered() bool }

// order is the order rule reads events held in memory in: by TimeCreated
// (stable) for a rule that depends on it, as given otherwise.
func order(r Rule, events []event.Event) []int {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	if t, ok := r.(timeOrdered); ok && t.timeOrdered() {
		sort.SliceStable(order, func(a, b int) bool { return events[order[a]].TimeCreated.Before(events[order[b]].TimeCreated) })
	}
	return order
}

// Evaluate runs r over events held in memory and returns its rows, whose
// sources are indexes into events.
func Evaluate(ctx context.Context, r Rule, events []event.Event) ([]Row, error) {
	var rows []Row
	order := order(r, events)
	f := r.Start(ctx, func(row Row) error {
		// The stream numbers events as they come; the caller, by input.
		for i, s := range row.Sources {
			row.Sources[i] = order[s]
		}
		rows = append(rows, row)
		return nil
	})
	for _, i := range order {
		if err := f.Push(&events[i]); err != nil {
			return nil, err
		}
		if f.Done() {
			break
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

// Explain says, in r's terms, why events give (or do not give) want.
func Explain(ctx context.Context, r Rule, events []event.Event, want Outcome) string {
	rows, err := Evaluate(ctx, r, events)
	if err != nil {
		return fmt.Sprintf("rule %s: %v", r.ID(), err)
	}
	return explain(ctx, r, events, want, rows)
}

// explain explains with the rows r yields on events.
func explain(ctx context.Context, r Rule, events []event.Event, want Outcome, rows []Row) string {
	x := r.Explainer(ctx, want, rows)
	for _, i := range order(r, events) {
		if err := x.Push(&events[i]); err != nil {
			return fmt.Sprintf("rule %s: %v", r.ID(), err)
		}
	}
	return x.String()
}

// Start runs the query over a stream.
func (r *SPLRule) Start(ctx context.Context, emit func(Row) error) Feed {
	f := &splFeed{rule: r, first: -1}
	f.view.opts = &r.opts
	f.s = r.query.StreamResults(ctx, func(row spl.Result) error { return emit(f.toRow(row)) })
	return f
}

type splFeed struct {
	rule *SPLRule
	s    *spl.Stream
	view splView
	// n counts the events pushed, first is the first one kept (or -1).
	n, first int
	kept     bool
	// fields are the last row's fields, shared by the rows after it that
	// have the same (a query's rows mostly do), clipped so that appending
	// to one row's copies.
	fields []string
	// The rows' values come from chunks: a rule may return many rows.
	vals  core.Chunks[string]
	nulls core.Chunks[bool]
}

func (f *splFeed) Push(ev *event.Event) error {
	f.view.reset(ev)
	kept := f.s.Kept()
	if err := f.s.Push(&f.view); err != nil {
		return fmt.Errorf("rule %s: %w", f.rule.id, err)
	}
	f.n++
	if f.kept = f.s.Kept() > kept; f.kept && f.first < 0 {
		f.first = f.n - 1
	}
	return nil
}

func (f *splFeed) Kept() bool { return f.kept }

func (f *splFeed) Done() bool { return f.s.Done() }

// Held: a sort keeps the record of every event it got, stats the index.
func (f *splFeed) Held() int { return f.s.Kept() }

// Oldest: what sort and stats keep, they keep until Close.
func (f *splFeed) Oldest() int {
	if f.first < 0 {
		return f.n
	}
	return f.first
}

func (f *splFeed) Close() error {
	if err := f.s.Close(); err != nil {
		return fmt.Errorf("rule %s: %w", f.rule.id, err)
	}
	return nil
}

func (f *splFeed) toRow(row spl.Result) Row {
	vals := f.vals.Take(len(row.Fields))
	var null []bool
	for i, v := range row.Values {
		if v.IsNull() {
			if null == nil {
				null = f.nulls.Take(len(row.Fields))
			}
			null[i] = true
			continue
		}
		vals[i] = v.String()
	}
	if f.fields == nil || !slices.Equal(f.fields, row.Fields) {
		f.fields = slices.Clip(slices.Clone(row.Fields))
	}
	return Row{Fields: f.fields, Values: vals, Null: null, Sources: row.Sources}
}

// Start runs the rule file's Set over the stream (sigmaStream): matches go
// out at their event, correlations when their window holds, and at Close
// the windows still open are judged. Correlations expect events in time
// order, as recordings are.
func (r *SigmaRule) Start(ctx context.Context, emit func(Row) error) Feed {
	return &sigmaFeed{st: r.stream(ctx, emit)}
}

type sigmaFeed struct {
	st   *sigmaStream
	kept bool
}

func (f *sigmaFeed) Push(ev *event.Event) (err error) {
	f.kept, err = f.st.push(ev)
	return err
}

func (f *sigmaFeed) Kept() bool { return f.kept }
func (f *sigmaFeed) Done() bool { return false }
func (f *sigmaFeed) Held() int  { n, _ := f.st.eng.Held(); return n }
func (f *sigmaFeed) Oldest() int {
	if n, oldest := f.st.eng.Held(); n > 0 {
		return int(oldest)
	}
	return int(f.st.eng.Added())
}
func (f *sigmaFeed) Close() error { return f.st.close() }

// maxRefs is how many of the events a rule keeps, and may still cite, a
// stream remembers the EventRef of (the first ones, as an aggregating row
// cites its first events: core.MaxSources); of the others it remembers
// only their provenance, when it is not recorded.
const maxRefs = 4096

// sources remembers, for one rule's stream, what its rows may cite of the
// events gone by: only the events the rule keeps (Feed.Push), never the
// others, since no row can rest on them; and of those only the ones it
// may still cite (Feed.Oldest).
type sources struct {
	refs      bool // whether to remember EventRefs, or only provenance
	cur       *event.Event
	n         int // events pushed; the current one is n-1
	origins   map[int]event.Provenance
	byIndex   map[int]EventRef
	originsAt queue // origins' keys in the order added
	refsAt    queue // byIndex's
	held      *int  // the events held by every stream of a check
	peak      *int
}

// queue is event indexes in increasing order, taken from the head.
type queue struct {
	items []int
	head  int
}

func (q *queue) len() int   { return len(q.items) - q.head }
func (q *queue) push(i int) { q.items = append(q.items, i) }
func (q *queue) front() int { return q.items[q.head] }
func (q *queue) pop() (i int) {
	i, q.head = q.items[q.head], q.head+1
	if q.head >= 1024 && q.head*2 >= len(q.items) {
		q.items, q.head = slices.Delete(q.items, 0, q.head), 0
	}
	return i
}

func newSources(refs bool, held, peak *int) *sources {
	return &sources{refs: refs, origins: map[int]event.Provenance{}, byIndex: map[int]EventRef{}, held: held, peak: peak}
}

// push makes ev the current event.
func (s *sources) push(ev *event.Event) {
	s.cur = ev
	s.n++
}

// keep remembers the current event, which the rule keeps.
func (s *sources) keep() {
	i := s.n - 1
	if o := s.cur.Origin(); o != event.Recorded {
		s.origins[i] = o
		s.originsAt.push(i)
		s.count(1)
	}
	if !s.refs {
		return
	}
	if s.refsAt.len() == maxRefs {
		return
	}
	s.byIndex[i] = refOf(s.cur)
	s.refsAt.push(i)
	s.count(1)
}

// release forgets the events before oldest, which no row can cite any
// more.
func (s *sources) release(oldest int) {
	for s.originsAt.len() > 0 && s.originsAt.front() < oldest {
		delete(s.origins, s.originsAt.pop())
		s.count(-1)
	}
	for s.refsAt.len() > 0 && s.refsAt.front() < oldest {
		delete(s.byIndex, s.refsAt.pop())
		s.count(-1)
	}
}

func (s *sources) count(d int) {
	if s.held == nil {
		return
	}
	*s.held += d
	if *s.held > *s.peak {
		*s.peak = *s.held
	}
}

// origin is the provenance of event i, one the rule kept or the current
// one.
func (s *sources) origin(i int) event.Provenance {
	if i == s.n-1 && s.cur != nil {
		return s.cur.Origin()
	}
	if p, ok := s.origins[i]; ok {
		return p
	}
	return event.Recorded
}

// ref is the EventRef of event i, when it is the current one or one of
// the first the rule kept (and may still cite).
func (s *sources) ref(i int) (EventRef, bool) {
	if i == s.n-1 && s.cur != nil {
		return refOf(s.cur), true
	}
	r, ok := s.byIndex[i]
	return r, ok
}

func refOf(ev *event.Event) EventRef {
	return EventRef{
		Computer: ev.Computer, Channel: ev.Channel, RecordID: ev.RecordID, EventID: ev.EventID,
		Provenance: ev.Origin(), Observations: ev.Observations, Summary: describe(*ev),
	}
}
