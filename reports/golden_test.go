package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./reports -update to create it")
	assert.Equal(t, string(want), string(got))
}

// TestTextGolden pins the whole terminal report of a long run: layout,
// wrapping and eliding at 100 columns, verdicts per atomic, gaps per rule.
func TestTextGolden(t *testing.T) {
	var buf bytes.Buffer
	o := TextOptions{OutDir: "out"}
	r := longRun()
	require.NoError(t, WriteText(&buf, r, o))
	require.NoError(t, WriteVerdicts(&buf, r, o))
	require.NoError(t, WriteFiles(&buf, o))
	golden(t, "text.golden", buf.Bytes())
}
