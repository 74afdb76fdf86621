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
	"github.com/t1567001/harness/replay"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/validate"
)

func newSPLCmd() *cobra.Command {
	var (
		query  string
		files  []string
		asJSON bool
		strict bool
		opts   validate.Options
	)
	cmd := &cobra.Command{
		Use:   "spl --query FILE --events FILE...",
		Short: "Run a Splunk query over recorded events (Event XML, EVTX, JSON lines, Winlogbeat, OTRF, evtx_dump; gzip)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := os.ReadFile(query)
			if err != nil {
				return badInput(fmt.Errorf("--query: %w", err))
			}
			rule, err := validate.NewSPLRuleContext(cmd.Context(), strings.TrimSuffix(filepath.Base(query), filepath.Ext(query)), string(src), opts)
			if err != nil {
				return badInput(fmt.Errorf("%s: %w", query, err))
			}
			return streamRows(cmd, []validate.Streamer{rule}, files, strict, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&query, "query", "", "file holding the SPL query")
	f.StringArrayVar(&files, "events", nil, "recorded events file (repeatable; the format is detected)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines, one object per result row")
	f.BoolVar(&strict, "strict", false, "a record that cannot be read is fatal (default: reported and skipped)")
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
		strict bool
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
			var sigma []validate.Streamer
			for _, r := range rules {
				if s, ok := r.(validate.Streamer); ok && r.Kind() == "sigma" {
					sigma = append(sigma, s)
				}
			}
			return streamRows(cmd, sigma, files, strict, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "", "folder of Sigma rules (default: the harness's own)")
	f.StringArrayVar(&files, "events", nil, "recorded events file (repeatable; the format is detected)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines, one object per match")
	f.BoolVar(&strict, "strict", false, "a record that cannot be read is fatal (default: reported and skipped)")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// streamRows runs rules over the events of files as they are read: JSON
// rows are printed as the rules yield them; the table is printed at the
// end (it needs every row to align its columns), holding rows, not events.
func streamRows(cmd *cobra.Command, rules []validate.Streamer, files []string, strict, asJSON bool) error {
	w := cmd.OutOrStdout()
	var rows []validate.Row
	emit := func(r validate.Row) error {
		if !asJSON {
			rows = append(rows, r)
			return nil
		}
		b, err := r.MarshalJSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	feeds := make([]validate.Feed, len(rules))
	for i, r := range rules {
		feeds[i] = r.Start(cmd.Context(), emit)
	}
	err := eachEvent(cmd, files, strict, func(ev *event.Event) (bool, error) {
		done := true
		for _, f := range feeds {
			if f.Done() {
				continue
			}
			if err := f.Push(ev); err != nil {
				return false, err
			}
			done = done && f.Done()
		}
		return done, nil
	})
	if err != nil {
		return err
	}
	for _, f := range feeds {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if asJSON {
		return nil
	}
	return writeRows(w, rows, false)
}

func newValidateCmd() *cobra.Command {
	var (
		dir    string
		files  []string
		expect string
		asJSON bool
		strict bool
		opts   validate.Options
	)
	cmd := &cobra.Command{
		Use:   "validate --events FILE... [--expect FILE]",
		Short: "Check recorded events against expectations (or list what each rule yields)",
		Long: "The expectations file holds an `expect:` block as an atomic test does: host context -> expectations.\n" +
			"For a context that names a host profile, only that host's events are checked; otherwise all of them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(cmd, dir, opts)
			if err != nil {
				return err
			}
			if expect == "" {
				return writeCoverage(cmd, rules, files, strict)
			}
			events, err := readEvents(cmd, files, strict)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(expect)
			if err != nil {
				return badInput(fmt.Errorf("--expect: %w", err))
			}
			exps, err := atomics.LoadExpectations(expect, data)
			if err != nil {
				return badInput(err)
			}
			verdicts, err := checkExpectations(cmd.Context(), rules, events, exps)
			if err != nil {
				return err
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
	f.BoolVar(&strict, "strict", false, "a record that cannot be read is fatal (default: reported and skipped)")
	f.BoolVar(&asJSON, "json", false, "print verdicts as JSON lines")
	addRuleFlags(f, &opts)
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

func checkExpectations(ctx context.Context, rules []validate.Rule, events []event.Event, exps map[string][]atomics.Expectation) ([]validate.Verdict, error) {
	contexts := make([]string, 0, len(exps))
	for c := range exps {
		contexts = append(contexts, c)
	}
	sort.Strings(contexts)
	var verdicts []validate.Verdict
	for _, c := range contexts {
		scoped := events
		if profiles, err := harness.Contexts([]string{c}); err == nil {
			scoped = nil
			for _, ev := range events {
				if strings.EqualFold(ev.Computer, profiles[0].FQDN()) {
					scoped = append(scoped, ev)
				}
			}
		}
		eval := validate.NewEvaluation(rules, scoped)
		for _, exp := range exps[c] {
			v, err := eval.Check(ctx, exp)
			if err != nil {
				return nil, err
			}
			v.Context = c
			verdicts = append(verdicts, v)
		}
	}
	return verdicts, nil
}

// writeCoverage lists, per rule, how many rows it yields and with which
// signals: which rule catches what in the events, read as a stream.
func writeCoverage(cmd *cobra.Command, rules []validate.Rule, files []string, strict bool) error {
	type tally struct {
		rows   int
		counts map[string]int
	}
	tallies := make([]tally, len(rules))
	var feeds []validate.Feed
	for i, r := range rules {
		s, ok := r.(validate.Streamer)
		if !ok {
			return fmt.Errorf("rule %s (%s) cannot run over a stream", r.ID(), r.Kind())
		}
		tallies[i].counts = map[string]int{}
		t := &tallies[i]
		feeds = append(feeds, s.Start(cmd.Context(), func(row validate.Row) error {
			t.rows++
			t.counts[row.Values["Signal"]]++
			return nil
		}))
	}
	err := eachEvent(cmd, files, strict, func(ev *event.Event) (bool, error) {
		for _, f := range feeds {
			if !f.Done() {
				if err := f.Push(ev); err != nil {
					return false, err
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKIND\tROWS\tSIGNALS\t")
	for i, r := range rules {
		if err := feeds[i].Close(); err != nil {
			return err
		}
		var sig []string
		for s, n := range tallies[i].counts {
			if s != "" {
				sig = append(sig, fmt.Sprintf("%s x%d", s, n))
			}
		}
		sort.Strings(sig)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", r.ID(), r.Kind(), tallies[i].rows, strings.Join(sig, ", "))
	}
	return tw.Flush()
}

// eachEvent reads files one event at a time and hands each to f, which
// may ask to stop. A record that cannot be read is reported on stderr with
// its file and line and skipped, or fatal with strict; a summary line per
// file says how many events were read. No event at all is an error.
func eachEvent(cmd *cobra.Command, files []string, strict bool, f func(*event.Event) (stop bool, err error)) error {
	stderr := cmd.ErrOrStderr()
	total := 0
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return badInput(err)
		}
		rd, err := replay.Open(name, fh, replay.Strict(strict), replay.OnSkip(func(e *replay.RecordError) {
			fmt.Fprintf(stderr, "skipped %v\n", e)
		}))
		if err != nil {
			fh.Close()
			return badInput(err)
		}
		stop := false
		for ev, err := range rd.All() {
			if err != nil {
				fh.Close()
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return err
				}
				return badInput(err)
			}
			if stop, err = f(&ev); err != nil {
				fh.Close()
				return err
			}
			if stop {
				break
			}
		}
		fh.Close()
		st := rd.Stats()
		total += st.Events
		fmt.Fprintln(stderr, st)
		if stop {
			break
		}
		if err := cmd.Context().Err(); err != nil {
			return err
		}
	}
	if total == 0 {
		return badInput(fmt.Errorf("no events in %s", strings.Join(files, ", ")))
	}
	return nil
}

// readEvents holds every event of files: for the expectations, whose
// explanations look at the events again.
func readEvents(cmd *cobra.Command, files []string, strict bool) ([]event.Event, error) {
	var events []event.Event
	err := eachEvent(cmd, files, strict, func(ev *event.Event) (bool, error) {
		events = append(events, *ev)
		return false, nil
	})
	return events, err
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
