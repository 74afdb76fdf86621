package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/internal/text"
	"github.com/t1567001/harness/replay"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/telemetry"
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
			return streamRows(cmd, []validate.Rule{rule}, files, strict, asJSON)
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
		opts   validate.Options
		strict bool
	)
	cmd := &cobra.Command{
		Use:   "sigma --rules DIR --events FILE...",
		Short: "Run Sigma rules over recorded events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(cmd, dir, opts, true)
			if err != nil {
				return err
			}
			var sigma []validate.Rule
			for _, r := range rules {
				if r.Kind() == "sigma" {
					sigma = append(sigma, r)
				}
			}
			return streamRows(cmd, sigma, files, strict, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "", "folder of Sigma rules (default: the harness's own)")
	f.StringArrayVar(&files, "events", nil, "recorded events file (repeatable; the format is detected)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines, one object per match")
	addSigmaFlags(f, &opts)
	f.BoolVar(&strict, "strict", false, "a record that cannot be read is fatal (default: reported and skipped)")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// streamRows runs rules over the events of files as they are read: JSON
// rows are printed as the rules yield them; the table is printed at the
// end (it needs every row to align its columns), holding rows, not events.
func streamRows(cmd *cobra.Command, rules []validate.Rule, files []string, strict, asJSON bool) error {
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
			"Events the harness rendered are checked against the expectations of the context they were rendered under\n" +
			"(harness_context); recorded events by the host name of the profile the context names, or all of them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := loadRules(cmd, dir, opts, true)
			if err != nil {
				return err
			}
			if expect == "" {
				return writeCoverage(cmd, rules, files, strict, asJSON)
			}
			data, err := os.ReadFile(expect)
			if err != nil {
				return badInput(fmt.Errorf("--expect: %w", err))
			}
			exps, err := atomics.LoadExpectations(expect, data)
			if err != nil {
				return badInput(err)
			}
			verdicts, _, err := harness.CheckExpectations(cmd.Context(), rules, recording(cmd, files, strict), exps)
			var bad *exitError
			switch {
			case errors.As(err, &bad), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				return err
			case err != nil:
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
			} else if err := reports.WriteVerdicts(cmd.OutOrStdout(), res, textOptions(cmd.OutOrStdout(), "")); err != nil {
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
	f.StringArrayVar(&files, "events", nil, "recorded events file (repeatable; the format is detected)")
	f.StringVar(&expect, "expect", "", "expectations file (YAML with an expect: block)")
	f.BoolVar(&strict, "strict", false, "a record that cannot be read is fatal (default: reported and skipped)")
	f.BoolVar(&asJSON, "json", false, "print verdicts (or, without --expect, what each rule yields) as JSON lines")
	addRuleFlags(f, &opts)
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// writeCoverage lists, per rule, how many rows it yields, with which
// signals and on events of which provenance (as JSON lines, one
// validate.Summary per rule, with asJSON); the events stream through
// every rule as they are read.
func writeCoverage(cmd *cobra.Command, rules []validate.Rule, files []string, strict, asJSON bool) error {
	sum, err := validate.NewSummarizer(cmd.Context(), rules)
	if err != nil {
		return err
	}
	err = eachEvent(cmd, files, strict, func(ev *event.Event) (bool, error) {
		return false, sum.Push(ev)
	})
	if err != nil {
		return err
	}
	sums, err := sum.Close()
	if err != nil {
		return err
	}
	if asJSON {
		// One JSON line per rule: validate.Summary.
		enc := json.NewEncoder(cmd.OutOrStdout())
		for _, s := range sums {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
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

// eachEvent reads the events of files merged in time order, one at a time,
// and hands each to f, which may ask to stop. A record that cannot be read
// is reported on stderr with its file and line and skipped, or fatal with
// strict; a summary line per file says how many events it held. An XML
// file's provenance sidecar is applied to its events as they go by. A file
// holding no event is bad input, not "no results".
func eachEvent(cmd *cobra.Command, files []string, strict bool, f func(*event.Event) (stop bool, err error)) error {
	return eachEventTo(cmd, cmd.ErrOrStderr(), files, strict, f)
}

// eachEventTo is eachEvent reporting on stderr.
func eachEventTo(cmd *cobra.Command, stderr io.Writer, files []string, strict bool, f func(*event.Event) (stop bool, err error)) error {
	defer replay.TuneGC()()
	readers := make([]*replay.Reader, 0, len(files))
	sides := make([]*telemetry.Sidecar, 0, len(files))
	var open []*os.File
	defer func() {
		for i, rd := range readers {
			rd.Close()
			open[i].Close()
		}
	}()
	for _, name := range files {
		fh, rd, side, err := openEvents(cmd, stderr, name, strict)
		if err != nil {
			return err
		}
		open, readers, sides = append(open, fh), append(readers, rd), append(sides, side)
	}
	merged := replay.NewMerge(readers...)
	stop := false
	for n := 1; !stop; n++ {
		ev, src, err := merged.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return badInput(err)
		}
		if n%4096 == 0 {
			if err := cmd.Context().Err(); err != nil {
				return err
			}
		}
		if sides[src] != nil {
			sides[src].Apply(&ev)
		}
		if stop, err = f(&ev); err != nil {
			return err
		}
	}
	for i, rd := range readers {
		st := rd.Stats()
		fmt.Fprintln(stderr, st)
		if st.Events == 0 && !stop {
			return badInput(fmt.Errorf("%s: holds no event", files[i]))
		}
		if sides[i] != nil && !stop {
			if err := sides[i].Unused(); err != nil {
				return badInput(err)
			}
		}
	}
	return nil
}

// openEvents opens one events file for reading, with its sidecar; the
// caller closes the file and the reader.
func openEvents(cmd *cobra.Command, stderr io.Writer, name string, strict bool) (*os.File, *replay.Reader, *telemetry.Sidecar, error) {
	side, err := sidecar(name)
	if err != nil {
		return nil, nil, nil, badInput(err)
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil, nil, badInput(err)
	}
	rd, err := replay.Open(name, fh, replay.Strict(strict), replay.Context(cmd.Context()), replay.OnSkip(func(e *replay.RecordError) {
		fmt.Fprintf(stderr, "skipped %v\n", e)
	}))
	if err != nil {
		fh.Close()
		return nil, nil, nil, badInput(err)
	}
	return fh, rd, side, nil
}

// sidecar loads the provenance sidecar of an XML events file, if it has
// one.
func sidecar(name string) (*telemetry.Sidecar, error) {
	if !strings.HasSuffix(name, ".xml") {
		return nil, nil
	}
	fh, err := os.Open(telemetry.SidecarPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return telemetry.LoadSidecar(telemetry.SidecarPath(name), fh)
}

// recording reads files as a harness.Recording: the first reading says
// on stderr what it skipped and how many events each file held, a second
// one (to explain a verdict) reads them again quietly.
func recording(cmd *cobra.Command, files []string, strict bool) harness.Recording {
	stderr := cmd.ErrOrStderr()
	return func(f func(*event.Event) error) error {
		err := eachEventTo(cmd, stderr, files, strict, func(ev *event.Event) (bool, error) { return false, f(ev) })
		stderr = io.Discard
		return err
	}
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
			v, _ := r.Value(f)
			vals[i] = text.Clip(v, 120)
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d row(s)\n", len(rows))
	return err
}
