package reports

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the run for a pull-request comment or a CI job
// summary: one line of totals, the coverage matrix, then every failure and
// every gap with its explanation.
func WriteMarkdown(w io.Writer, r *Results) error {
	p := &printer{w: w}
	pass, gaps := 0, 0
	for _, v := range r.Verdicts {
		if v.Pass {
			pass++
		}
		if v.Gap != "" {
			gaps++
		}
	}
	intact, cases := 0, 0
	for _, a := range r.Atomics {
		switch {
		case a.Role != "":
			cases++
		case a.Intact:
			intact++
		}
	}
	status := "✅"
	if pass != len(r.Verdicts) || !r.AllIntact() {
		status = "❌"
	}
	p.f("## %s ATT&CK %s harness run `%s` (%s%s)\n\n", status, techniques(r), r.RunID, r.Mode, sandboxMark(r))
	p.f("%d of %d atomics delivered every staged file intact; %d of %d expectations hold; %d gap(s) between a rule and its author's intent.\n\n",
		intact, len(r.Atomics)-cases, pass, len(r.Verdicts), gaps)
	for _, a := range r.Atomics {
		if a.Execution == "simulated" {
			p.f("> **%s** was *simulated*: %s\n\n", a.Name, a.SimulationReason)
		}
	}
	m := Coverage(r)
	if len(m.Contexts) > 0 {
		p.f("| atomic | %s |\n|---|%s\n", strings.Join(m.Contexts, " | "), strings.Repeat("---|", len(m.Contexts)))
		for _, a := range m.Atomics {
			cells := make([]string, len(m.Contexts))
			for i, c := range m.Contexts {
				cell := m.Cells[a][c]
				if cell == nil {
					cells[i] = "-"
					continue
				}
				what := "nothing fires"
				if len(cell.Firing) > 0 {
					what = strings.Join(cell.Firing, "<br>")
				}
				if len(cell.RestsOn) > 0 {
					what += "<br>rests on " + strings.Join(cell.RestsOn, ", ")
				}
				mark := "✅"
				if cell.Pass != cell.Total {
					mark = "❌"
				}
				gap := ""
				if cell.Gaps > 0 {
					gap = fmt.Sprintf(", %d gap(s)", cell.Gaps)
				}
				cells[i] = fmt.Sprintf("%s %d/%d%s<br>%s", mark, cell.Pass, cell.Total, gap, mdCell(what))
			}
			p.f("| %s | %s |\n", mdCell(a), strings.Join(cells, " | "))
		}
	}
	for _, v := range r.Verdicts {
		if !v.Pass {
			p.f("\n### ❌ %s / %s / `%s`%s\nexpected %s, got %s (rests on %s)\n\n```\n%s\n```\n", v.Context, v.Atomic, v.Rule, SimulatedMark(v), v.Expected, ActualString(v), RestsOn(v), v.Explanation)
			if v.Why != "" {
				p.f("\nexpectation note: %s\n", v.Why)
			}
		}
	}
	writeCoverageMarkdown(p, r.Coverage)
	for _, v := range r.Verdicts {
		if v.Gap != "" {
			p.f("\n<details><summary>gap: %s / %s / <code>%s</code>: the author meant %s</summary>\n\nexpectation note: %s\n\n```\n%s\n```\n</details>\n",
				v.Context, v.Atomic, v.Rule, v.Intent, v.Why, v.Gap)
		}
	}
	return p.err
}

// mdCell keeps a value inside one Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
