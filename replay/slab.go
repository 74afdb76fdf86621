package replay

import (
	"unsafe"

	"github.com/t1567001/harness/event"
)

// A slab hands out the flat lines' value strings and Data slices carved
// from small shared chunks, so that a record costs a heap allocation per
// few dozen records instead of two. The price is retention: an event kept
// after its neighbours are dropped (a sequence's partial match, a report's
// sample) keeps its chunks alive: its text chunk (slabBytes), its fields
// chunk (slabFields fields) and the text its neighbours' fields in that
// chunk point to, which a fields chunk bounds (slabBytes, give or take a
// record; text chunks are then held whole): some 40 KiB at most, whatever
// the records' sizes. What a chunk has handed out is never written again:
// a string is immutable, and a Data slice's capacity ends at its length,
// so an append to it moves it, never into the next event's fields.
type slab struct {
	text []byte
	data []event.Field
	// dataText is how many bytes of text the fields of the current
	// fields chunk point to.
	dataText int
}

// The chunk sizes: a few records each (a Sysmon line's values are about
// 400 bytes, its fields about a dozen).
const (
	slabBytes  = 8 << 10
	slabFields = 256
)

// str returns b's bytes as a string carved from the current chunk (its
// own allocation when b is large).
func (s *slab) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > slabBytes/4 {
		return string(b)
	}
	if cap(s.text)-len(s.text) < len(b) {
		s.text = make([]byte, 0, slabBytes)
	}
	off := len(s.text)
	s.text = append(s.text, b...)
	// The bytes from off on are never written again: s.text only grows.
	return unsafe.String(&s.text[off], len(b))
}

// fields returns an empty slice with room for n fields whose values lie
// in text bytes of text: the free part of the current chunk, whose use
// keep settles. A chunk whose fields already point to slabBytes of text
// takes no more, so that a kept event does not hold many others' text.
func (s *slab) fields(n, text int) []event.Field {
	if n > slabFields/4 {
		return make([]event.Field, 0, n)
	}
	if cap(s.data)-len(s.data) < n || len(s.data) > 0 && s.dataText+text > slabBytes {
		s.data = make([]event.Field, 0, slabFields)
		s.dataText = 0
	}
	s.dataText += text
	return s.data[len(s.data):len(s.data):cap(s.data)]
}

// keep settles a slice from fields once filled: the fields it holds in
// the chunk are handed out, with its capacity ending at its length.
func (s *slab) keep(data []event.Field) []event.Field {
	n := len(data)
	if n == 0 {
		return data
	}
	free := s.data[len(s.data):cap(s.data)]
	if len(free) > 0 && &data[0] == &free[0] {
		s.data = s.data[:len(s.data)+n]
	}
	return data[:n:n]
}
