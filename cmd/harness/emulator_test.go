package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestInflightFileChangesOnlyWhenBusyDoes: the in-flight count reaches the
// file on the changes from and to zero, not on every request.
func TestInflightFileChangesOnlyWhenBusyDoes(t *testing.T) {
	var written []int64
	f := whenBusyChanges(func(n int64) { written = append(written, n) })
	for _, n := range []int64{1, 2, 3, 2, 3, 2, 1, 0, 1, 2, 1, 0} {
		f(n)
	}
	assert.Equal(t, []int64{1, 0, 1, 0}, written)
}
