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
	"runtime"
	"slices"
	"strings"
	"sync"
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
	// Harness is the binary providing `replay-http` for simulated tests
	// and, in local mode, each test's first process: the sandbox's, or,
	// without it, the reaper that ends what the test leaves (its main
	// calls RunChild).
	Harness string
	// Timeout bounds each test's command.
	Timeout time.Duration
	// Progress, when set, is told as each test starts and ends.
	Progress Progress
	// Keep leaves the run's temporary directory in place.
	Keep bool
	// Observe runs each test under the sensor (the harness binary's
	// `sensor` subcommand), so its telemetry can be rendered.
	Observe bool
	// RunID names the run (default: a fresh UUID), for example after the
	// CI job that started it.
	RunID string
	// NoSandbox runs local tests the old cooperative way, pointed at the
	// emulator's proxy by environment variables only, instead of in the
	// network sandbox; every output says so.
	NoSandbox bool
	// Lanes is how many tests run side by side (0: one per core); each
	// lane runs its tests one after the other, so what reached the mock is
	// still traced to the test that sent it.
	Lanes int
}

// Progress is told as each test of a run starts and ends (see
// reports.Progress for the CLI's). Tests may run side by side: it must be
// safe for concurrent use.
type Progress interface {
	Started(index, total int, name string)
	Finished(index, total int, a reports.Atomic)
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
	timeout time.Duration
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
			var valid []string
			for _, s := range out {
				valid = append(valid, fmt.Sprintf("  %q (%s)", s.Test.Name, s.Test.GUID))
			}
			return nil, fmt.Errorf("no atomic test named %q in %s; valid names (or GUIDs):\n%s", k, describe(path), strings.Join(valid, "\n"))
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
// emulator: each test in a fresh network sandbox where every client lands
// at the emulator, or, with Options.NoSandbox, pointed at its CONNECT proxy
// on loopback. It fails with ErrNoSandbox where the sandbox is unavailable.
func RunLocal(ctx context.Context, opts Options) (*Run, error) {
	if err := sandboxAvailable(opts); err != nil {
		return nil, err
	}
	return Execute(ctx, opts, func(ctx context.Context, runID, dir string, _ int) (Backend, error) {
		return newLocal(ctx, runID, dir, opts.Harness, opts.NoSandbox)
	})
}

// Execute is the execute step: it runs the selected tests on the backend
// made by newBackend for the run's id and temporary folder, under the
// sensor when opts.Observe; lanes is how many lanes the run will ask a
// laned backend for (a backend that starts its lanes up front starts
// that many). RunLocal and RunContainer choose the backend.
// Render, Detect and Report are the steps after it.
func Execute(ctx context.Context, opts Options, newBackend func(ctx context.Context, runID, dir string, lanes int) (Backend, error)) (*Run, error) {
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
	groups := dependent(selected)
	// As many lanes as asked for (one per core by default), but no more
	// than the groups of tests that may run side by side.
	want := opts.Lanes
	if want <= 0 {
		want = runtime.NumCPU()
	}
	want = max(1, min(want, len(groups)))
	b, err := newBackend(ctx, runID, dir, want)
	if err != nil {
		return nil, err
	}
	closeBackend := sync.OnceValue(b.Close)
	defer closeBackend()

	staging, err := fs.Sub(fixtures.FS, "sensitive")
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	cfg := b.Executor()
	cfg.WorkRoot, cfg.Staging, cfg.Timeout = work, staging, opts.Timeout
	if cfg.Runner != nil {
		// Where each command costs a round trip (a container exec), every
		// test's tools are looked up once for the whole run.
		var tools []string
		for _, sel := range selected {
			for _, t := range executor.Tools(sel.Test) {
				if !slices.Contains(tools, t) {
					tools = append(tools, t)
				}
			}
		}
		if l, ok := b.(toolLookup); ok {
			cfg.Found = l.LookUpTools(ctx, cfg, tools)
		} else {
			cfg.Found = executor.LookUpTools(ctx, cfg, tools)
		}
	}
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
	run := &Run{Dir: dir, Harness: harnessPath, timeout: opts.Timeout, hashes: telemetry.NewHashCache(), records: telemetry.NewRecordIDs()}
	res := &reports.Results{RunID: runID, Mode: b.Mode(), Started: time.Now().UTC(), Verdicts: []validate.Verdict{}}
	if s, ok := b.(interface{ Sandbox() string }); ok {
		res.Sandbox = s.Sandbox()
	}
	run.Results = res
	done := make([]*executed, len(selected))
	lanes, parallel := b.(laned)
	workers := 1
	if parallel {
		workers = min(want, lanes.Lanes())
	}
	var sched schedule
	if workers > 1 {
		// Independent tests run side by side, one worker per lane; each
		// worker has its own lane to the emulator (a sandbox's or a proxy's
		// listeners, a runner container) and runs its tests one after the
		// other, so what reached the mock is still traced to the test that
		// sent it.
		jobs := make(chan []int, len(groups))
		for _, g := range groups {
			jobs <- g
		}
		close(jobs)
		sched.starts = make([][]started, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				lcfg, err := lanes.Lane(ctx, w)
				for g := range jobs {
					for _, i := range g {
						if err != nil {
							done[i] = &executed{err: err}
							continue
						}
						lcfg.WorkRoot, lcfg.Staging, lcfg.Timeout, lcfg.Harness, lcfg.Wrap, lcfg.Found = cfg.WorkRoot, cfg.Staging, cfg.Timeout, cfg.Harness, cfg.Wrap, cfg.Found
						sched.start(w, i)
						done[i] = runOne(ctx, opts, i, len(selected), selected[i], lcfg)
					}
				}
			})
		}
		wg.Wait()
	} else {
		for i, sel := range selected {
			before, err := b.Ledger()
			if err != nil {
				return nil, err
			}
			done[i] = runOne(ctx, opts, i, len(selected), sel, cfg)
			if done[i] == nil || done[i].result == nil {
				break
			}
			after, err := b.Ledger()
			if err != nil {
				return nil, err
			}
			done[i].ledger = after[len(before):]
		}
	}
	res.Ended = time.Now().UTC()
	if run.Ledger, err = b.Ledger(); err != nil {
		return nil, err
	}
	// Nothing below asks the backend for more than what it has recorded:
	// it goes (containers removed, emulator stopped) while the results are
	// put together, and Execute returns once it is gone.
	go closeBackend()
	if sched.starts != nil {
		for _, e := range run.Ledger {
			if i := sched.test(lanes.Owner(e), e.Time); i >= 0 && done[i] != nil {
				done[i].ledger = append(done[i].ledger, e)
			}
		}
	}
	for i, x := range done {
		if x == nil {
			// Not started: the run was interrupted first.
			if ctx.Err() != nil {
				res.Unfinished = append(res.Unfinished, reports.Unfinished{Name: selected[i].Test.Name, GUID: selected[i].Test.GUID, Reason: context.Cause(ctx).Error()})
			}
			continue
		}
		if x.result == nil {
			return nil, x.err
		}
		sel := selected[i]
		r := x.result
		tr := TestRun{Selected: sel, Args: x.args, Result: r, Ledger: x.ledger}
		a := summarize(sel, r, tr.Ledger)
		a.Timeout = opts.Timeout
		if x.err != nil {
			a.Stderr = joinLines(a.Stderr, x.err.Error())
		}
		if opts.Observe && r.Execution != executor.NotRun {
			// A test the sensor could not watch (ptrace refused, say) still
			// counts for what reached the mock; its verdicts say there is no
			// telemetry.
			if tr.Observations, err = readObservations(observationsFile(r.WorkDir)); err != nil {
				switch {
				case r.TimedOut:
					// The sensor died with the command: the time limit is
					// the cause, not the missing file.
					a.Stderr = joinLines(a.Stderr, fmt.Sprintf("timed out after %s, before the sensor recorded anything", opts.Timeout))
				case r.Interrupted:
					a.Stderr = joinLines(a.Stderr, "interrupted before the sensor recorded anything")
				default:
					a.Stderr = joinLines(a.Stderr, "no telemetry: "+err.Error())
				}
				tr.Observations = nil
			}
			a.Steps = steps(tr.Observations, tr.Ledger, r.WorkDir, harnessPath)
		}
		run.Tests = append(run.Tests, tr)
		res.Atomics = append(res.Atomics, a)
		if opts.Progress != nil {
			opts.Progress.Finished(i+1, len(selected), a)
		}
	}
	if err := ctx.Err(); err != nil {
		return run, fmt.Errorf("run interrupted: %w", err)
	}
	return run, nil
}

