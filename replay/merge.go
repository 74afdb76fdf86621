package replay

import (
	"errors"
	"io"

	"github.com/t1567001/harness/event"
)

// Merge reads several Readers as one stream in time order (TimeCreated):
// a k-way merge of streams that are each in time order, as recordings
// are, so rules that depend on order (sequences, correlations,
// new_terms) see events of several files as they happened. It holds one
// event per Reader, and reads a Reader only when its last event has been
// taken. Equal times keep the order of the Readers, and each Reader's own.
// The Readers stay the caller's to close.
type Merge struct {
	readers []*Reader
	// next holds each reader's pending event; heap orders the readers
	// that have one by (its time, reader), swapping indexes, not events.
	next []event.Event
	heap []int
	// refill are the readers to read from before the next event is
	// chosen: every one at first, then the one that gave the last.
	refill []int
	err    error
}

// NewMerge merges readers; the index Next returns is a reader's place here.
func NewMerge(readers ...*Reader) *Merge {
	m := &Merge{readers: readers, next: make([]event.Event, len(readers)), heap: make([]int, 0, len(readers)), refill: make([]int, len(readers))}
	for i := range readers {
		m.refill[i] = i
	}
	return m
}

// Next returns the earliest event not yet returned and the index of the
// reader it came from, or io.EOF once every reader is done. An error of
// one reader (a record in strict mode, the context) ends the merge.
func (m *Merge) Next() (event.Event, int, error) {
	if m.err != nil {
		return event.Event{}, -1, m.err
	}
	for _, i := range m.refill {
		ev, err := m.readers[i].Next()
		if errors.Is(err, io.EOF) {
			continue
		}
		if err != nil {
			m.err = err
			return event.Event{}, -1, err
		}
		m.next[i] = ev
		m.push(i)
	}
	m.refill = m.refill[:0]
	if len(m.heap) == 0 {
		m.err = io.EOF
		return event.Event{}, -1, io.EOF
	}
	src := m.pop()
	ev := m.next[src]
	m.next[src] = event.Event{} // drop the event's references
	m.refill = append(m.refill, src)
	return ev, src, nil
}

// before orders readers a and b by their pending events' times, then by
// their places.
func (m *Merge) before(a, b int) bool {
	if c := m.next[a].TimeCreated.Compare(m.next[b].TimeCreated); c != 0 {
		return c < 0
	}
	return a < b
}

// push and pop keep heap a binary min-heap by before.
func (m *Merge) push(src int) {
	h := append(m.heap, src)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !m.before(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	m.heap = h
}

func (m *Merge) pop() int {
	h := m.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, least := 2*i+1, 2*i+2, i
		if l < len(h) && m.before(h[l], h[least]) {
			least = l
		}
		if r < len(h) && m.before(h[r], h[least]) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	m.heap = h
	return top
}
