package sandbox

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
	// A cancelled test is cancelled once its tree is running: the script
	// says so through a FIFO, so a slow start (a loaded machine, a race
	// build) cannot turn the case into a cancel before the reaper is up.
	for _, tc := range []struct {
		name, script string
		cancel       bool
		code         int
	}{
		{"exits", leave + "exit 3", false, 3},
		{"cancelled", leave + "echo > ready; sleep 304", true, 128 + 9},
		{"shell execs away", leave + "echo > ready; exec setsid sleep 305", true, 128 + 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "T1567_REAP_TEST=" + t.Name()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				ready := filepath.Join(dir, "ready")
				require.NoError(t, syscall.Mkfifo(ready, 0o600))
				// Should the script never write, this unblocks the reader.
				defer func() {
					if f, err := os.OpenFile(ready, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						_ = f.Close()
					}
				}()
				go func() {
					defer cancel()
					f, err := os.Open(ready) // blocks until the script writes
					if err == nil {
						_, _ = io.Copy(io.Discard, f)
						_ = f.Close()
					}
				}()
			}
			var out bytes.Buffer
			code, err := Reaped(ctx, exe, []string{"sh", "-c", tc.script}, dir, append(os.Environ(), tag), &out, &out)
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
