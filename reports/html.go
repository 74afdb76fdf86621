package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/t1567001/harness/internal/text"
)

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"actual":  ActualString,
	"restsOn": RestsOn,
	"join":    strings.Join,
	"short":   func(s string) string { return text.Clip(s, 60) },
	"lower":   strings.ToLower,
	"inc":     func(i int) int { return i + 1 },
	"pct": func(n, d int) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%d%%", 100*n/d)
	},
}).Parse(reportTemplate))

// WriteHTML writes a self-contained page for trainers and reviewers: each
// atomic step by step as observed, what the mock stored, and every verdict
// with its explanation and any gap to the rule author's intent.
func WriteHTML(w io.Writer, r *Results) error {
	pass, gaps := 0, 0
	for _, v := range r.Verdicts {
		if v.Pass {
			pass++
		}
		if v.Gap != "" {
			gaps++
		}
	}
	return reportTmpl.Execute(w, map[string]any{"R": r, "M": Coverage(r), "T": techniques(r), "Pass": pass, "Gaps": gaps})
}
