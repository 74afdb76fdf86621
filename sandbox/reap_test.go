package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tagged lists the live processes whose environment holds tag.
func tagged(tag string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(env), tag) {
			cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			found = append(found, filepath.Dir(p)+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return found
}

// TestReapedEndsEveryDescendant: what a command run without the sandbox
// leaves, children that left its process group and session included,
// ends with it, whether it exits, is cancelled, or its shell is gone
// long before.
func TestReapedEndsEveryDescendant(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	leave := `sleep 300 & setsid sleep 301 & (setsid sh -c 'sleep 302 & sleep 303' &) ; `
	for _, tc := range []struct {
		name, script string
		timeout      time.Duration
		code         int
	}{
		{"exits", leave + "exit 3", 0, 3},
		{"cancelled", leave + "sleep 304", 300 * time.Millisecond, 128 + 9},
		{"shell execs away", leave + "exec setsid sleep 305", 300 * time.Millisecond, 128 + 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "T1567_REAP_TEST=" + t.Name()
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			var out bytes.Buffer
			code, err := Reaped(ctx, exe, []string{"sh", "-c", tc.script}, t.TempDir(), append(os.Environ(), tag), &out, &out)
			require.NoError(t, err, out.String())
			assert.Equal(t, tc.code, code, out.String())
			assert.Empty(t, tagged(tag))
		})
	}
}

// TestReapRefusesNoCommand: the reaper wants "--" and a command.
func TestReapRefusesNoCommand(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, exitUsage, Reap(nil, &stderr))
	assert.Equal(t, exitUsage, Reap([]string{"sh"}, &stderr))
	assert.Contains(t, stderr.String(), "want -- and a command")
}
