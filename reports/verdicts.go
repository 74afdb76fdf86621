package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteVerdicts writes the verdicts per atomic (context, rule, expected ->
// actual, pass or FAIL), the explanation of every failure, every gap
// between a rule and its author's intent once per rule, and the coverage,
// in lines of at most o.Width columns.
func WriteVerdicts(w io.Writer, r *Results, o TextOptions) error {
	if len(r.Verdicts) == 0 {
		_, err := fmt.Fprintln(w, "\nno expectations to check")
		return err
	}
	p := &printer{w: w}
	width := o.width()
	g := newGrid(r)
	label := map[string]string{}
	var legend []string
	ctxW, ruleW := 0, 0
	for i, rule := range g.Rules {
		label[rule] = g.Labels[i]
		ruleW = max(ruleW, utf8.RuneCountInString(g.Labels[i]))
		if g.Labels[i] != rule {
			legend = append(legend, g.Labels[i]+" = "+rule)
		}
	}
	for _, v := range r.Verdicts {
		ctxW = max(ctxW, utf8.RuneCountInString(v.Context))
	}
	p.f("\nVerdicts, per atomic: context, rule, expected -> actual\n")
	if len(legend) > 0 {
		p.f("%s\n", wrap(strings.Join(legend, "; "), width, "rules: ", "       "))
	}
	pass := 0
	atomic := "\x00"
	for _, v := range r.Verdicts {
		if v.Atomic != atomic {
			atomic = v.Atomic
			p.f("%s\n", wrap(v.Atomic, width, "", "  "))
		}
		res := "FAIL"
		if v.Pass {
			res = "pass"
			pass++
		}
		if v.Gap != "" {
			res += " (gap)"
		}
		left := fmt.Sprintf("  %-10s  %-*s  %-*s  ", res, ctxW, v.Context, ruleW, label[v.Rule])
		actual := ActualString(v)
		if v.Actual.Fires {
			actual += ", rests on " + RestsOn(v)
		}
		line := left + v.Expected.String() + " -> " + actual
		if utf8.RuneCountInString(line) > width {
			pad := strings.Repeat(" ", utf8.RuneCountInString(left))
			line = elide(left+v.Expected.String(), width) + "\n" + elide(pad+"-> "+actual, width)
		}
		p.f("%s\n", o.paintResult(line, res))
	}
	for _, v := range r.Verdicts {
		if !v.Pass {
			head := fmt.Sprintf("FAIL %s / %s / %s%s: expected %s, got %s (rests on %s)", v.Context, v.Atomic, v.Rule, SimulatedMark(v), v.Expected, ActualString(v), RestsOn(v))
			p.f("\n%s\n%s\n", strings.Replace(wrap(head, width, "", "  "), "FAIL", o.paint(red, "FAIL"), 1), wrap(v.Explanation, width, "  ", "  "))
			if v.Why != "" {
				p.f("%s\n", wrap(v.Why, width, "  expectation note: ", "    "))
			}
		}
	}
	for _, gg := range gapGroups(r.Verdicts) {
		head := fmt.Sprintf("GAP in rule %s: %d case(s) where it cannot do what its author meant", gg.Rule, gg.Cases)
		p.f("\n%s\n", strings.Replace(wrap(head, width, "", "  "), "GAP", o.paint(yellow, "GAP"), 1))
		for _, it := range gg.Items {
			p.f("%s\n", wrap("the author meant "+it.Intent, width, "  - ", "    "))
			if it.Why != "" {
				p.f("%s\n", wrap(it.Why, width, "    expectation note: ", "      "))
			}
			p.f("%s\n", wrap(it.Cases[0].Gap, width, "    ", "    "))
			for _, c := range it.Cases {
				p.f("%s\n", wrap(c.Where, width, "    in ", "       "))
			}
		}
	}
	writeCoverage(p, Coverage(r), width)
	p.f("\n%d of %d expectations hold\n", pass, len(r.Verdicts))
	return p.err
}

// paintResult colours a verdict line's result word.
func (o TextOptions) paintResult(line, res string) string {
	word, code := "pass", green
	if strings.HasPrefix(res, "FAIL") {
		word, code = "FAIL", red
	}
	line = strings.Replace(line, word, o.paint(code, word), 1)
	return strings.Replace(line, "(gap)", o.paint(yellow, "(gap)"), 1)
}

// writeCoverage prints, per atomic and context, what fires: the summary a
// purple team reads first.
func writeCoverage(p *printer, m Matrix, width int) {
	p.f("\nCoverage (what fires, per atomic and host context)\n")
	ctxW := 0
	for _, c := range m.Contexts {
		ctxW = max(ctxW, utf8.RuneCountInString(c))
	}
	for _, a := range m.Atomics {
		p.f("%s\n", wrap(a, width, "  ", "    "))
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
			head := fmt.Sprintf("    %-*s %d/%d hold%s: ", ctxW, c, cell.Pass, cell.Total, gaps)
			p.f("%s\n", wrap(what, width, head, strings.Repeat(" ", ctxW+6)))
		}
	}
}
