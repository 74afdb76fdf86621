package reports

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/internal/text"
	"github.com/t1567001/harness/validate"
)

// The coverage matrix of the variants and benign look-alikes, for people
// (terminal, Markdown, HTML) and for ATT&CK Navigator.

// caseLine is one case's outcome in one context: the rules that fire and
// those that fall short of what the case's role means, with why.
type caseLine struct {
	Context string
	Fire    []string
	Short   []validate.Cell // a variant's misses or a benign case's firings
}

func caseLines(c validate.Case) []caseLine {
	var out []caseLine
	for _, cell := range c.Cells {
		if len(out) == 0 || out[len(out)-1].Context != cell.Context {
			out = append(out, caseLine{Context: cell.Context})
		}
		l := &out[len(out)-1]
		if cell.Fires {
			l.Fire = append(l.Fire, cell.Rule)
		}
		if cell.Fires != (c.Role == atomics.Variant) {
			l.Short = append(l.Short, cell)
		}
	}
	return out
}

// shortfalls groups a case's misses (or false firings) by rule and
// explanation, naming the contexts each holds in.
func shortfalls(c validate.Case) []shortfall {
	var out []shortfall
	for _, l := range caseLines(c) {
		for _, cell := range l.Short {
			i := slices.IndexFunc(out, func(s shortfall) bool { return s.Rule == cell.Rule && s.Why == cell.Why })
			if i < 0 {
				out = append(out, shortfall{Rule: cell.Rule, Why: cell.Why})
				i = len(out) - 1
			}
			out[i].Contexts = append(out[i].Contexts, l.Context)
		}
	}
	return out
}

