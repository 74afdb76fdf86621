// Package setup tests the contract of the two commands a fresh machine
// runs (Makefile) and of CI's entry point (.ci/run): set-up without side
// effects, and exactly `make test` in CI.
package setup

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/reftest"
)

func makeCmd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not installed")
	}
	cmd := exec.Command(mk, append([]string{"-s", "-C", reftest.ModuleRoot(t)}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runsAptGet matches a shell line that runs apt-get (not one that only
// names it in a message).
var runsAptGet = regexp.MustCompile(`(^|[;&|]|then)\s*(sudo\s+|\$s\s+)?apt-get\s`)

func TestMakeRunInstallsNothing(t *testing.T) {
	for _, target := range []string{"run", "test"} {
		out, err := makeCmd(t, os.Environ(), "-n", target)
		require.NoError(t, err, out)
		assert.NotRegexp(t, runsAptGet, out, "make %s must not install packages", target)
	}
	// The pattern finds the install where there is one: in make deps, with
	// a tool missing.
	bin := t.TempDir()
	for _, tool := range []string{"sh", "make"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not installed", tool)
		}
		require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
	}
	out, err := makeCmd(t, []string{"PATH=" + bin}, "-n", "deps")
	require.NoError(t, err, out)
	assert.Regexp(t, runsAptGet, out)
}

// TestMakeRunSaysWhatIsMissingInOneLine runs `make check` (what `make run`
// checks first) with a PATH holding only what make itself needs.
func TestMakeRunSaysWhatIsMissingInOneLine(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"sh", "make"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not installed", tool)
		}
		require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
	}
	env := []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	out, err := makeCmd(t, env, "check")
	require.Error(t, err, "a missing tool stops make run: %s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.NotEmpty(t, lines)
	assert.Equal(t, "missing Debian packages: git curl python3 wget openssl rclone ruby (install: sudo apt-get install git curl python3 wget openssl rclone ruby, or make deps)", lines[0])
	for _, l := range lines[1:] {
		assert.True(t, strings.HasPrefix(l, "make"), "only make's own status follows: %q", l)
	}

	// With the tools there, it says nothing.
	for _, tool := range []string{"git", "curl", "python3", "wget", "openssl", "rclone", "ruby"} {
		if p, err := exec.LookPath(tool); err == nil {
			require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
		} else {
			t.Skipf("%s not installed", tool)
		}
	}
	out, err = makeCmd(t, env, "check")
	require.NoError(t, err, out)
	assert.Empty(t, out)
}

func TestCIRunsExactlyMakeTest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(reftest.ModuleRoot(t), ".ci", "run"))
	require.NoError(t, err)
	script := strings.TrimSpace(string(data))
	lines := strings.Split(script, "\n")
	assert.Equal(t, "make test", lines[len(lines)-1], "CI ends in exactly the README's test command")
	for _, pkg := range []string{"git", "curl", "wget", "openssl", "python3", "rclone", "ruby", "libio-socket-ssl-perl", "nodejs", "chromium", "debootstrap", "iproute2", "ca-certificates", "libxml2-utils", "python3-evtx", "libevtx-utils"} {
		assert.Regexp(t, `pkgs=\([^)]*\b`+pkg+`\b`, script, "CI installs %s", pkg)
	}
	assert.Contains(t, script, "dpkg-query", "only what is missing")
}
