package sigma

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/t1567001/harness/event"
)

// Set is rules compiled together: detection rules indexed by the channels
// they read, and the correlations over them.
type Set struct {
	rules     []*Rule
	corrs     []*Correlation
	byChannel map[string][]int // lower-case channel -> rule indexes
	anyEvent  []int            // rules with a wildcard or provider-only selector
	// uses[i]: the correlations rule i feeds, with its position there.
	uses   [][]corrUse
	silent []bool
}

type corrUse struct{ corr, pos int }

// Hit is one rule matching one event.
type Hit struct {
	Rule *Rule
	// RecordID, Time and Computer identify the event the hit rests on.
	RecordID uint64
	Time     time.Time
	Computer string
	// Silent: the rule only feeds correlations (generate: false).
	Silent bool

	idx int // the rule's index in its Set
}

func (h Hit) String() string {
	return fmt.Sprintf("%s matched record %d on %s at %s", h.Rule.display, h.RecordID, h.Computer, h.Time.UTC().Format(time.RFC3339Nano))
}

// Compile indexes the rules and resolves each correlation's references
// (by rule name or id) among them.
func Compile(c *Collection) (*Set, error) {
	s := &Set{rules: c.Rules, corrs: c.Correlations, byChannel: map[string][]int{}}
	byRef := map[string]*Rule{}
	index := map[*Rule]int{}
	for i, r := range c.Rules {
		index[r] = i
		byRef[r.ID] = r
		if r.Name != "" {
			byRef[r.Name] = r
		}
		wild := false
		seen := map[string]bool{}
		for _, sel := range r.selectors {
			if sel.Channel == "" || sel.Channel == "*" {
				wild = true
				continue
			}
			ch := strings.ToLower(sel.Channel)
			if !seen[ch] {
				seen[ch] = true
				s.byChannel[ch] = append(s.byChannel[ch], i)
			}
		}
		if wild {
			s.anyEvent = append(s.anyEvent, i)
		}
	}
	s.uses = make([][]corrUse, len(c.Rules))
	s.silent = make([]bool, len(c.Rules))
	for ci, corr := range c.Correlations {
		if err := corr.resolve(byRef); err != nil {
			return nil, err
		}
		for pos, r := range corr.resolved {
			i := index[r]
			s.uses[i] = append(s.uses[i], corrUse{corr: ci, pos: pos})
			if !corr.Generate {
				s.silent[i] = true
			}
		}
	}
	return s, nil
}

// Rules returns the set's detection rules.
func (s *Set) Rules() []*Rule { return s.rules }

// Correlations returns the set's correlation rules.
func (s *Set) Correlations() []*Correlation { return s.corrs }

// candidates are the rules whose logsource may hold the event.
func (s *Set) candidates(ev *event.Event, fn func(int)) {
	list := s.byChannel[ev.Channel]
	if list == nil && ev.Channel != "" {
		list = s.byChannel[strings.ToLower(ev.Channel)]
	}
	// Rules and anyEvent are both in rule order; merge them.
	a, b := list, s.anyEvent
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] < b[0]:
			fn(a[0])
			a = a[1:]
		case len(a) == 0 || b[0] < a[0]:
			fn(b[0])
			b = b[1:]
		default:
			fn(a[0])
			a, b = a[1:], b[1:]
		}
	}
}

// Match runs every rule on one event. The error is for a cancelled
// context.
func (s *Set) Match(ctx context.Context, ev *event.Event) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var hits []Hit
	s.candidates(ev, func(i int) {
		if s.rules[i].matches(ev) {
			hits = append(hits, Hit{Rule: s.rules[i], RecordID: ev.RecordID, Time: ev.TimeCreated, Computer: hostOf(ev), Silent: s.silent[i], idx: i})
		}
	})
	return hits, nil
}

// Engine runs a Set over a stream of events in time order, keeping per
// correlation and group only the events inside the timespan.
type Engine struct {
	set    *Set
	groups []map[string]*window
	// now is the latest event time seen.
	now   time.Time
	added int
}

// window is one group's events of one correlation.
type window struct {
	group  []GroupValue
	start  time.Time
	events []EventRef
}

// EventRef is an event a correlation rests on.
type EventRef struct {
	Rule     string // the matching rule's id
	RecordID uint64
	Time     time.Time
	Computer string
	// Value is value_count's field value.
	Value string
}

// GroupValue is one group-by field and its value.
type GroupValue struct{ Field, Value string }

// CorrelationHit is a correlation whose condition held for one group in
// one window.
type CorrelationHit struct {
	Correlation *Correlation
	Group       []GroupValue
	Start, End  time.Time
	// Count is what the condition measured: events, distinct values or
	// distinct rules.
	Count  int
	Events []EventRef
}