type shortfall struct {
	Rule     string
	Contexts []string
	Why      string
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func roleWord(r atomics.Role) string {
	if r == atomics.Benign {
		return "benign"
	}
	return "variant"
}

// WriteCoverage writes the coverage matrix for the terminal: the rates per
// rule and context, then each case with what catches it and why the other
// rules miss it (or, for a benign case, why a rule fires).
func WriteCoverage(w io.Writer, c *validate.Coverage) error {
	if c == nil {
		return nil
	}
	p := &printer{w: w}
	p.f("\nCoverage matrix: detection rate over variants, false-positive rate over benign look-alikes\n")
	p.f("  %-40s %-24s %10s %10s\n", "rule", "context", "detection", "false pos")
	for _, r := range c.Rates {
		p.f("  %-40s %-24s %4s %5s %4s %5s\n", r.Rule, r.Context,
			pct(r.DetectionRate), fmt.Sprintf("%d/%d", r.Caught, r.Variants), pct(r.FalsePositiveRate), fmt.Sprintf("%d/%d", r.Fired, r.Benign))
	}
	for _, cs := range c.Cases {
		p.f("\n%s %s\n  %s\n", roleWord(cs.Role), cs.Atomic, cs.Status)
		if !cs.Observed && !cs.Simulated {
			continue
		}
		if cs.Simulated {
			p.f("  (simulated: what the rules do on the modelled telemetry, not counted)\n")
		}
		for _, l := range caseLines(cs) {
			fire := "nothing fires"
			if len(l.Fire) > 0 {
				fire = "fires: " + strings.Join(l.Fire, ", ")
			}
			p.f("  %-24s %s\n", l.Context, fire)
		}
		for _, s := range shortfalls(cs) {
			verb := "misses it"
			if cs.Role == atomics.Benign {
				verb = "fires (false positive)"
			}
			p.f("  %s %s in %s:\n    %s\n", s.Rule, verb, strings.Join(s.Contexts, ", "), indent(firstLines(s.Why, 3), "    "))
		}
	}
	return p.err
}

// writeCoverageMarkdown is the matrix's section of report.md.
func writeCoverageMarkdown(p *printer, c *validate.Coverage) {
	if c == nil {
		return
	}
	p.f("\n### Coverage matrix\n\n| rule | context | detection rate | false-positive rate |\n|---|---|---|---|\n")
	for _, r := range c.Rates {
		p.f("| `%s` | %s | %s (%d/%d) | %s (%d/%d) |\n", r.Rule, r.Context, pct(r.DetectionRate), r.Caught, r.Variants, pct(r.FalsePositiveRate), r.Fired, r.Benign)
	}
	p.f("\n| case | role | status | fires |\n|---|---|---|---|\n")
	for _, cs := range c.Cases {
		fires := []string{"not counted"}
		if cs.Observed || cs.Simulated {
			fires = fires[:0]
			for _, l := range caseLines(cs) {
				what := "nothing fires"
				if len(l.Fire) > 0 {
					what = strings.Join(l.Fire, ", ")
				}
				fires = append(fires, l.Context+": "+what)
			}
		}
		p.f("| %s | %s | %s | %s |\n", mdCell(cs.Atomic), roleWord(cs.Role), mdCell(text.Clip(cs.Status, 120)), mdCell(strings.Join(fires, "<br>")))
	}
	for _, cs := range c.Cases {
		for _, s := range shortfalls(cs) {
			if !cs.Observed {
				continue
			}
			p.f("\n<details><summary>%s <code>%s</code> in %s: %s</summary>\n\n```\n%s\n```\n</details>\n",
				mdCell(cs.Atomic), s.Rule, strings.Join(s.Contexts, ", "), map[bool]string{true: "false positive", false: "missed"}[cs.Role == atomics.Benign], s.Why)
		}
	}
}

var coverageTmpl = template.Must(template.New("coverage").Funcs(template.FuncMap{
	"pct": pct, "lines": caseLines, "short": shortfalls, "role": roleWord,
	"join": strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>T1567.001 coverage matrix</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}pre{white-space:pre-wrap;margin:0}</style>
</head><body>
<h1>Coverage matrix</h1>
<table><tr><th>rule</th><th>context</th><th>detection rate</th><th>false-positive rate</th></tr>
{{range .Rates}}<tr><td><code>{{.Rule}}</code></td><td>{{.Context}}</td><td>{{pct .DetectionRate}} ({{.Caught}}/{{.Variants}})</td><td>{{pct .FalsePositiveRate}} ({{.Fired}}/{{.Benign}})</td></tr>
{{end}}</table>
{{range .Cases}}<h2>{{role .Role}}: {{.Atomic}}</h2><p>{{.Status}}</p>
{{if .Observed}}<table><tr><th>context</th><th>fires</th></tr>{{range lines .}}<tr><td>{{.Context}}</td><td>{{join .Fire ", "}}</td></tr>{{end}}</table>
{{range short .}}<details><summary><code>{{.Rule}}</code> in {{join .Contexts ", "}}</summary><pre>{{.Why}}</pre></details>{{end}}{{end}}
{{end}}</body></html>
`))

// WriteCoverageHTML writes the matrix as a self-contained page.
func WriteCoverageHTML(w io.Writer, c *validate.Coverage) error {
	if c == nil {
		c = &validate.Coverage{}
	}
	return coverageTmpl.Execute(w, c)
}

// CoverageLayer is an ATT&CK Navigator layer scoring T1567.001 by the
// detection rate: the share of observed variants, over every context, that
// at least one rule catches; each rule's rates are in the comment and the
// metadata.
func CoverageLayer(runID string, c *validate.Coverage) map[string]any {
	caught, total := 0, 0
	var meta []map[string]string
	if c != nil {
		for _, cs := range c.Cases {
			if !cs.Observed || cs.Role != atomics.Variant {
				continue
			}
			for _, l := range caseLines(cs) {
				total++
				if len(l.Fire) > 0 {
					caught++
				}
			}
		}
		for _, r := range c.Rates {
			meta = append(meta, map[string]string{"name": r.Rule + " / " + r.Context,
				"value": fmt.Sprintf("detection %s (%d/%d), false positives %s (%d/%d)", pct(r.DetectionRate), r.Caught, r.Variants, pct(r.FalsePositiveRate), r.Fired, r.Benign)})
		}
	}
	score := 0
	if total > 0 {
		score = 100 * caught / total
	}
	return map[string]any{
		"name":        "T1567.001 coverage " + runID,
		"versions":    map[string]string{"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
		"domain":      "enterprise-attack",
		"description": "Share of T1567.001 variants the rules catch (score = detection rate), from the T1567.001 harness",
		"techniques": []map[string]any{{
			"techniqueID": "T1567.001", "tactic": "exfiltration", "score": score, "enabled": true,
			"comment":  fmt.Sprintf("%d of %d variant runs (variant x context) caught by at least one rule", caught, total),
			"metadata": meta,
		}},
		"gradient": map[string]any{"colors": []string{"#ff6666", "#ffe766", "#8ec843"}, "minValue": 0, "maxValue": 100},
	}
}

// firstLines keeps the terminal short: the full explanation is in
// results.json, report.md and coverage.html.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + "\n…"
}
