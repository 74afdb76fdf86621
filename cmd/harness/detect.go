package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/t1567001/harness/event"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/t1567001/harness/internal/text"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/telemetry"
	"github.com/t1567001/harness/validate"
)

func newSPLCmd() *cobra.Command {
	var (
		query  string
		files  []string
		asJSON bool
		opts   validate.Options
	)
	cmd := &cobra.Command{
		Use:   "spl --query FILE --events FILE...",
		Short: "Run a Splunk query over recorded events (Windows Event XML or JSON lines)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := os.ReadFile(query)
			if err != nil {
				return badInput(fmt.Errorf("--query: %w", err))
			}
			rule, err := validate.NewSPLRule(strings.TrimSuffix(filepath.Base(query), filepath.Ext(query)), string(src), opts)
			if err != nil {
				return badInput(fmt.Errorf("%s: %w", query, err))
			}
			events, err := readEvents(files)
			if err != nil {
				return err
			}
			rows, err := rule.Evaluate(cmd.Context(), events)
			if err != nil {
				return err
			}
			return writeRows(cmd.OutOrStdout(), rows, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&query, "query", "", "file holding the SPL query")
	f.StringArrayVar(&files, "events", nil, "events file, Event XML or JSON lines (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines, one object per result row")
	addRuleFlags(f, &opts)
	_ = cmd.MarkFlagRequired("query")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

func newSigmaCmd() *cobra.Command {
	var (
		dir    string
		files  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sigma --rules DIR --events FILE...",
		Short: "Run Sigma rules over recorded events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(cmd, dir, validate.Options{})
			if err != nil {
				return err
			}
			events, err := readEvents(files)
			if err != nil {
				return err
			}
			var rows []validate.Row
			for _, r := range rules {
				if r.Kind() != "sigma" {
					continue
				}
				rs, err := r.Evaluate(cmd.Context(), events)
				if err != nil {
					return err
				}
				rows = append(rows, rs...)
			}
			return writeRows(cmd.OutOrStdout(), rows, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "", "folder of Sigma rules (default: the harness's own)")
	f.StringArrayVar(&files, "events", nil, "events file, Event XML or JSON lines (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines, one object per match")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

func newValidateCmd() *cobra.Command {
	var (
		dir    string
		files  []string
		expect string
		asJSON bool
		opts   validate.Options
	)
	cmd := &cobra.Command{
		Use:   "validate --events FILE... [--expect FILE]",
		Short: "Check recorded events against expectations (or list what each rule yields)",
		Long: "The expectations file holds an `expect:` block as an atomic test does: host context -> expectations.\n" +
			"Events the harness rendered are checked against the expectations of the context they were rendered under\n" +
			"(harness_context); recorded events by the host name of the profile the context names, or all of them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(cmd, dir, opts)
			if err != nil {
				return err
			}
			events, err := readEvents(files)
			if err != nil {
				return err
			}
			if expect == "" {
				return writeCoverage(cmd.Context(), cmd.OutOrStdout(), rules, events)
			}
			data, err := os.ReadFile(expect)
			if err != nil {
				return badInput(fmt.Errorf("--expect: %w", err))
			}
			exps, err := atomics.LoadExpectations(expect, data)
			if err != nil {
				return badInput(err)
			}
			verdicts, err := harness.CheckExpectations(cmd.Context(), rules, events, exps)
			if err != nil {
				return badInput(fmt.Errorf("--expect %s: %w", expect, err))
			}
			res := &reports.Results{Verdicts: verdicts}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, v := range verdicts {
					if err := enc.Encode(v); err != nil {
						return err
					}
				}
			} else if err := reports.WriteVerdicts(cmd.OutOrStdout(), res); err != nil {
				return err
			}
			if !res.AllPass() {
				return &exitError{code: exitFailed, err: errors.New("an expectation failed")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "", "folder of detection rules (default: the harness's own)")
	f.StringArrayVar(&files, "events", nil, "events file, Event XML or JSON lines (repeatable)")
	f.StringVar(&expect, "expect", "", "expectations file (YAML with an expect: block)")
	f.BoolVar(&asJSON, "json", false, "print verdicts as JSON lines")
	addRuleFlags(f, &opts)
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// writeCoverage lists, per rule, how many rows it yields, with which
// signals and on events of which provenance.
func writeCoverage(ctx context.Context, w io.Writer, rules []validate.Rule, events []event.Event) error {
	sums, err := validate.Summarize(ctx, rules, events)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKIND\tROWS\tSIGNALS\tRESTS ON\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\n", s.Rule, s.Kind, s.Rows, counts(s.Signals), counts(s.RestsOn))
	}
	return tw.Flush()
}

// counts prints a tally as "a x2, b x1", keys in order.
func counts[K ~string](m map[K]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// readEvents reads every events file (with an XML file's provenance
// sidecar); a file holding no event is bad input, not "no results".
func readEvents(files []string) ([]event.Event, error) {
	var events []event.Event
	for _, name := range files {
		evs, err := telemetry.ReadEventsFile(name)
		if err != nil {
			return nil, badInput(err)
		}
		if len(evs) == 0 {
			return nil, badInput(fmt.Errorf("%s: holds no event", name))
		}
		events = append(events, evs...)
	}
	return events, nil
}

func writeRows(w io.Writer, rows []validate.Row, asJSON bool) error {
	if asJSON {
		for _, r := range rows {
			b, err := r.MarshalJSON()
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no results")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows[0].Fields, "\t")+"\t")
	for _, r := range rows {
		vals := make([]string, len(r.Fields))
		for i, f := range r.Fields {
			vals[i] = text.Clip(r.Values[f], 120)
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d row(s)\n", len(rows))
	return err
}
