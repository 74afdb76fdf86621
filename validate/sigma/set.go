package sigma

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/t1567001/harness/event"
)

// Set is rules compiled together: detection rules indexed by the channels
// they read, and the correlations over them. A Set is read-only once
// compiled and safe for concurrent use; an Engine is not.
type Set struct {
	rules     []*Rule
	corrs     []*Correlation
	byChannel map[string][]int // lower-case channel -> rule indexes
	anyEvent  []int            // rules with a wildcard or provider-only selector
	// ruleUses[i], corrUses[i]: the correlations rule (correlation) i
	// feeds, with its position there.
	ruleUses, corrUses [][]corrUse
	// silent, corrSilent: only feeds correlations (generate: false).
	silent, corrSilent []bool
}

type corrUse struct{ corr, pos int }

// Hit is one rule matching one event.
type Hit struct {
	Rule *Rule
	// RecordID, Time and Computer identify the event the hit rests on;
	// Origin is what that event rests on.
	RecordID uint64
	Time     time.Time
	Computer string
	Origin   event.Provenance
	// Seq is the event's position in its Engine's stream (0 for the
	// first event Added; 0 from Set.Match).
	Seq uint64
	// Silent: the rule only feeds correlations (generate: false).
	Silent bool

	idx int // the rule's index in its Set
}

func (h Hit) String() string {
	return fmt.Sprintf("%s matched record %d on %s at %s", h.Rule.display, h.RecordID, h.Computer, h.Time.UTC().Format(time.RFC3339Nano))
}

// Compile indexes the rules, applies the filters to the rules they name
// (the Set holds filtered copies; the given rules are left as they are)
// and resolves each correlation's references (by rule or correlation name
// or id) among them.
func Compile(c *Collection) (*Set, error) {
	rules, err := withFilters(c.Rules, c.Filters)
	if err != nil {
		return nil, err
	}
	// The Set's own correlations: resolving sets their inputs, and the
	// given ones may be compiled into other Sets too.
	corrs := make([]*Correlation, len(c.Correlations))
	for i, k := range c.Correlations {
		cp := *k
		cp.inputs = nil
		corrs[i] = &cp
	}
	c = &Collection{Rules: rules, Correlations: corrs}
	s := &Set{rules: c.Rules, corrs: c.Correlations, byChannel: map[string][]int{}}
	byRef := map[string]source{}
	for i, r := range c.Rules {
		byRef[r.ID] = source{rule: r}
		if r.Name != "" {
			byRef[r.Name] = source{rule: r}
		}
		wild := false
		seen := map[string]bool{}
		for _, sel := range r.selectors {
			if sel.Channel == "" || sel.Channel == "*" {
				wild = true
				continue
			}
			// Indexed by channel, and by provider for events that carry
			// no channel.
			for _, k := range []string{strings.ToLower(sel.Channel), providerKey(sel.Provider)} {
				if k != providerKey("") && !seen[k] {
					seen[k] = true
					s.byChannel[k] = append(s.byChannel[k], i)
				}
			}
		}
		if wild {
			s.anyEvent = append(s.anyEvent, i)
		}
	}
	corrIndex := map[*Correlation]int{}
	for i, corr := range c.Correlations {
		corrIndex[corr] = i
		byRef[corr.ID] = source{corr: corr}
		if corr.Name != "" {
			byRef[corr.Name] = source{corr: corr}
		}
	}
	ruleIndex := map[*Rule]int{}
	for i, r := range c.Rules {
		ruleIndex[r] = i
	}
	s.ruleUses = make([][]corrUse, len(c.Rules))
	s.corrUses = make([][]corrUse, len(c.Correlations))
	s.silent = make([]bool, len(c.Rules))
	s.corrSilent = make([]bool, len(c.Correlations))
	for ci, corr := range c.Correlations {
		if err := corr.resolve(byRef); err != nil {
			return nil, err
		}
		for pos, src := range corr.inputs {
			u := corrUse{corr: ci, pos: pos}
			if src.rule != nil {
				i := ruleIndex[src.rule]
				s.ruleUses[i] = append(s.ruleUses[i], u)
				s.silent[i] = s.silent[i] || !corr.Generate
			} else {
				i := corrIndex[src.corr]
				s.corrUses[i] = append(s.corrUses[i], u)
				s.corrSilent[i] = s.corrSilent[i] || !corr.Generate
			}
		}
	}
	// A chain must end: no correlation may count itself.
	state := make([]uint8, len(c.Correlations))
	var visit func(int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return Unsupported{Path: c.Correlations[i].Path, Line: c.Correlations[i].Line, Reason: fmt.Sprintf("correlation %s is part of a cycle of correlations", c.Correlations[i].ID)}
		case 2:
			return nil
		}
		state[i] = 1
		for _, u := range s.corrUses[i] {
			if err := visit(u.corr); err != nil {
				return err
			}
		}
		state[i] = 2
		return nil
	}
	for i := range c.Correlations {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// providerKey is a provider's key in byChannel, apart from channels.
func providerKey(p string) string { return "provider:" + strings.ToLower(p) }

// Rules returns the set's detection rules.
func (s *Set) Rules() []*Rule { return s.rules }

// Correlations returns the set's correlation rules.
func (s *Set) Correlations() []*Correlation { return s.corrs }

// candidates are the rules whose logsource may hold the event.
func (s *Set) candidates(ev *event.Event, fn func(int)) {
	var list []int
	switch {
	case ev.Channel == "":
		list = s.byChannel[providerKey(ev.Provider.Name)]
	default:
		if list = s.byChannel[ev.Channel]; list == nil {
			list = s.byChannel[strings.ToLower(ev.Channel)]
		}
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
			hits = append(hits, Hit{Rule: s.rules[i], RecordID: ev.RecordID, Time: ev.TimeCreated, Computer: hostOf(ev), Origin: ev.Origin(), Silent: s.silent[i], idx: i})
		}
	})
	return hits, nil
}

