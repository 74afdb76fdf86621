package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

// observationsFile sits beside the work directory, where the sensor's own
// writes are not mistaken for the test's.
func observationsFile(workDir string) string {
	return strings.TrimSuffix(workDir, "/") + ".observations.jsonl"
}

func readObservations(path string) ([]sensor.Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sensor observations: %w", err)
	}
	defer f.Close()
	var obs []sensor.Observation
	if err := sensor.Decode(f, func(o sensor.Observation) { obs = append(obs, o) }); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obs, nil
}

// ContextNames lists the host contexts the harness ships a profile for.
func ContextNames() ([]string, error) {
	fsys, _, err := profilesFS("")
	if err != nil {
		return nil, err
	}
	return telemetry.ProfileNames(fsys)
}

// Contexts loads the named host profiles the harness ships, or all of
// them when names is empty.
func Contexts(names []string) ([]*telemetry.Profile, error) {
	return ContextsFrom("", names)
}

// ContextsFrom loads the named host profiles from the folder dir (the
// harness's own, fixtures/profiles, when dir is empty), or every context
// profile there when names is empty. A name that is no profile there is
// an error listing those that are.
func ContextsFrom(dir string, names []string) ([]*telemetry.Profile, error) {
	fsys, label, err := profilesFS(dir)
	if err != nil {
		return nil, err
	}
	all, err := telemetry.ProfileNames(fsys)
	if err != nil {
		return nil, inDir(label, err)
	}
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("%s: no host profile (a *.yaml with a name)", label)
		}
		names = all
	}
	var out []*telemetry.Profile
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("no host context %q in %s; valid: %s", n, label, strings.Join(all, ", "))
		}
		p, err := telemetry.LoadProfile(fsys, n)
		if err != nil {
			return nil, inDir(label, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// inDir names a profile error's file by its folder.
func inDir(dir string, err error) error {
	var pe *telemetry.ProfileError
	if errors.As(err, &pe) {
		return &telemetry.ProfileError{File: filepath.Join(dir, pe.File), Line: pe.Line, Msg: pe.Msg}
	}
	return err
}

func profilesFS(dir string) (fs.FS, string, error) {
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return nil, "", fmt.Errorf("profiles %s: not a folder", dir)
		}
		return os.DirFS(dir), dir, nil
	}
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	if err != nil {
		return nil, "", fmt.Errorf("profiles: %w", err)
	}
	return fsys, "fixtures/profiles", nil
}

// Rendered is one test's telemetry under one host context: the render
// step's output and the detect step's input.
type Rendered struct {
	Test    *TestRun
	Context string
	Events  []event.Event
	// Service is the service's own log of the test (GitHub's audit log
	// as the mock wrote it): rules for github.audit read it with Events.
	Service []event.Event
	// NoTelemetry says why there are no events when the sensor did not
	// watch the test; its expectations then fail with that reason.
	NoTelemetry string
}

// Render is the render step: every test of the run under every profile.
// realism, when not empty, overrides each profile's own.
func (r *Run) Render(profiles []*telemetry.Profile, realism telemetry.Realism) ([]Rendered, error) {
	var out []Rendered
	for _, p := range profiles {
		for i := range r.Tests {
			t := &r.Tests[i]
			events, err := r.render(*t, p, realism)
			if err != nil {
				return nil, err
			}
			rd := Rendered{Test: t, Context: p.Name, Events: events}
			if rd.Service, err = telemetry.AuditEvents(r.Results.RunID, t.Ledger); err != nil {
				return nil, err
			}
			for i := range rd.Service {
				rd.Service[i].Context = p.Name
			}
			if t.Observations == nil {
				rd.NoTelemetry = r.whyNoTelemetry(*t)
			}
			out = append(out, rd)
		}
	}
	return out, nil
}

// Detect is the detect step: it checks each rendered test's expectations
// for its context against rules.
func Detect(ctx context.Context, rendered []Rendered, rules []validate.Rule) ([]validate.Verdict, error) {
	verdicts := []validate.Verdict{}
	for _, rd := range rendered {
		t := rd.Test
		eval := validate.NewEvaluation(rules, append(slices.Clip(rd.Events), rd.Service...))
		for _, exp := range t.Test.Expect[rd.Context] {
			v, err := eval.Check(ctx, exp)
			if err != nil {
				return nil, fmt.Errorf("checking %q in %s: %w", t.Test.Name, rd.Context, err)
			}
			if rd.NoTelemetry != "" {
				v.Pass = false
				v.Explanation = "no telemetry for this test: " + rd.NoTelemetry
			}
			v.Atomic, v.GUID, v.Context = t.Test.Name, t.Test.GUID, rd.Context
			verdicts = append(verdicts, v)
		}
	}
	return verdicts, nil
}

// Events gathers the events of every rendered test, in order.
func Events(rendered []Rendered) []event.Event {
	var all []event.Event
	for _, rd := range rendered {
		all = append(all, rd.Events...)
	}
	return all
}

// Validate runs the render and detect steps, stores the verdicts in the
// results, and returns all the rendered events.
func (r *Run) Validate(ctx context.Context, profiles []*telemetry.Profile, realism telemetry.Realism, rules []validate.Rule) ([]event.Event, error) {
	rendered, err := r.Render(profiles, realism)
	if err != nil {
		return nil, err
	}
	verdicts, err := Detect(ctx, rendered, rules)
	if err != nil {
		return nil, err
	}
	r.Results.Verdicts = verdicts
	if r.Results.Coverage, err = r.Coverage(ctx, rendered, rules); err != nil {
		return nil, err
	}
	return Events(rendered), nil
}

func (r *Run) whyNoTelemetry(t TestRun) string {
	if t.Result.TimedOut {
		return fmt.Sprintf("it timed out after %s", r.timeout)
	}
	if t.Result.Execution == executor.NotRun {
		return "it did not run (missing prerequisite: " + strings.Join(t.Result.MissingPrereqs, "; ") + ")"
	}
	return "the sensor did not watch it (see the atomic's stderr)"
}

// render renders one observed test under profile p.
func (r *Run) render(t TestRun, p *telemetry.Profile, realism telemetry.Realism) ([]event.Event, error) {
	if t.Observations == nil {
		return nil, nil
	}
	if realism == "" {
		realism = p.Realism
	}
	in := telemetry.Input{
		RunID:        r.Results.RunID,
		Observations: t.Observations,
		Ledger:       t.Ledger,
		Shell:        "command_prompt",
		Command:      t.Result.Command,
		WorkDir:      t.Result.WorkDir,
		HomeDir:      t.Result.HomeDir,
		Realism:      realism,
		Hashes:       r.hashes,
		Records:      r.records,
	}
	if w := t.Test.WindowsExecutor; w != nil {
		in.Shell, in.Command = w.Name, atomics.Substitute(w.Command, t.Args)
	}
	if t.Result.Execution == executor.Simulated {
		in.Merge = r.Harness
	}
	events, err := telemetry.Render(p, in)
	if err != nil {
		return nil, fmt.Errorf("rendering %q under %s: %w", t.Test.Name, p.Name, err)
	}
	// The network side: what the interception point logged of the same test.
	events = append(events, telemetry.RenderProxy(p, in)...)
	return append(events, telemetry.RenderZeek(p, in)...), nil
}
