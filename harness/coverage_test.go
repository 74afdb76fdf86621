package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
)

// expectedCoverage is the committed expected matrix: the baseline `make
// run` checks coverage against (harness run --baseline).
// Regenerate with: go test ./harness -run TestCoverageMatrix -update
func expectedCoverage(t *testing.T) string {
	return filepath.Join(reftest.ModuleRoot(t), "coverage-baseline.json")
}

// observed lists the cases a baseline holds cells for, in order.
func observed(b validate.Baseline) []string {
	var out []string
	for _, c := range b.Cells {
		if !slices.Contains(out, c.GUID) {
			out = append(out, c.GUID)
		}
	}
	return out
}

// TestCoverageMatrix runs every embedded variant and benign look-alike under
// the sensor, renders each under every context, and checks the matrix
// against the committed one: every cell of a case observed both here and
// there, and the rates when the same cases were observed.
func TestCoverageMatrix(t *testing.T) {
	t.Parallel()
	all, err := LoadAtomics("", nil)
	require.NoError(t, err)
	opts := options(t)
	for _, s := range all {
		if s.Test.Role != "" {
			opts.Tests = append(opts.Tests, s.Test.GUID)
		}
	}
	require.NotEmpty(t, opts.Tests)
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	profiles, err := Contexts(nil)
	require.NoError(t, err)
	// Every rule harness run loads, Elastic ones included.
	ecs, err := ECSConverter(nil)
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{ECS: ecs})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	cov := run.Results.Coverage
	require.NotNil(t, cov)
	require.Len(t, cov.Cases, len(opts.Tests), "every variant and benign case is in the matrix")
	assert.True(t, run.Results.AllIntact(), "variants are judged in the matrix, not by AllIntact")

	got := cov.Baseline()
	for _, c := range cov.Cases {
		if !c.Observed {
			assert.True(t, c.Simulated || strings.HasPrefix(c.Status, "not run: missing prerequisite"), "%s: %s", c.Atomic, c.Status)
		}
		for _, cell := range c.Cells {
			if c.Observed && cell.Fires != (c.Role == atomics.Variant) {
				assert.NotEmpty(t, cell.Why, "%s / %s / %s: a shortfall carries the rule's explanation", c.Atomic, cell.Context, cell.Rule)
			}
		}
	}
	path := expectedCoverage(t)
	if *update {
		data, err := got.Encode()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o644))
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	want, err := validate.ParseBaseline(path, data)
	require.NoError(t, err)

	type key struct{ guid, context, rule string }
	wantCells := map[key]bool{}
	for _, c := range want.Cells {
		wantCells[key{c.GUID, c.Context, c.Rule}] = c.Fires
	}
	compared := 0
	for _, c := range got.Cells {
		if w, ok := wantCells[key{c.GUID, c.Context, c.Rule}]; ok {
			compared++
			assert.Equal(t, w, c.Fires, "%s / %s / %s", c.Atomic, c.Context, c.Rule)
		}
	}
	assert.NotZero(t, compared)
	if slices.Equal(observed(got), observed(want)) {
		assert.Equal(t, want.Rates, got.Rates)
	} else {
		t.Logf("rates not compared: this machine observed %v, the expected matrix %v (a tool is installed or missing); the cells of the cases observed in both are", observed(got), observed(want))
	}
	assert.Empty(t, cov.Compare(want), "no regression against the expected matrix")
}

// TestBaselineRegressionNamesTheVariant edits the seed rule to miss wget
// and checks that the comparison with a baseline made with the real rule
// names the wget variant.
func TestBaselineRegressionNamesTheVariant(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Tests = []string{"wget --method=PUT to the Contents API"}
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	base := run.Results.Coverage.Baseline()
	require.Empty(t, run.Results.Coverage.Compare(base))

	spl, err := rules.FS.ReadFile("seed_t1567_001_code_repo_exfil.spl")
	require.NoError(t, err)
	edited := strings.ReplaceAll(string(spl), ` OR Image="*\\wget.exe"`, "")
	require.NotEqual(t, string(spl), edited)
	rule, err := validate.NewSPLRule("seed_t1567_001_code_repo_exfil", edited, validate.Options{})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", []validate.Rule{rule})
	require.NoError(t, err)
	regs := run.Results.Coverage.Compare(base)
	// The other rules, not run this time, are listed too; the seed rule's
	// regression names the variant.
	i := slices.IndexFunc(regs, func(r validate.Regression) bool { return r.Rule == "seed_t1567_001_code_repo_exfil" })
	require.GreaterOrEqual(t, i, 0, "%+v", regs)
	assert.Equal(t, []string{"wget --method=PUT to the Contents API"}, regs[i].Cases)
	assert.Less(t, regs[i].Now, regs[i].Was)
}

// TestReferenceExfilAtomicsLoadUnmodified loads the public T1567.002, .003
// and .004 atomics as published and says which tests need PowerShell.
func TestReferenceExfilAtomicsLoadUnmodified(t *testing.T) {
	t.Parallel()
	dir := reftest.Dir(t, "atomics")
	needPwsh := map[string]int{}
	for _, id := range []string{"T1567.002", "T1567.003", "T1567.004"} {
		sel, err := LoadAtomics(filepath.Join(dir, id+".yaml"), nil)
		require.NoError(t, err, id)
		require.NotEmpty(t, sel, id)
		for _, s := range sel {
			if strings.EqualFold(s.Test.Executor.Name, "powershell") {
				needPwsh[id]++
				t.Logf("%s %q needs PowerShell", id, s.Test.Name)
			}
		}
	}
	assert.Equal(t, map[string]int{"T1567.002": 2, "T1567.003": 1, "T1567.004": 2}, needPwsh)
}

func TestParallelCallsEachOnceAndStopsAtTheFirstError(t *testing.T) {
	var calls sync.Map
	require.NoError(t, parallel(context.Background(), 50, func(i int) error {
		_, dup := calls.LoadOrStore(i, true)
		assert.False(t, dup, "f(%d) called twice", i)
		return nil
	}))
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, 50, n)

	boom := errors.New("boom")
	var after atomic.Int32
	err := parallel(context.Background(), 1000, func(i int) error {
		if i == 0 {
			return boom
		}
		after.Add(1)
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Less(t, int(after.Load()), 999, "no new call after the error")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, parallel(ctx, 3, func(int) error { return nil }), context.Canceled)
}
