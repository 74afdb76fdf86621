package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/t1567001/harness/event"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

func newRunCmd() *cobra.Command {
	var (
		opts     harness.Options
		mode     string
		out      string
		contexts []string
		realism  string
		noSensor bool
		rulesDir string
		splOpts  validate.Options
		asJSON   bool
		baseline baselineFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the atomics against the mock GitHub and report what arrived",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != "local" && mode != "container" {
				return badInput(fmt.Errorf("--mode %q: want local or container", mode))
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("locating the harness binary: %w", err)
			}
			opts.Harness = exe
			opts.Progress = cmd.ErrOrStderr()
			opts.Observe = !noSensor
			if _, err := harness.LoadAtomics(opts.Atomics, opts.Tests); err != nil {
				return badInput(err)
			}
			var real telemetry.Realism
			if realism != "" {
				if real, err = telemetry.ParseRealism(realism); err != nil {
					return badInput(err)
				}
			}
			profiles, err := harness.Contexts(contexts)
			if err != nil {
				return badInput(err)
			}
			if splOpts.ECS, err = harness.ECSConverter(profiles); err != nil {
				return err
			}
			rules, err := loadRules(cmd, rulesDir, splOpts)
			if err != nil {
				return err
			}
			var r *harness.Run
			if mode == "container" {
				r, err = harness.RunContainer(cmd.Context(), opts, harness.ContainerOptions{Exe: exe, Log: cmd.ErrOrStderr()})
				if errors.Is(err, harness.ErrNoDocker) {
					return badInput(fmt.Errorf("--mode container: %w", err))
				}
			} else {
				r, err = harness.RunLocal(cmd.Context(), opts)
				if errors.Is(err, harness.ErrNoSandbox) {
					return badInput(err)
				}
			}
			if r == nil || r.Results == nil {
				return err
			}
			var events []event.Event
			if err == nil && opts.Observe {
				if events, err = r.Validate(cmd.Context(), profiles, real, rules); err != nil {
					return err
				}
			}
			if werr := writeReport(cmd.OutOrStdout(), r.Results, asJSON); werr != nil {
				return werr
			}
			if out != "" {
				if werr := writeOut(out, r, events); werr != nil {
					return werr
				}
			}
			if opts.Keep {
				fmt.Fprintf(cmd.ErrOrStderr(), "kept the run's folder (work dirs, bare repositories under repos/): %s\n", r.Dir)
			}
			if err == nil {
				if err = baseline.apply(cmd.ErrOrStderr(), r.Results.Coverage); errors.As(err, new(*exitError)) {
					return err
				}
			}
			switch {
			case err != nil:
				return &exitError{code: exitFailed, err: err}
			case !r.Results.AllIntact():
				return &exitError{code: exitFailed, err: fmt.Errorf("not every staged file arrived intact")}
			case !r.Results.AllPass():
				return &exitError{code: exitFailed, err: fmt.Errorf("an expectation failed")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "local", "where the atomics run: local (this machine, in-process mock) or container (Docker)")
	f.StringVar(&opts.Atomics, "atomics", "", "Atomic Red Team file or folder (default: the embedded T1567.001 file)")
	f.StringArrayVar(&opts.Tests, "test", nil, "run only this test (name or GUID; repeatable)")
	f.StringVar(&out, "out", "", "write ledger.json and results.json to this folder")
	f.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "time limit for each test's command")
	f.StringVar(&opts.RunID, "run-id", "", "name the run (default: a fresh UUID); it labels the containers and is in every output")
	f.BoolVar(&opts.Keep, "keep", false, "keep the run's temporary folder (work dirs, bare repositories)")
	f.StringArrayVar(&contexts, "context", nil, "render telemetry under this host context (repeatable; default: every profile)")
	f.StringVar(&realism, "realism", "", "Sysmon 3 DestinationHostname for every context: resolved (name asked for), ptr (reverse lookup), off (\"-\"); default: each profile's own")
	f.BoolVar(&opts.NoSandbox, "no-sandbox", false, "local mode: do not confine the atomics in network namespaces; only clients that honour HTTPS_PROXY reach the mock, the others may reach the real services (every output says sandbox: off)")
	f.BoolVar(&noSensor, "no-sensor", false, "do not trace the atomics (no telemetry is rendered, no rule is checked)")
	f.StringVar(&rulesDir, "rules", "", "folder of detection rules: *.spl, Sigma *.yml, Elastic *.toml (default: the harness's own)")
	addRuleFlags(f, &splOpts)
	baseline.add(f)
	f.BoolVar(&asJSON, "json", false, "print the results document (as results.json) instead of the text report")
	return cmd
}

// writeReport prints the run for a person, or as JSON for a program.
func writeReport(w io.Writer, r *reports.Results, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if err := reports.WriteText(w, r); err != nil {
		return err
	}
	if err := reports.WriteVerdicts(w, r); err != nil {
		return err
	}
	return reports.WriteCoverage(w, r.Coverage)
}

func writeOut(dir string, r *harness.Run, events []event.Event) error {
	if err := harness.Report(dir, r, events); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
