package core

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// within says whether s's bytes lie inside chunk's.
func within(s, chunk string) bool {
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(chunk)))
	return len(s) > 0 && p >= b && p < b+uintptr(len(chunk))
}

// An aggregation keeps copies of the values it holds on to, not slices of
// the chunk they came in (a reader's or a sort's, shared with many events).
func TestAggKeepsCopies(t *testing.T) {
	chunk := strings.Repeat("abcdefgh", 1024)
	for _, fn := range []string{"values", "list", "min", "max", "first"} {
		var a Agg
		for i := range 4 {
			a.Add(fn, StringValue(chunk[i*3:i*3+5]))
		}
		for k := range a.distinct {
			assert.False(t, within(k, chunk), "%s keeps %q in the chunk", fn, k)
		}
		for _, s := range append(a.list, a.minS, a.maxS, a.first.Str()) {
			assert.False(t, within(s, chunk), "%s keeps %q in the chunk", fn, s)
		}
		assert.NotEmpty(t, a.Result(fn).String())
	}
}
