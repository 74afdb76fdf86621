package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/realrclone"
	"github.com/t1567001/harness/internal/reftest"
)

// megaNotes are the notes of the mock's MEGA requests in run's ledger.
func megaNotes(run *Run) string {
	var b strings.Builder
	for _, e := range run.Ledger {
		if e.IsRequest() && strings.HasSuffix(e.Host, "mega.co.nz") {
			b.WriteString(e.Note + "\n")
		}
	}
	return b.String()
}

// TestMegaAtomicRunsTheRealRclone: the Linux form of ART's Mega test runs
// the real rclone, v1.60.1 with its mega backend (built once per machine,
// see realrclone), first on PATH, in the sandbox: the mock decrypts every
// staged file from what rclone put (its sha256 is the fixture's), ART's
// purge ends promptly, and nothing leaves the machine. Not parallel: PATH
// is the process's, restored before the parallel tests go on.
func TestMegaAtomicRunsTheRealRclone(t *testing.T) {
	requireSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log strings.Builder
	rclone, err := realrclone.Build(ctx, &log)
	if errors.Is(err, realrclone.ErrUnavailable) {
		t.Skipf("rclone with its mega backend is not installed and cannot be built here (Debian's rclone has none), the reason this real run cannot happen: %v; TestSeedAtomicsEndToEnd runs the atomic simulated", err)
	}
	// The sources are here: a build that fails is the recipe's failure.
	require.NoError(t, err, log.String())
	if log.Len() > 0 {
		t.Log(log.String())
	}
	t.Setenv("PATH", filepath.Dir(rclone)+string(filepath.ListSeparator)+os.Getenv("PATH"))
	require.NoError(t, exec.Command("rclone", "help", "backend", "mega").Run(), "the built rclone is first on PATH")
	opts := options(t)
	opts.Tests = []string{megaGUID}
	run, err := RunLocal(ctx, opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, 1)
	a := run.Results.Atomics[0]
	assert.Equal(t, "executed", a.Execution)
	assert.Equal(t, 0, a.ExitCode, a.Stderr)
	assert.True(t, a.Intact)
	require.Len(t, a.Staged, 2)
	for _, s := range a.Staged {
		assert.Equal(t, fixtureSHA(t, s.Name), s.SHA256)
		assert.True(t, s.Arrived, s.Name)
	}
	notes := megaNotes(run)
	assert.Equal(t, 2, strings.Count(notes, "chunk MACs and meta-MAC check out"), notes)
	assert.Contains(t, notes, "m: test moved to Rubbish Bin/test", "ART's cleanup purged the folder")
	assert.Less(t, a.Ended.Sub(a.Started), 30*time.Second, "rclone, copy and purge, does not hang on the event poll")
	assert.GreaterOrEqual(t, assertNothingLeftTheMachine(t, run), 2)
}

// TestMegaAtomicWrongPassword: with another password in ART's rclone.conf,
// the mock refuses the login as MEGA does (-9), nothing is stored, and the
// ledger says why. It runs rclone, or the simulation where rclone has no
// mega backend.
func TestMegaAtomicWrongPassword(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(reftest.ModuleRoot(t), "atomics", "T1567.002.yaml"))
	require.NoError(t, err)
	const art = "default: vmcjt1A_LEMKEXXy0CKFoiFCEztpFLcZVNinHA"
	require.Equal(t, 1, strings.Count(string(data), art))
	// `rclone obscure not-the-password`
	wrong := strings.Replace(string(data), art, "default: ISyhoMjOnt7Rq50K_7V2oQUt0i1oT73QM4--h9nE7Rs", 1)
	path := filepath.Join(t.TempDir(), "T1567.002.yaml")
	require.NoError(t, os.WriteFile(path, []byte(wrong), 0o600))
	opts := options(t)
	opts.Atomics, opts.Tests = path, []string{megaGUID}
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	a := run.Results.Atomics[0]
	assert.NotEqual(t, 0, a.ExitCode)
	assert.False(t, a.Intact)
	assert.Contains(t, a.Stderr, "couldn't login")
	assert.Contains(t, megaNotes(run), "us atomictesting@outlook.com: login refused, wrong e-mail or password: ENOENT (-9)")
	for _, e := range run.Ledger {
		assert.Empty(t, e.Files)
	}
}
