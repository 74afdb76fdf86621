package replay

import "github.com/t1567001/harness/event"

// A slab hands out the flat lines' value strings and Data slices carved
// from small shared chunks, so that a record costs a heap allocation per
// few dozen records instead of two. The price is retention: an event kept
// after its neighbours are dropped (a sequence's partial match, a report's
// sample) keeps its chunks alive: its text chunk (slabBytes), its fields
// chunk (slabFields fields) and the text its neighbours' fields in that
// chunk point to, which a fields chunk bounds (slabBytes, give or take a
// record; text chunks are then held whole): some 40 KiB at most, whatever
// the records' sizes (a value repeated from an earlier record is a string
// of its own, not chunk text: jsonflat.go). What a chunk has handed out
// is never written again: a string is immutable, and a Data slice's
// capacity ends at its length, so an append to it moves it, never into
// the next event's fields.
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

// room returns an empty slice with room for n bytes, the free part of
// the current chunk (a slice of its own when n is large), to append a
// record's text to without outgrowing it; commit hands it out.
func (s *slab) room(n int) []byte {
	if n > slabBytes/4 {
		return make([]byte, 0, n)
	}
	if cap(s.text)-len(s.text) < n {
		s.text = make([]byte, 0, slabBytes)
	}
	return s.text[len(s.text):len(s.text):cap(s.text)]
}

// commit hands out the text appended to a slice from room: its bytes are
// never written again, as s.text only grows.
func (s *slab) commit(b []byte) {
	if len(b) > 0 && len(s.text) < cap(s.text) && &b[0] == &s.text[:len(s.text)+1][len(s.text)] {
		s.text = s.text[:len(s.text)+len(b)]
	}
}

// fields returns an empty slice with room for n fields whose values lie
// in at most text bytes of text: the free part of the current chunk, whose
// use keep settles. A chunk whose fields could point to more than
// slabBytes of text takes no more, so that a kept event does not hold many
// others' text.
func (s *slab) fields(n, text int) []event.Field {
	if n > slabFields/4 {
		return make([]event.Field, 0, n)
	}
	if cap(s.data)-len(s.data) < n || len(s.data) > 0 && s.dataText+text > slabBytes {
		s.data = make([]event.Field, 0, slabFields)
		s.dataText = 0
	}
	return s.data[len(s.data):len(s.data):cap(s.data)]
}

// keep settles a slice from fields once filled, its values in text bytes
// of text: the fields it holds in the chunk are handed out, with its
// capacity ending at its length.
func (s *slab) keep(data []event.Field, text int) []event.Field {
	n := len(data)
	if n == 0 {
		return data
	}
	free := s.data[len(s.data):cap(s.data)]
	if len(free) > 0 && &data[0] == &free[0] {
		s.data = s.data[:len(s.data)+n]
		s.dataText += text
	}
	return data[:n:n]
}