func (h CorrelationHit) String() string {
	c := h.Correlation
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %d (%s) within %s", displayName(c.ID, c.Title), c.Type, h.Count, c.condText, c.Timespan)
	if c.Type == ValueCount {
		fmt.Fprintf(&b, " of %s", c.Field)
	}
	if len(h.Group) > 0 {
		parts := make([]string, len(h.Group))
		for i, g := range h.Group {
			parts[i] = g.Field + "=" + g.Value
		}
		b.WriteString(" for " + strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, " in [%s, %s]:", h.Start.UTC().Format(time.RFC3339Nano), h.End.UTC().Format(time.RFC3339Nano))
	for _, e := range h.Events {
		fmt.Fprintf(&b, "\n  %s record %d on %s at %s", e.Rule, e.RecordID, e.Computer, e.Time.UTC().Format(time.RFC3339Nano))
		if e.Value != "" {
			fmt.Fprintf(&b, " (%s)", e.Value)
		}
	}
	return b.String()
}

// NewEngine starts a stream.
func (s *Set) NewEngine() *Engine {
	e := &Engine{set: s, groups: make([]map[string]*window, len(s.corrs))}
	for i := range e.groups {
		e.groups[i] = map[string]*window{}
	}
	return e
}

// Add runs the rules on the next event and feeds their hits to the
// correlations; it returns the hits that report (not Silent) and the
// correlations that fired. Events must come in time order.
func (e *Engine) Add(ctx context.Context, ev *event.Event) ([]Hit, []CorrelationHit, error) {
	hits, err := e.set.Match(ctx, ev)
	if err != nil {
		return nil, nil, err
	}
	if ev.TimeCreated.After(e.now) {
		e.now = ev.TimeCreated
	}
	var fired []CorrelationHit
	out := hits[:0:0]
	for _, h := range hits {
		if !h.Silent {
			out = append(out, h)
		}
	}
	for _, h := range hits {
		for _, u := range e.set.uses[h.idx] {
			if ch, ok := e.feed(u, h, ev); ok {
				fired = append(fired, ch)
			}
		}
	}
	e.added++
	if e.added%4096 == 0 {
		fired = append(fired, e.expire(e.now)...)
	}
	return out, fired, nil
}

// Flush judges the windows still open (the end of the stream).
func (e *Engine) Flush() []CorrelationHit {
	return e.expire(time.Time{})
}

// expire closes the windows that ended before now (all of them when now
// is zero), judging those whose condition has an upper bound.
func (e *Engine) expire(now time.Time) []CorrelationHit {
	var fired []CorrelationHit
	for ci, groups := range e.groups {
		c := e.set.corrs[ci]
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w := groups[k]
			if !now.IsZero() && !now.After(w.start.Add(c.Timespan)) {
				continue
			}
			if !now.IsZero() && !c.upper() {
				// A sliding window keeps its events still inside the timespan.
				if w.slide(now.Add(-c.Timespan)) {
					continue
				}
			}
			if c.upper() {
				if ch, ok := e.judge(c, w); ok {
					fired = append(fired, ch)
				}
			}
			delete(groups, k)
		}
	}
	return fired
}

func (e *Engine) feed(u corrUse, h Hit, ev *event.Event) (CorrelationHit, bool) {
	c := e.set.corrs[u.corr]
	r := h.Rule
	sel := r.selector(ev)
	fs := fields{ev: ev, sel: sel}
	group := make([]GroupValue, len(c.GroupBy))
	var key strings.Builder
	for i, g := range c.GroupBy {
		v, _ := fs.get(c.fieldFor(g, r))
		group[i] = GroupValue{Field: g, Value: v}
		key.WriteString(v)
		key.WriteByte(0)
	}
	ref := EventRef{Rule: r.ID, RecordID: ev.RecordID, Time: ev.TimeCreated, Computer: hostOf(ev)}
	if c.Type == ValueCount {
		v, ok := fs.get(c.fieldFor(c.Field, r))
		if !ok {
			return CorrelationHit{}, false
		}
		ref.Value = v
	}
	ref.Rule = fmt.Sprintf("%s#%d", r.ID, u.pos)
	groups := e.groups[u.corr]
	w := groups[key.String()]
	var fired CorrelationHit
	ok := false
	if w != nil && ev.TimeCreated.After(w.start.Add(c.Timespan)) {
		if c.upper() {
			// The window closed: judge it, then start afresh.
			fired, ok = e.judge(c, w)
			w = nil
		} else {
			if !w.slide(ev.TimeCreated.Add(-c.Timespan)) {
				w = nil
			}
		}
	}
	if w == nil {
		w = &window{group: group, start: ev.TimeCreated}
		groups[key.String()] = w
	}
	w.events = append(w.events, ref)
	if !c.upper() {
		if ch, held := e.judge(c, w); held {
			delete(groups, key.String())
			return ch, true
		}
	}
	return fired, ok
}

// judge measures a window and reports whether the condition holds.
func (e *Engine) judge(c *Correlation, w *window) (CorrelationHit, bool) {
	n := 0
	switch c.Type {
	case EventCount:
		n = len(w.events)
	case ValueCount:
		seen := map[string]bool{}
		for _, ev := range w.events {
			seen[strings.ToLower(ev.Value)] = true
		}
		n = len(seen)
	case Temporal:
		seen := map[string]bool{}
		for _, ev := range w.events {
			seen[ev.Rule] = true
		}
		n = len(seen)
	case TemporalOrdered:
		// The longest prefix of the rule order found in sequence.
		for _, ev := range w.events {
			if n < len(c.resolved) && ev.Rule == fmt.Sprintf("%s#%d", c.resolved[n].ID, n) {
				n++
			}
		}
	}
	if !c.holds(float64(n)) {
		return CorrelationHit{}, false
	}
	events := append([]EventRef(nil), w.events...)
	for i := range events {
		events[i].Rule = events[i].Rule[:strings.LastIndexByte(events[i].Rule, '#')]
	}
	return CorrelationHit{Correlation: c, Group: w.group, Start: w.start, End: w.events[len(w.events)-1].Time, Count: n, Events: events}, true
}

// slide drops the events before from and reports whether any is left.
func (w *window) slide(from time.Time) bool {
	i := 0
	for i < len(w.events) && w.events[i].Time.Before(from) {
		i++
	}
	w.events = w.events[i:]
	if len(w.events) == 0 {
		return false
	}
	w.start = w.events[0].Time
	return true
}
