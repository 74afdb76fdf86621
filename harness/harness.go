// Package harness wires the pipeline together: it loads the atomics, starts
// the emulator, runs each test through the executor, attributes the
// emulator's ledger to the test that caused it, checks every staged file
// against what the mock stored, and returns the results document. It is the
// Go API for callers that want a run without the CLI, in four steps a
// caller may take one by one: Execute (or RunLocal), Run.Render, Detect and
// Report. A test binary that executes atomics must first call RunChild.
package harness

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

// Options selects what a run does.
type Options struct {
	// Atomics is an ART file or a folder of them; empty means the embedded
	// T1567.001 files: atomics, variants and benign look-alikes.
	Atomics string
	// Tests keeps only the tests with these names or GUIDs (all if empty).
	Tests []string
	// Harness is the binary providing `replay-http` for simulated tests.
	Harness string
	// Timeout bounds each test's command.
	Timeout time.Duration
	// Progress, when set, receives a line as each test starts and ends.
	Progress io.Writer
	// Keep leaves the run's temporary directory in place.
	Keep bool
	// Observe runs each test under the sensor (the harness binary's
	// `sensor` subcommand), so its telemetry can be rendered.
	Observe bool
	// RunID names the run (default: a fresh UUID), for example after the
	// CI job that started it.
	RunID string
}

// Run is one completed run.
type Run struct {
	Results *reports.Results
	Ledger  []emulator.Entry
	// Tests holds what each test did, for rendering its telemetry.
	Tests []TestRun
	// Dir is the run's temporary directory (gone unless Options.Keep).
	Dir string
	// Harness is the binary whose replay child stood in for missing tools.
	Harness string

	hashes  *telemetry.HashCache
	records *telemetry.RecordIDs
}

// TestRun is one test as the executor, the sensor and the emulator saw it.
type TestRun struct {
	Selected
	Args         map[string]string
	Result       *executor.Result
	Observations []sensor.Observation
	Ledger       []emulator.Entry
}

// Selected is one test chosen for a run.
type Selected struct {
	Technique *atomics.Technique
	Test      *atomics.Test
}

