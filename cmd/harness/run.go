package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

func newRunCmd(cliArgs []string) *cobra.Command {
	var (
		opts     harness.Options
		mode     string
		out      string
		contexts []string
		realism  string
		noSensor bool
		rulesDir string
		profDir  string
		splOpts  validate.Options
		asJSON   bool
		baseline baselineFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the atomics against the mock GitHub and report what arrived",
		Long:  "Run the atomics against the mock GitHub and report what arrived.\n\n" + outHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != "local" && mode != "container" {
				return badInput(fmt.Errorf("--mode %q: want local or container", mode))
			}
			if opts.Timeout <= 0 {
				return badInput(fmt.Errorf("--timeout %s: must be more than 0", opts.Timeout))
			}
			if opts.Lanes < 0 {
				return badInput(fmt.Errorf("--lanes %d: want 1 or more (0: one per core)", opts.Lanes))
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("locating the harness binary: %w", err)
			}
			opts.Harness = exe
			if mode == "local" && !opts.NoSandbox && sandbox.NeedsUserNamespace() {
				return inUserNamespace(cmd, exe, cliArgs)
			}
			progress := reports.NewProgress(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()), textOptions(cmd.ErrOrStderr(), ""))
			defer progress.Close()
			opts.Progress = progress
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
			profiles, err := harness.ContextsFrom(profDir, contexts)
			if err != nil {
				return badInput(err)
			}
			if splOpts.ECS, err = harness.ECSConverter(profiles); err != nil {
				return err
			}
			rules, err := loadRules(cmd, rulesDir, splOpts, false)
			if err != nil {
				return err
			}
			var r *harness.Run
			if mode == "container" {
				r, err = harness.RunContainer(cmd.Context(), opts, harness.ContainerOptions{Exe: exe, Log: cmd.ErrOrStderr()})
			} else {
				r, err = harness.RunLocal(cmd.Context(), opts)
				if errors.Is(err, harness.ErrNoSandbox) {
					return badInput(err)
				}
			}
			if r == nil || r.Results == nil {
				switch {
				case cmd.Context().Err() != nil:
					// Interrupted while setting up: not bad input, whatever
					// the set-up step made of the cancellation.
					return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: %w", err)}
				case errors.Is(err, harness.ErrNoDocker):
					return badInput(fmt.Errorf("--mode container: %w", err))
				}
				return &exitError{code: exitFailed, err: err}
			}
			var events []event.Event
			if opts.Observe {
				// An interrupted run still checks the tests it finished:
				// rendering and rules take moments, and the report then says
				// what held before the interruption.
				var verr error
				if events, verr = r.Validate(context.WithoutCancel(cmd.Context()), profiles, real, rules); verr != nil {
					return verr
				}
			}
			if out != "" {
				if werr := writeOut(out, r, events); werr != nil {
					return werr
				}
			}
			if werr := writeReport(cmd.OutOrStdout(), r.Results, asJSON, textOptions(cmd.OutOrStdout(), out)); werr != nil {
				return werr
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
	f.StringVar(&out, "out", "", "write the report files to this folder (listed below)")
	f.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "time limit for each test's command")
	f.StringVar(&opts.RunID, "run-id", "", "name the run (default: a fresh UUID); it labels the containers and is in every output")
	f.BoolVar(&opts.Keep, "keep", false, "keep the run's temporary folder (work dirs, bare repositories)")
	f.StringArrayVar(&contexts, "context", nil, "render telemetry under this host context (repeatable; default: every profile)")
	f.StringVar(&realism, "realism", "", "Sysmon 3 DestinationHostname for every context: resolved (name asked for), ptr (reverse lookup), off (\"-\"); default: each profile's own")
	f.BoolVar(&opts.NoSandbox, "no-sandbox", false, "local mode: do not confine the atomics in network namespaces; only clients that honour HTTPS_PROXY reach the mock, the others may reach the real services (every output says sandbox: off)")
	f.IntVar(&opts.Lanes, "lanes", 0, "how many tests run side by side (default 0: one per core; in container mode each lane is an emulator and a runner container); tests whose arguments name the same absolute path share a lane")
	f.BoolVar(&noSensor, "no-sensor", false, "do not trace the atomics (no telemetry is rendered, no rule is checked)")
	f.StringVar(&rulesDir, "rules", "", "folder of detection rules: *.spl, Sigma *.yml, Elastic *.toml (default: the harness's own)")
	f.StringVar(&profDir, "profiles", "", "folder of host profiles, *.yaml (default: the harness's own, fixtures/profiles)")
	addRuleFlags(f, &splOpts)
	baseline.add(f)
	f.BoolVar(&asJSON, "json", false, "print the results document (as results.json) instead of the text report")
	return cmd
}

// inUserNamespace runs `harness args` again as root of a user namespace of
// this user's own, where it can make the sandbox, once a probe has shown
// that it can; where it cannot, it says why in one line (exit 2).
func inUserNamespace(cmd *cobra.Command, exe string, args []string) error {
	if err := sandbox.ProbeUserNamespace(cmd.Context(), exe); err != nil {
		return badInput(fmt.Errorf("%w: %w", harness.ErrNoSandbox, err))
	}
	code, err := sandbox.RunInUserNamespace(cmd.Context(), exe, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	switch {
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	case code != 0:
		// The run inside has said what went wrong.
		return &exitError{code: code}
	}
	return nil
}

// outHelp lists the files --out writes.
func outHelp() string {
	var b strings.Builder
	b.WriteString("--out DIR writes:\n")
	for _, f := range reports.OutFiles {
		fmt.Fprintf(&b, "  %-23s %s\n", f.Name, f.What)
	}
	return b.String()
}

// writeReport prints the run for a person, or as JSON for a program.
func writeReport(w io.Writer, r *reports.Results, asJSON bool, o reports.TextOptions) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if err := reports.WriteText(w, r, o); err != nil {
		return err
	}
	if err := reports.WriteVerdicts(w, r, o); err != nil {
		return err
	}
	if err := reports.WriteCoverage(w, r.Coverage); err != nil {
		return err
	}
	return reports.WriteFiles(w, o)
}

func writeOut(dir string, r *harness.Run, events []event.Event) error {
	if err := harness.Report(dir, r, events); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
