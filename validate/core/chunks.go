package core

import "strings"

// Chunks hands out small slices carved from larger allocations, for a
// caller that makes many small slices of one type living about as long as
// each other (the rows a query keeps or returns): one allocation, written
// in order, for many slices, which costs the allocator and the collector
// far less than one each. A slice handed out ends its capacity at its
// length, so an append to it moves it and never writes into a neighbour.
type Chunks[T any] struct {
	buf []T
	// Size is the number of elements per chunk (0: 1024); a larger
	// request gets a chunk of its own size.
	Size int
}

// Take returns a zeroed slice of n elements.
func (c *Chunks[T]) Take(n int) []T {
	if cap(c.buf)-len(c.buf) < n {
		size := c.Size
		if size == 0 {
			size = 1024
		}
		c.buf = make([]T, 0, max(n, size))
	}
	at := len(c.buf)
	c.buf = c.buf[:at+n]
	return c.buf[at : at+n : at+n]
}

// TextChunks copies strings into larger shared allocations, as Chunks does
// slices.
type TextChunks struct {
	b strings.Builder
	// Size is the number of bytes per chunk (0: 8 KiB).
	Size int
}

// Copy returns a copy of s that shares no memory with it.
func (c *TextChunks) Copy(s string) string {
	if s == "" {
		return ""
	}
	if c.b.Cap()-c.b.Len() < len(s) {
		size := c.Size
		if size == 0 {
			size = 8 << 10
		}
		c.b = strings.Builder{}
		c.b.Grow(max(len(s), size))
	}
	at := c.b.Len()
	c.b.WriteString(s)
	// A Builder never moves bytes it has written while it grows within
	// its capacity, so the strings taken from it before stay valid.
	return c.b.String()[at:]
}
