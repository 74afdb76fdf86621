package harness

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/validate"
)

// TestAnalyticsSilentOnLargeClone runs the benign counter-case, a git
// clone of a 3 MB repository, for real under the sensor, and checks the
// byte-ratio analytics (D3FEND, DET0318 AN0897) stay silent on its Zeek and
// proxy logs (the archive-then-upload atomic makes them fire), as do
// AN0895 and AN0896, while Analytic 1's host list fires.
func TestAnalyticsSilentOnLargeClone(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	opts := options(t)
	opts.Atomics = filepath.Join("testdata", "benign_clone.yaml")
	opts.NoSandbox = true // the set-up push goes through the proxy, before any test
	run, err := Execute(context.Background(), opts, func(ctx context.Context, runID, dir string, _ int) (Backend, error) {
		b, err := newLocal(ctx, runID, dir, opts.Harness, opts.NoSandbox)
		if err != nil {
			return nil, err
		}
		pushLargeRepository(t, b.Executor().ProxyURL, b.Executor().CAFile)
		return b, nil
	})
	require.NoError(t, err)
	require.Len(t, run.Tests, 1)
	require.Equal(t, 0, run.Results.Atomics[0].ExitCode, run.Results.Atomics[0].Stderr)

	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rulesFS(), validate.Options{})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	require.Len(t, run.Results.Verdicts, 7)
	for _, v := range run.Results.Verdicts {
		assert.True(t, v.Pass, "%s: %s", v.Rule, v.Explanation)
	}

	var down, up int64
	for _, e := range run.Tests[0].Ledger {
		if e.Kind == "tls" {
			up, down = up+e.RequestBytes, down+e.ResponseBytes
		}
	}
	t.Logf("clone on the wire: %d bytes up, %d down", up, down)
	assert.Greater(t, down, 10*up, "the clone is download-heavy on the wire")
}

// pushLargeRepository puts a repository of incompressible files on the
// mock, before any test runs.
func pushLargeRepository(t *testing.T, proxyURL, caFile string) {
	t.Helper()
	dir := t.TempDir()
	for i := range 3 {
		data := make([]byte, 1<<20)
		_, err := rand.Read(data)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "blob"+string(rune('a'+i))+".bin"), data, 0o600))
	}
	env := append(os.Environ(), "HTTPS_PROXY="+proxyURL, "https_proxy="+proxyURL, "GIT_SSL_CAINFO="+caFile,
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "GIT_TERMINAL_PROMPT=0")
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."},
		{"-c", "user.name=octo", "-c", "user.email=octo@example.invalid", "commit", "-q", "-m", "assets"},
		{"-c", "http.postBuffer=104857600", "push", "-q", "https://x-access-token:ghp_FAKE@github.com/octo-org/big-repo.git", "HEAD:refs/heads/main"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
}
