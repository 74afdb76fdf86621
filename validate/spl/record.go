package spl

import (
	"slices"
	"strings"
)

// binding is a field set or removed (a null val) by the pipeline,
// shadowing the event.
type binding struct {
	name string
	val  Value
}

// record is an event in flight. The event map is never modified: the
// pipeline's changes live in over, so a record can be reused for the next
// event without clearing a map, and cols (set by table or fields) limits and
// orders the visible fields.
type record struct {
	ev   Fields
	over []binding
	cols []string // nil: every field is visible
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
// command that holds it past the event (sort). After table or fields, the
// copy is its visible values, in column order, as bindings over no event
// (a null one for a column the record lacks), their text copied into one
// string, so that the rest of the event can be freed and result reads
// them in order; otherwise the whole event, as a map, so that a view over
// the caller's event is not held.
func (r *record) keep(src int) *record {
	k := &kept{src: [1]int{src}}
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
	c.over = make([]binding, len(r.cols))
	size := 0
	for i, n := range r.cols {
		v := r.visible(-1, n)
		if v.Kind() == KindMulti {
			v = v.Detach() // rare: copied on its own
		} else {
			size += len(v.Str())
		}
		c.over[i] = binding{name: n, val: v}
	}
	var b strings.Builder
	b.Grow(size)
	for _, o := range c.over {
		if o.val.Kind() != KindMulti {
			b.WriteString(o.val.Str())
		}
	}
	all, at := b.String(), 0
	for i := range c.over {
		if v := &c.over[i].val; v.Kind() != KindMulti {
			n := len(v.Str())
			*v = v.WithStr(all[at : at+n])
			at += n
		}
	}
	return c
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
	for i := len(r.over) - 1; i >= 0; i-- {
		if r.over[i].name == name {
			return r.over[i].val
		}
	}
	if s, ok := r.evLookup(slot, name); ok {
		return EventValue(s)
	}
	return Value{}
}

func (r *record) set(name string, v Value) {
	for i := range r.over {
		if r.over[i].name == name {
			r.over[i].val = v
			return
		}
	}
	r.over = append(r.over, binding{name: name, val: v})
	if r.cols != nil && !v.IsNull() && !slices.Contains(r.cols, name) {
		// eval after table/fields adds a column, as in Splunk.
		r.cols = append(slices.Clip(r.cols), name)
	}
}

// inColumns reports whether the record's bindings are its columns, in
// order, as keep leaves them until a later command changes the record.
func (r *record) inColumns() bool {
	if r.cols == nil || len(r.over) != len(r.cols) {
		return false
	}
	for i, b := range r.over {
		if b.name != r.cols[i] {
			return false
		}
	}
	return true
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
	if r.inColumns() {
		for _, b := range r.over {
			buf = append(buf, b.val)
		}
		return Result{Fields: names, Values: buf, Sources: r.src}, buf
	}
	for _, n := range names {
		buf = append(buf, r.visible(-1, n)) // names are the visible fields
	}
	return Result{Fields: names, Values: buf, Sources: r.src}, buf
}
