package executor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ART's rclone.conf for its Mega test holds the password obscured; rclone
// reveals it (`rclone reveal` prints the same).
func TestRcloneReveal(t *testing.T) {
	got, err := rcloneReveal("vmcjt1A_LEMKEXXy0CKFoiFCEztpFLcZVNinHA")
	require.NoError(t, err)
	assert.Equal(t, "Testingart1!", got)
	_, err = rcloneReveal("short")
	assert.Error(t, err)
}

func TestParseRcloneSize(t *testing.T) {
	for in, want := range map[string]int64{"1700k": 1700 << 10, "1700": 1700 << 10, "2M": 2 << 20, "10b": 10, "1.5G": 3 << 29} {
		got, err := parseRcloneSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parseRcloneSize("lots")
	assert.Error(t, err)
}

func TestReplayMegaArguments(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[s3]\ntype = s3\n"), 0o600))
	for _, args := range [][]string{
		{},
		{"copy", "data/", "T1567002:test"}, // no --config
		{"sync", "data/", "T1567002:test", "--config", conf},                // not copy
		{"copy", "data/", "T1567002", "--config", conf},                     // no REMOTE:PATH
		{"copy", "--bwlimit", "1M", "data/", "T1567002:test"},               // a flag it does not replay
		{"copy", "data/", "s3:bucket", "--config", conf},                    // not a mega remote
		{"copy", "--max-size", "lots", "data/", "T:test", "--config", conf}, // bad size
	} {
		var stderr bytes.Buffer
		assert.Equal(t, 2, ReplayMega(context.Background(), args, &stderr), "%q", args)
		assert.Contains(t, stderr.String(), "replay-mega:")
	}
}
