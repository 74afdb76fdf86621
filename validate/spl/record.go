package spl

import "slices"

// binding is a field set or removed by the pipeline, shadowing the event.
type binding struct {
	name string
	val  Value
	del  bool
}

// record is an event in flight. The event map is never modified: the
// pipeline's changes live in over, so a record can be reused for the next
// event without clearing a map, and cols (set by table or fields) limits and
// orders the visible fields.
type record struct {
	ev   Event
	over []binding
	cols []string // nil: every field is visible
}

func (r *record) reset(ev Event) {
	r.ev = ev
	r.over = r.over[:0]
	r.cols = nil
}

func (r *record) clone() *record {
	c := &record{ev: r.ev, cols: r.cols}
	if len(r.over) > 0 {
		c.over = slices.Clone(r.over)
	}
	return c
}

// text returns a field as text for search terms. The common case, an
// untouched event, is a single map lookup.
func (r *record) text(name string) (string, bool) {
	if len(r.over) == 0 && r.cols == nil {
		s, ok := r.ev[name]
		return s, ok
	}
	return r.get(name).Text()
}

func (r *record) get(name string) Value {
	if r.cols != nil && !slices.Contains(r.cols, name) {
		return Value{}
	}
	for i := len(r.over) - 1; i >= 0; i-- {
		if r.over[i].name == name {
			if r.over[i].del {
				return Value{}
			}
			return r.over[i].val
		}
	}
	if s, ok := r.ev[name]; ok {
		return Value{kind: KindString, str: s, field: true}
	}
	return Value{}
}

func (r *record) set(name string, v Value) {
	del := v.kind == KindNull
	for i := range r.over {
		if r.over[i].name == name {
			r.over[i] = binding{name: name, val: v, del: del}
			return
		}
	}
	r.over = append(r.over, binding{name: name, val: v, del: del})
	if r.cols != nil && !del && !slices.Contains(r.cols, name) {
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
	for _, k := range sortedKeys(r.ev) {
		if !r.get(k).IsNull() {
			out = append(out, k)
		}
	}
	for _, b := range r.over {
		if _, inEv := r.ev[b.name]; !inEv && !b.del && !slices.Contains(out, b.name) {
			out = append(out, b.name)
		}
	}
	return out
}

func (r *record) row() Row {
	names := r.names()
	row := Row{Fields: slices.Clone(names), Values: make(map[string]Value, len(names))}
	for _, n := range names {
		if v := r.get(n); !v.IsNull() {
			row.Values[n] = v
		}
	}
	return row
}
