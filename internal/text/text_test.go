package text

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClip(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"a  b\n\tc", 0, "a b c"},
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"one two three", 8, "one two…"},
		{"C:\\Users\\Jörg\\ä", 9, "C:\\Users…"},
		{"Jörgäöü", 4, "Jör…"},
		{"", 3, ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Clip(tc.in, tc.n), "%q", tc.in)
	}
}