// LoadAtomics reads the atomics a run would use and picks the tests asked for.
func LoadAtomics(path string, keys []string) ([]Selected, error) {
	var techs []*atomics.Technique
	switch {
	case path == "":
		var err error
		if techs, err = atomics.LoadEmbedded(); err != nil {
			return nil, err
		}
	default:
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("atomics: %w", err)
		}
		if st.IsDir() {
			if techs, err = atomics.LoadDir(path); err != nil {
				return nil, err
			}
		} else {
			t, err := atomics.LoadFile(path)
			if err != nil {
				return nil, err
			}
			techs = []*atomics.Technique{t}
		}
	}
	contexts, err := ContextNames()
	if err != nil {
		return nil, err
	}
	var out []Selected
	for _, tech := range techs {
		// An expect: block under a context no profile has would never be
		// checked: a load error, not a silent pass.
		if err := tech.CheckContexts(contexts); err != nil {
			return nil, err
		}
		for i := range tech.Tests {
			out = append(out, Selected{Technique: tech, Test: &tech.Tests[i]})
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	var picked []Selected
	for _, k := range keys {
		found := false
		for _, tech := range techs {
			if t, ok := tech.Find(k); ok {
				picked = append(picked, Selected{Technique: tech, Test: t})
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no atomic test named %q in %s", k, describe(path))
		}
	}
	return picked, nil
}

func describe(path string) string {
	if path == "" {
		return "the embedded atomics (" + strings.Join(atomics.EmbeddedFiles, ", ") + ")"
	}
	return path
}

// settleTimeout bounds the wait for the emulator to finish recording what
// a test's clients sent.
const settleTimeout = 30 * time.Second

// Backend is where the tests run and the emulator listens: this machine
// (local mode) or containers.
type Backend interface {
	// Mode names the backend in the results ("local", "container").
	Mode() string
	// Executor is how tests run there: proxy, CA, runner, base environment.
	// WorkRoot must be a folder on this machine the tests also see.
	Executor() executor.Config
	// HarnessPath is the harness binary as the tests' processes see it.
	HarnessPath() string
	// Ledger returns every request the emulator has recorded so far.
	Ledger() ([]emulator.Entry, error)
	Close() error
}

// RunLocal runs the selected tests on this machine against an in-process
// emulator reached through its CONNECT proxy on loopback.
func RunLocal(ctx context.Context, opts Options) (*Run, error) {
	return Execute(ctx, opts, func(_ context.Context, runID, dir string) (Backend, error) {
		return newLocal(runID, dir, opts.Harness)
	})
}

// Execute is the execute step: it runs the selected tests on the backend
// made by newBackend for the run's id and temporary folder, under the
// sensor when opts.Observe. RunLocal and RunContainer choose the backend.
// Render, Detect and Report are the steps after it.
func Execute(ctx context.Context, opts Options, newBackend func(ctx context.Context, runID, dir string) (Backend, error)) (*Run, error) {
	selected, err := LoadAtomics(opts.Atomics, opts.Tests)
	if err != nil {
		return nil, err
	}
	runID := opts.RunID
	if runID == "" {
		runID = uuid.NewString()
	}
	dir, err := os.MkdirTemp("", "t1567-run-")
	if err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	if !opts.Keep {
		defer os.RemoveAll(dir)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	b, err := newBackend(ctx, runID, dir)
	if err != nil {
		return nil, err
	}
	defer b.Close()

	staging, err := fs.Sub(fixtures.FS, "sensitive")
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	cfg := b.Executor()
	cfg.WorkRoot, cfg.Staging, cfg.Timeout = work, staging, opts.Timeout
	harnessPath := b.HarnessPath()
	cfg.Harness = harnessPath
	if opts.Observe {
		cfg.Wrap = func(argv []string, workDir, homeDir string) []string {
			// Reads too: DET0318 AN0895 correlates a sensitive file read with
			// the upload that follows.
			return append([]string{harnessPath, "sensor", "-o", observationsFile(workDir), "--reads",
				"--watch", workDir, "--watch", homeDir, "--"}, argv...)
		}
	}
	run := &Run{Dir: dir, Harness: harnessPath, hashes: telemetry.NewHashCache(), records: telemetry.NewRecordIDs()}
	res := &reports.Results{RunID: runID, Mode: b.Mode(), Started: time.Now().UTC(), Verdicts: []validate.Verdict{}}
	run.Results = res
	for i, sel := range selected {
		if ctx.Err() != nil {
			break
		}
		progress(opts.Progress, "[%d/%d] %s ...\n", i+1, len(selected), sel.Test.Name)
		args, err := sel.Test.Args(nil)
		if err != nil {
			return nil, err
		}
		before, err := b.Ledger()
		if err != nil {
			return nil, err
		}
		r, err := executor.Run(ctx, sel.Test, args, cfg)
		if r == nil {
			return nil, err
		}
		after, lerr := b.Ledger()
		if lerr != nil {
			return nil, lerr
		}
		tr := TestRun{Selected: sel, Args: args, Result: r, Ledger: after[len(before):]}
		a := summarize(sel, r, tr.Ledger)
		if err != nil {
			a.Stderr = joinLines(a.Stderr, err.Error())
		}
		if opts.Observe && r.Execution != executor.NotRun {
			// A test the sensor could not watch (ptrace refused, say) still
			// counts for what reached the mock; its verdicts say there is no
			// telemetry.
			if tr.Observations, err = readObservations(observationsFile(r.WorkDir)); err != nil {
				a.Stderr = joinLines(a.Stderr, "no telemetry: "+err.Error())
				tr.Observations = nil
			}
			a.Steps = steps(tr.Observations, tr.Ledger, r.WorkDir, harnessPath)
		}
		run.Tests = append(run.Tests, tr)
		res.Atomics = append(res.Atomics, a)
		progress(opts.Progress, "[%d/%d] %s: %s, exit %d, intact=%v\n", i+1, len(selected), sel.Test.Name, a.Execution, a.ExitCode, a.Intact)
	}
	res.Ended = time.Now().UTC()
	if run.Ledger, err = b.Ledger(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return run, fmt.Errorf("run interrupted: %w", err)
	}
	return run, nil
}

// summarize joins what the executor saw with what the mock recorded.
func summarize(sel Selected, r *executor.Result, entries []emulator.Entry) reports.Atomic {
	a := reports.Atomic{
		Technique:        sel.Technique.AttackTechnique,
		Name:             r.Name,
		GUID:             r.GUID,
		Execution:        string(r.Execution),
		Role:             string(sel.Test.Role),
		SimulationReason: r.SimulationReason,
		MissingPrereqs:   r.MissingPrereqs,
		Command:          r.Command,
		ExitCode:         r.ExitCode,
		TimedOut:         r.TimedOut,
		Interrupted:      r.Interrupted,
		CleanupError:     r.CleanupError,
		Stderr:           r.Stderr,
		Started:          r.Started,
		Ended:            r.Ended,
		Requests:         []reports.Request{},
		Uploads:          []reports.Upload{},
	}
	staged := map[string]bool{}
	for _, s := range r.Staged {
		staged[s.SHA256] = true
	}
	arrived := map[string]bool{}
	for _, e := range entries {
		if !e.IsRequest() {
			continue
		}
		a.Requests = append(a.Requests, reports.Request{
			Host: e.Host, Method: e.Method, Path: e.Path, Status: e.Status,
			BytesReceived: e.BytesReceived, Refused: e.Refused, Note: e.Note,
		})
		// Only what the mock accepted counts as exfiltrated.
		if e.Status/100 != 2 {
			continue
		}
		for _, f := range e.Files {
			intact := staged[f.SHA256]
			arrived[f.SHA256] = arrived[f.SHA256] || intact
			a.Uploads = append(a.Uploads, reports.Upload{
				Host: e.Host, Method: e.Method, Path: e.Path, File: f.Name,
				Size: f.Size, SHA256: f.SHA256, Intact: intact,
			})
		}
	}
	a.Intact = len(r.Staged) > 0
	for _, s := range r.Staged {
		ok := arrived[s.SHA256]
		a.Staged = append(a.Staged, reports.Staged{Name: s.Name, Size: s.Size, SHA256: s.SHA256, Arrived: ok})
		a.Intact = a.Intact && ok
	}
	return a
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
