package harness

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/telemetry"
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

// Render renders every observed test under profile p.
func (r *Run) Render(p *telemetry.Profile, realism telemetry.Realism) ([]telemetry.Event, error) {
	var events []telemetry.Event
	for _, t := range r.Tests {
		if t.Observations == nil {
			continue
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
		}
		if w := t.Test.WindowsExecutor; w != nil {
			in.Shell, in.Command = w.Name, atomics.Substitute(w.Command, t.Args)
		}
		if t.Result.Execution == executor.Simulated {
			in.Merge = r.Harness
		}
		evs, err := telemetry.Render(p, in)
		if err != nil {
			return nil, fmt.Errorf("rendering %q under %s: %w", t.Test.Name, p.Name, err)
		}
		events = append(events, evs...)
	}
	return events, nil
}
