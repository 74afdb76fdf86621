package core

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChunksHandOutSeparateSlices(t *testing.T) {
	c := Chunks[int]{Size: 8}
	a, b := c.Take(3), c.Take(3)
	require.Len(t, a, 3)
	assert.Equal(t, 3, cap(a), "capacity ends at the length")
	a = append(a, 99) // moves a, leaves b alone
	b[0] = 7
	assert.Equal(t, []int{0, 0, 0, 99}, a)
	assert.Equal(t, []int{7, 0, 0}, b)
	big := c.Take(20) // larger than a chunk: its own
	assert.Len(t, big, 20)
	next := c.Take(2)
	assert.Equal(t, []int{0, 0}, next, "zeroed")
}

func TestTextChunksCopiesStayIntact(t *testing.T) {
	c := TextChunks{Size: 16}
	var want, got []string
	for i := range 50 {
		s := strings.Repeat(string(rune('a'+i%26)), i%7+1)
		want = append(want, s)
		got = append(got, c.Copy(s))
	}
	assert.Equal(t, want, got, "strings copied earlier are untouched by later copies")
	assert.Empty(t, c.Copy(""))
	long := strings.Repeat("x", 100)
	assert.Equal(t, long, c.Copy(long))
}