// Engine runs a Set over a stream of events in time order, keeping per
// correlation and group only the entries inside the timespan.
type Engine struct {
	set    *Set
	groups []map[string]*window
	// now is the latest event time seen.
	now time.Time
	// added counts the events Added, fed those that fed a correlation.
	added, fed uint64
}

// window is one group's entries of one correlation.
type window struct {
	group   []GroupValue
	start   time.Time
	entries []entry
}

// entry is one input of a correlation: a rule's match or a chained
// correlation's hit.
type entry struct {
	pos    int // position in the correlation's rules
	time   time.Time
	value  string // value_count's field value
	events []EventRef
}

// EventRef is an event a correlation rests on.
type EventRef struct {
	Rule     string // the matching rule's id
	RecordID uint64
	Time     time.Time
	Computer string
	Origin   event.Provenance
	// Seq is the event's position in the Engine's stream.
	Seq uint64
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
	Count int
	// Events are the events the hit rests on, through chained
	// correlations down to the detection rules' matches.
	Events []EventRef
	// Silent: the correlation only feeds another (generate: false).
	Silent bool
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

// Add runs the rules on the next event and feeds their matches to the
// correlations; it returns the hits that report (not Silent) and the
// correlation hits (chained ones included; Silent marks those that only
// feed another). Events must come in time order.
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
	for i := range hits {
		hits[i].Seq = e.added
		if !hits[i].Silent {
			out = append(out, hits[i])
		}
	}
	fed := false
	for _, h := range hits {
		uses := e.set.ruleUses[h.idx]
		if len(uses) == 0 {
			continue
		}
		fed = true
		fs := fields{ev: ev, sel: h.Rule.selector(ev)}
		ref := EventRef{Rule: h.Rule.ID, RecordID: ev.RecordID, Time: ev.TimeCreated, Computer: hostOf(ev), Origin: h.Origin, Seq: h.Seq}
		for _, u := range uses {
			fired = e.feed(u, ev.TimeCreated, []EventRef{ref}, fs.get, fired)
		}
	}
	if fed {
		e.fed++
	}
	e.added++
	if e.added%4096 == 0 {
		fired = append(fired, e.expire(e.now)...)
	}
	return out, fired, nil
}

// Fed is how many events have fed a correlation window: a correlation
// hit rests only on those.
func (e *Engine) Fed() uint64 { return e.fed }

// Held is how many events the correlation windows cite now, and the
// stream position (EventRef.Seq) of the oldest of them.
func (e *Engine) Held() (n int, oldest uint64) {
	oldest = e.added
	for _, groups := range e.groups {
		for _, w := range groups {
			for _, en := range w.entries {
				n += len(en.events)
				for _, ev := range en.events {
					oldest = min(oldest, ev.Seq)
				}
			}
		}
	}
	return n, oldest
}

// Added is how many events the engine has been given.
func (e *Engine) Added() uint64 { return e.added }

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
				// A sliding window keeps its entries still inside the timespan.
				if w.slide(now.Add(-c.Timespan)) {
					continue
				}
			}
			delete(groups, k)
			if c.upper() {
				if ch, ok := e.judge(ci, w); ok {
					fired = e.emit(ci, ch, fired)
				}
			}
		}
	}
	return fired
}

// emit records a correlation hit and feeds it to the correlations that
// chain on it.
func (e *Engine) emit(ci int, ch CorrelationHit, fired []CorrelationHit) []CorrelationHit {
	ch.Silent = e.set.corrSilent[ci]
	fired = append(fired, ch)
	get := func(name string) (string, bool) {
		for _, g := range ch.Group {
			if g.Field == name {
				return g.Value, true
			}
		}
		return "", false
	}
	for _, u := range e.set.corrUses[ci] {
		fired = e.feed(u, ch.End, ch.Events, get, fired)
	}
	return fired
}

