package spl

import (
	"slices"

	"github.com/t1567001/harness/validate/core"
)

// binding is a field set or removed (a null val) by the pipeline,
// shadowing the event.
type binding struct {
	name string
	val  Value
	// key is 1 + the query's slot for name, or 0 for a binding made by
	// name alone: two keyed bindings are told apart by number.
	key int
}

// is says whether b binds the field name, whose slot is slot (-1: none).
func (b *binding) is(slot int, name string) bool {
	if b.key != 0 && slot >= 0 {
		return b.key == slot+1
	}
	return b.name == name
}

// record is an event in flight. The event map is never modified: the
// pipeline's changes live in over, so a record can be reused for the next
// event without clearing a map, and cols (set by table or fields) limits and
// orders the visible fields.
type record struct {
	ev   Fields
	over []binding
	cols []string // nil: every field is visible
	// row, for a record kept after table or fields, holds the value of
	// each of cols in order (ev and over are then empty); a command that
	// changes the record unpacks it into over first.
	row []Value
	// spec is the stream's commands specialised for the event's key, for
	// a record of a Keyed event (specialise.go).
	spec *keySpec
	// src are the indexes of the input events the record comes from.
	src []int

	// A cache of event lookups by slot, a per-query number for each field
	// name the query reads: the seed query tests EventCode, Image and
	// CommandLine in several branches, and lookups dominate evaluation.
	// An entry is valid for the event whose number gen it holds, so that
	// moving to the next event clears nothing.
	slots []slotEntry
	gen   uint32
}

type slotEntry struct {
	gen     uint32
	present bool
	val     string
}

func (r *record) reset(ev Fields) {
	r.ev = ev
	r.over = r.over[:0]
	r.cols = nil
	r.row = nil
	r.spec = nil
	if r.gen++; r.gen == 0 {
		clear(r.slots) // the counter wrapped: no entry may look current
		r.gen = 1
	}
}

// evLookup reads an event field through the slot cache; slot -1, or a
// record without a cache, reads the event.
func (r *record) evLookup(slot int, name string) (string, bool) {
	if slot < 0 || slot >= len(r.slots) {
		return r.ev.Field(name)
	}
	e := &r.slots[slot]
	if e.gen != r.gen {
		e.val, e.present = r.ev.Field(name)
		e.gen = r.gen
	}
	return e.val, e.present
}

// kept is a record held past its event, with the one source a pushed
// event has, so that both come in one allocation.
type kept struct {
	record
	src [1]int
}

// keep copies the record, which rests on the event numbered src, for a
// command that holds it past the event (sort), taking the memory from kp.
// After table or fields, the copy is its visible values in column order
// (row), their text copied, so that the rest of the event can be freed and
// result reads them in order; otherwise the whole event, as a map, so that
// a view over the caller's event is not held.
func (r *record) keep(src int, kp *keeper) *record {
	k := &kp.recs.Take(1)[0]
	k.src = [1]int{src}
	c := &k.record
	c.cols, c.src = r.cols, k.src[:]
	if r.cols == nil {
		if len(r.over) > 0 {
			c.over = slices.Clone(r.over)
		}
		c.ev = materialise(r.ev)
		return c
	}
	c.ev = pairs(nil)
	c.row = kp.vals.Take(len(r.cols))
	for i, n := range r.cols {
		v := r.visible(-1, n)
		if v.Kind() == KindMulti {
			v = v.Detach() // rare: copied on its own
		} else if s := v.Str(); s != "" {
			v = v.WithStr(kp.text.Copy(s))
		}
		c.row[i] = v
	}
	return c
}

// keeper holds the memory of the records a stream keeps (a sort may keep
// one per event) in chunks of a few kilobytes, so that a sort of a few
// rows stays small.
type keeper struct {
	recs core.Chunks[kept]
	vals core.Chunks[Value]
	text core.TextChunks
}

func newKeeper() keeper {
	return keeper{recs: core.Chunks[kept]{Size: 64}}
}

// unpack turns a kept row back into bindings, for a command that changes
// the record after the sort that kept it.
func (r *record) unpack() {
	if r.row == nil {
		return
	}
	over := make([]binding, len(r.cols))
	for i, n := range r.cols {
		over[i] = binding{name: n, val: r.row[i]}
	}
	r.over, r.row = over, nil
}

// text returns a field as text for search terms. The common case, an
// untouched event, is a single map lookup.
func (r *record) text(slot int, name string) (string, bool) {
	if len(r.over) == 0 && r.cols == nil {
		return r.evLookup(slot, name)
	}
	return r.getSlot(slot, name).Text()
}

func (r *record) get(name string) Value { return r.getSlot(-1, name) }

func (r *record) getSlot(slot int, name string) Value {
	if r.cols != nil && !slices.Contains(r.cols, name) {
		return Value{}
	}
	return r.visible(slot, name)
}

// visible is getSlot for a field known to be visible.
func (r *record) visible(slot int, name string) Value {
	if r.row != nil {
		if i := slices.Index(r.cols, name); i >= 0 {
			return r.row[i]
		}
		return Value{}
	}
	for i := len(r.over) - 1; i >= 0; i-- {
		if r.over[i].is(slot, name) {
			return r.over[i].val
		}
	}
	if s, ok := r.evLookup(slot, name); ok {
		return EventValue(s)
	}
	return Value{}
}

func (r *record) set(name string, v Value) { r.setSlot(-1, name, v) }

// setSlot is set for a field whose slot is known (-1: none).
func (r *record) setSlot(slot int, name string, v Value) {
	r.unpack()
	for i := range r.over {
		if r.over[i].is(slot, name) {
			r.over[i].val = v
			return
		}
	}
	r.over = append(r.over, binding{name: name, val: v, key: slot + 1})
	if r.cols != nil && !v.IsNull() && !slices.Contains(r.cols, name) {
		// eval after table/fields adds a column, as in Splunk.
		r.cols = append(slices.Clip(r.cols), name)
	}
}

// names lists the visible fields in output order.
func (r *record) names() []string {
	if r.cols != nil {
		return r.cols
	}
	var out []string
	for _, k := range fieldNames(r.ev) {
		if !r.get(k).IsNull() {
			out = append(out, k)
		}
	}
	for _, b := range r.over {
		if _, inEv := r.ev.Field(b.name); !inEv && !b.val.IsNull() && !slices.Contains(out, b.name) {
			out = append(out, b.name)
		}
	}
	return out
}

// result fills buf with the record's visible values, in output order, and
// returns the row as a Result that rests on the record and buf.
func (r *record) result(buf []Value) (Result, []Value) {
	names := r.names()
	buf = buf[:0]
	if r.row != nil {
		buf = append(buf, r.row...)
		return Result{Fields: names, Values: buf, Sources: r.src}, buf
	}
	for _, n := range names {
		buf = append(buf, r.visible(-1, n)) // names are the visible fields
	}
	return Result{Fields: names, Values: buf, Sources: r.src}, buf
}