// dependent groups the tests that are not independent of each other: those
// whose arguments name the same absolute path (a file outside their work
// folders that one writes and another's cleanup removes). A group runs on
// one worker, in order; the groups run side by side.
func dependent(selected []Selected) [][]int {
	parent := make([]int, len(selected))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	owner := map[string]int{}
	for i, sel := range selected {
		for _, a := range sel.Test.InputArguments {
			p := strings.TrimSpace(a.Default)
			if !filepath.IsAbs(p) {
				continue
			}
			p = filepath.Clean(p)
			if j, ok := owner[p]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[p] = i
			}
		}
	}
	var groups [][]int
	index := map[int]int{}
	for i := range selected {
		r := find(i)
		g, ok := index[r]
		if !ok {
			g = len(groups)
			index[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// toolLookup is a Backend that knows a cheaper way than a command per run
// to say which tools are installed where its tests run (see
// executor.LookUpTools).
type toolLookup interface {
	LookUpTools(ctx context.Context, cfg executor.Config, tools []string) map[string]bool
}

// laned is a Backend that can run tests side by side: each worker gets a
// lane of its own (its way to the emulator), and every ledger entry can be
// traced to the lane whose client sent it.
type laned interface {
	// Lanes is how many lanes the backend can give; one means its tests
	// run one after the other.
	Lanes() int
	// Lane returns lane i's executor configuration (its proxy, runner...).
	Lane(ctx context.Context, i int) (executor.Config, error)
	// Owner returns the lane that sent e, or -1.
	Owner(e emulator.Entry) int
}

// schedule records which test each lane ran from when: a lane runs one test
// at a time, so an entry of a lane belongs to the last test started on it
// before the entry's time.
type schedule struct {
	mu     sync.Mutex
	starts [][]started
}

type started struct {
	test int
	at   time.Time
}

func (s *schedule) start(lane, test int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts[lane] = append(s.starts[lane], started{test, time.Now()})
}

// test returns the test lane ran at t, or -1.
func (s *schedule) test(lane int, t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lane < 0 || lane >= len(s.starts) {
		return -1
	}
	i := -1
	for _, st := range s.starts[lane] {
		if !st.at.After(t) {
			i = st.test
		}
	}
	return i
}

// executed is what running one test gave, before the ledger is joined in.
type executed struct {
	args   map[string]string
	result *executor.Result
	err    error
	ledger []emulator.Entry
}

// runOne runs test i of n; a nil result means the harness failed (err).
func runOne(ctx context.Context, opts Options, i, n int, sel Selected, cfg executor.Config) *executed {
	if ctx.Err() != nil {
		return nil
	}
	if opts.Progress != nil {
		opts.Progress.Started(i+1, n, sel.Test.Name)
	}
	args, err := sel.Test.Args(nil)
	if err != nil {
		return &executed{err: err}
	}
	r, err := executor.Run(ctx, sel.Test, args, cfg)
	return &executed{args: args, result: r, err: err}
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
			continue // DNS queries and TLS summaries are told in the steps and the telemetry
		}
		a.Requests = append(a.Requests, reports.Request{
			Host: e.Host, Method: e.Method, Path: e.Path, Status: e.Status,
			BytesReceived: e.BytesReceived, Refused: e.Refused, Note: e.Note,
		})
		for _, f := range e.Delivered() {
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

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