// feed adds one input to a correlation's group window and judges it.
func (e *Engine) feed(u corrUse, t time.Time, events []EventRef, get func(string) (string, bool), fired []CorrelationHit) []CorrelationHit {
	c := e.set.corrs[u.corr]
	group := make([]GroupValue, len(c.GroupBy))
	var key strings.Builder
	for i, g := range c.GroupBy {
		v, _ := get(c.fieldFor(g, u.pos))
		group[i] = GroupValue{Field: g, Value: v}
		key.WriteString(v)
		key.WriteByte(0)
	}
	en := entry{pos: u.pos, time: t, events: events}
	if c.Type == ValueCount {
		v, ok := get(c.fieldFor(c.Field, u.pos))
		if !ok {
			return fired
		}
		en.value = v
		en.events = make([]EventRef, len(events))
		for i, ev := range events {
			ev.Value = v
			en.events[i] = ev
		}
	}
	groups := e.groups[u.corr]
	k := key.String()
	w := groups[k]
	if w != nil && t.After(w.start.Add(c.Timespan)) {
		if c.upper() {
			// The window closed: judge it, then start afresh.
			delete(groups, k)
			if ch, ok := e.judge(u.corr, w); ok {
				fired = e.emit(u.corr, ch, fired)
			}
			w = nil
		} else if !w.slide(t.Add(-c.Timespan)) {
			w = nil
		}
	}
	if w == nil {
		w = &window{group: group, start: t}
		groups[k] = w
	}
	w.entries = append(w.entries, en)
	if len(w.entries) > MaxWindowEntries {
		w.entries = w.entries[len(w.entries)-MaxWindowEntries:]
		w.start = w.entries[0].time
	}
	if !c.upper() {
		if ch, held := e.judge(u.corr, w); held {
			delete(groups, k)
			fired = e.emit(u.corr, ch, fired)
		}
	}
	return fired
}

// MaxWindowEntries bounds the entries one group's window keeps; beyond
// it the oldest are dropped.
const MaxWindowEntries = 100000

// judge measures a window and reports whether the condition holds.
func (e *Engine) judge(ci int, w *window) (CorrelationHit, bool) {
	c := e.set.corrs[ci]
	n := 0
	used := w.entries
	switch c.Type {
	case EventCount:
		n = len(w.entries)
	case ValueCount:
		seen := map[string]bool{}
		for _, en := range w.entries {
			seen[strings.ToLower(en.value)] = true
		}
		n = len(seen)
	case Temporal:
		seen := map[int]bool{}
		for _, en := range w.entries {
			seen[en.pos] = true
		}
		n = len(seen)
	case TemporalOrdered:
		// The longest prefix of the rules' order found in sequence; the
		// hit rests on the entries of that sequence.
		used = nil
		for _, en := range w.entries {
			if en.pos == n {
				n++
				used = append(used, en)
			}
		}
	}
	if !c.holds(float64(n)) {
		return CorrelationHit{}, false
	}
	ch := CorrelationHit{Correlation: c, Group: w.group, Start: w.start, End: w.entries[len(w.entries)-1].time, Count: n}
	for _, en := range used {
		ch.Events = append(ch.Events, en.events...)
	}
	return ch, true
}

// slide drops the entries before from and reports whether any is left.
func (w *window) slide(from time.Time) bool {
	i := 0
	for i < len(w.entries) && w.entries[i].time.Before(from) {
		i++
	}
	w.entries = w.entries[i:]
	if len(w.entries) == 0 {
		return false
	}
	w.start = w.entries[0].time
	return true
}

// Complete returns c with what its correlations and filters name but c
// does not hold, taken from lib (a folder's rules), so that a correlation
// file may count rules written in other files; and with lib's filters
// that name any of its rules. Names lib lacks are left for Compile to
// report.
func (c *Collection) Complete(lib *Collection) *Collection {
	have := map[string]bool{}
	add := func(id, name string) {
		have[id] = true
		if name != "" {
			have[name] = true
		}
	}
	for _, r := range c.Rules {
		add(r.ID, r.Name)
	}
	for _, k := range c.Correlations {
		add(k.ID, k.Name)
	}
	out := &Collection{Rules: c.Rules, Correlations: c.Correlations, Filters: c.Filters}
	var want []string
	for _, k := range c.Correlations {
		want = append(want, k.Rules...)
	}
	for _, f := range c.Filters {
		want = append(want, f.Rules...)
	}
	for len(want) > 0 {
		ref := want[0]
		want = want[1:]
		if have[ref] {
			continue
		}
		for _, r := range lib.Rules {
			if r.ID == ref || r.Name != "" && r.Name == ref {
				out.Rules = append(out.Rules, r)
				add(r.ID, r.Name)
				break
			}
		}
		for _, k := range lib.Correlations {
			if !have[ref] && (k.ID == ref || k.Name != "" && k.Name == ref) {
				// A chained correlation brings what it counts.
				out.Correlations = append(out.Correlations, k)
				add(k.ID, k.Name)
				want = append(want, k.Rules...)
				break
			}
		}
		have[ref] = true
	}
	// The folder's filters apply to the rules wherever they are written.
	for _, f := range lib.Filters {
		if slices.Contains(out.Filters, f) {
			continue
		}
		for _, ref := range f.Rules {
			if slices.ContainsFunc(out.Rules, func(r *Rule) bool { return r.ID == ref || r.Name != "" && r.Name == ref }) {
				out.Filters = append(out.Filters, f)
				break
			}
		}
	}
	return out
}
