package harness

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"io/fs"
	"os"
	"strings"

	"github.com/t1567001/harness/atomics"
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

// Contexts loads the named host profiles, or every context profile the
// harness ships when names is empty.
func Contexts(names []string) ([]*telemetry.Profile, error) {
	fsys, err := profilesFS()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if names, err = telemetry.ProfileNames(fsys); err != nil {
			return nil, err
		}
	}
	var out []*telemetry.Profile
	for _, n := range names {
		p, err := telemetry.LoadProfile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func profilesFS() (fs.FS, error) {
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return fsys, nil
}

// Validate renders every test under every profile, checks each test's
// expectations for that context against rules, stores the verdicts in the
// results, and returns all the rendered events. realism, when not empty,
// overrides each profile's own.
func (r *Run) Validate(ctx context.Context, profiles []*telemetry.Profile, realism telemetry.Realism, rules []validate.Rule) ([]event.Event, error) {
	var all []event.Event
	verdicts := []validate.Verdict{}
	for _, p := range profiles {
		for _, t := range r.Tests {
			events, err := r.render(t, p, realism)
			if err != nil {
				return nil, err
			}
			all = append(all, events...)
			eval := validate.NewEvaluation(rules, events)
			for _, exp := range t.Test.Expect[p.Name] {
				v, err := eval.Check(ctx, exp)
				if err != nil {
					return nil, fmt.Errorf("checking %q in %s: %w", t.Test.Name, p.Name, err)
				}
				if t.Observations == nil {
					v.Pass = false
					v.Explanation = "no telemetry for this test: " + r.whyNoTelemetry(t)
				}
				v.Atomic, v.GUID, v.Context = t.Test.Name, t.Test.GUID, p.Name
				verdicts = append(verdicts, v)
			}
		}
	}
	r.Results.Verdicts = verdicts
	return all, nil
}

func (r *Run) whyNoTelemetry(t TestRun) string {
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
