package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/t1567001/harness/internal/text"
)

// WriteVerdicts writes the verdict table (atomic x context x rule:
// expected, actual, pass or fail), then the explanation of every failure
// and every gap between a rule and its author's intent.
func WriteVerdicts(w io.Writer, r *Results) error {
	if len(r.Verdicts) == 0 {
		_, err := fmt.Fprintln(w, "\nno expectations to check")
		return err
	}
	p := &printer{w: w}
	p.f("\nVerdicts (atomic x context x rule)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RESULT\tCONTEXT\tATOMIC\tRULE\tEXPECTED\tACTUAL\tRESTS ON\t")
	pass := 0
	for _, v := range r.Verdicts {
		res := "FAIL"
		if v.Pass {
			res = "pass"
			pass++
		}
		if v.Gap != "" {
			res += " (gap)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res, v.Context, text.Clip(v.Atomic, 44), v.Rule, v.Expected, ActualString(v), RestsOn(v))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range r.Verdicts {
		if !v.Pass {
			p.f("\nFAIL %s / %s / %s: expected %s, got %s\n%s\n", v.Context, v.Atomic, v.Rule, v.Expected, ActualString(v), indent("  "+v.Explanation, "  "))
			if v.Why != "" {
				p.f("  expectation note: %s\n", v.Why)
			}
		}
	}
	for _, v := range r.Verdicts {
		if v.Gap != "" {
			p.f("\nGAP %s / %s / %s: the rule's author meant %s; the rule %s.\n  expectation note: %s\n%s\n", v.Context, v.Atomic, v.Rule, v.Intent, ActualString(v), v.Why, indent("  "+v.Gap, "  "))
		}
	}
	writeCoverage(p, Coverage(r))
	p.f("\n%d of %d expectations hold\n", pass, len(r.Verdicts))
	return p.err
}

// writeCoverage prints, per atomic and context, what fires: the summary a
// purple team reads first.
func writeCoverage(p *printer, m Matrix) {
	p.f("\nCoverage (what fires, per atomic and host context)\n")
	for _, a := range m.Atomics {
		p.f("  %s\n", a)
		for _, c := range m.Contexts {
			cell := m.Cells[a][c]
			if cell == nil {
				continue
			}
			what := "nothing fires"
			if len(cell.Firing) > 0 {
				what = strings.Join(cell.Firing, "; ")
			}
			gaps := ""
			if cell.Gaps > 0 {
				gaps = fmt.Sprintf(", %d gap(s)", cell.Gaps)
			}
			if len(cell.RestsOn) > 0 {
				what += " (rests on " + strings.Join(cell.RestsOn, ", ") + ")"
			}
			p.f("    %-24s %d/%d hold%s: %s\n", c, cell.Pass, cell.Total, gaps, what)
		}
	}
}
