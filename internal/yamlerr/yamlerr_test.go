package yamlerr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"control character", "a: 1\nb: 2\nc: \x01x\n", 3, "control characters are not allowed"},
		{"invalid UTF-8", "a: 1\nb: \xff\n", 2, "invalid leading UTF-8 octet"},
		{"nesting too deep, flow", "a: 1\nb: 2\nc: " + strings.Repeat("[", 10001) + "\n", 3, "exceeded max depth of 10000"},
		{"unknown anchor", "a: 1\nb: *nope\n", 2, "unknown anchor 'nope' referenced"},
		{"mapping values", "a: 1\nb: c: d\n", 2, "mapping values are not allowed in this context"},
		{"key out of its block (yaml says one line early)", "a:\n  b: 1\n c: 2\n", 3, "did not find expected key"},
		{"list item missing its dash (yaml says the block's first line)", "a:\n  - x\n  y: 2\n", 3, "did not find expected '-' indicator"},
		{"tab", "a:\n\tb: 1\n", 2, "found character that cannot start any token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tc.yaml), &n)
			require.Error(t, err)
			line, msg := Locate([]byte(tc.yaml), err)
			assert.Equal(t, tc.line, line)
			assert.Equal(t, tc.msg, msg)
		})
	}
}
