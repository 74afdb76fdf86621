package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"inc":   func(i int) int { return i + 1 },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
}).Parse(reportTemplate))

// WriteHTML writes one self-contained page (no network, no external file)
// a trainer can teach from: the run in one sentence, a table of contents
// and the coverage grid at the top; failures first with their real cause;
// then per atomic its process tree (the Windows images as rendered beside
// the Linux processes observed), a timeline, the HTTP exchange and the
// files the mock stored; then the verdicts and the gaps grouped by rule.
// events are the rendered events of the run (any context; the process
// trees use the first host's).
func WriteHTML(w io.Writer, r *Results, events []event.Event) error {
	return reportTmpl.Execute(w, newPage(r, events))
}

// page is what the template shows, computed here so the template only
// lays it out.
type page struct {
	R         *Results
	Technique string
	Sentence  string
	Matrix    grid
	Failures  []failure
	Atomics   []atomicView
	Gaps      []gapGroup
	Host      string
	Pass      int
	// Cases counts the variants and benign look-alikes, whose sections
	// are folded: the coverage matrix judges them.
	Cases int
}

type grid struct {
	Contexts []string
	Rules    []string
	// Labels are the rules' names without their common prefix, short
	// enough for a column header.
	Labels []string
	Rows   []gridRow
}

type gridRow struct {
	Atomic string
	Cells  []gridCell
}

// gridCell is one atomic in one context for one rule.
type gridCell struct {
	Class string // fires, silent, fail, gap, none
	Mark  string
	Title string
}

type failure struct {
	Anchor  string
	Heading string
	Detail  string
}

type atomicView struct {
	Atomic
	// Holding, Failed and WithGap count the atomic's verdicts.
	Holding, Failed, WithGap int
	Anchor                   string
	Tree                     []*procNode
	Timeline                 timeline
	Requests                 []Request
	Verdicts                 []verdictView
}

type verdictView struct {
	validate.Verdict
	Actual string
	// RestsOn is the provenance of the events under its firing rows.
	RestsOn string
}

// gapGroup is every gap of one rule: the differences its author's intent
// and what it does, each with the cases it shows in.
type gapGroup struct {
	Rule  string
	Items []gapItem
	Cases int
}

// gapItem is one way a rule falls short of its author's intent: what the
// author meant, the expectation note that says why, and where it shows.
type gapItem struct {
	Intent string
	Why    string
	Cases  []gapCase
}

// gapCase is one verdict showing a gap, with the computed difference.
type gapCase struct {
	Where string
	Gap   string
}

func newPage(r *Results, events []event.Event) *page {
	p := &page{R: r, Technique: techniques(r), Matrix: newGrid(r), Host: firstHost(events)}
	for _, v := range r.Verdicts {
		if v.Pass {
			p.Pass++
		}
	}
	p.Sentence = sentence(r, p.Pass)
	for i, a := range r.Atomics {
		av := atomicView{Atomic: a, Anchor: fmt.Sprintf("atomic-%d", i+1), Requests: a.Requests}
		av.Tree = processTree(hostEvents(events, p.Host, a), a.Steps)
		av.Timeline = newTimeline(a.Steps)
		for _, v := range r.Verdicts {
			if v.Atomic == a.Name && (v.GUID == "" || v.GUID == a.GUID) {
				av.Verdicts = append(av.Verdicts, verdictView{Verdict: v, Actual: ActualString(v), RestsOn: RestsOn(v)})
				if v.Pass {
					av.Holding++
				} else {
					av.Failed++
				}
				if v.Gap != "" {
					av.WithGap++
				}
			}
		}
		p.Atomics = append(p.Atomics, av)
		if a.Role != "" {
			p.Cases++
		}
		p.Failures = append(p.Failures, atomicFailures(a, av.Anchor)...)
	}
	for _, v := range r.Verdicts {
		if !v.Pass {
			cause := "Expectation failed"
			a := r.atomic(v)
			switch {
			case a.Execution == "not-run":
				cause += " (the test did not run: missing prerequisite)"
			case a.TimedOut:
				cause += " (the test timed out" + after(a) + ")"
			case a.Interrupted:
				cause += " (the test was interrupted)"
			}
			anchor := "coverage" // recorded events: no atomic section
			if i := slices.IndexFunc(r.Atomics, func(x Atomic) bool { return x.Name == v.Atomic }); i >= 0 {
				anchor = "atomic-" + strconv.Itoa(i+1)
			}
			p.Failures = append(p.Failures, failure{
				Anchor:  anchor,
				Heading: fmt.Sprintf("%s: %s / %s / %s: expected %s, got %s", cause, v.Context, v.Atomic, v.Rule, v.Expected, ActualString(v)),
				Detail:  v.Explanation,
			})
		}
	}
	p.Gaps = gapGroups(r.Verdicts)
	return p
}

// sentence is the run in one sentence: what ran, executed or simulated,
// how many files left, which rules caught it.
func sentence(r *Results, pass int) string {
	var executed, simulated, notRun, staged, arrived, cases int
	for _, a := range r.Atomics {
		if a.Role != "" {
			cases++
		}
		switch a.Execution {
		case "simulated":
			simulated++
		case "not-run":
			notRun++
		default:
			executed++
		}
		if a.Role != "" {
			continue // a variant or benign case: counted in the coverage matrix
		}
		for _, s := range a.Staged {
			staged++
			if s.Arrived {
				arrived++
			}
		}
	}
	how := []string{fmt.Sprintf("%d executed", executed)}
	if simulated > 0 {
		how = append(how, fmt.Sprintf("%d simulated, a replay standing in for a missing tool", simulated))
	}
	if notRun > 0 {
		how = append(how, fmt.Sprintf("%d not run", notRun))
	}
	if cases > 0 {
		how = append(how, fmt.Sprintf("%d of them variants and benign look-alikes, judged in the coverage matrix", cases))
	}
	caught := map[string]bool{}
	for _, v := range r.Verdicts {
		if v.Actual.Fires {
			caught[v.Rule] = true
		}
	}
	rules := make([]string, 0, len(caught))
	for k := range caught {
		rules = append(rules, k)
	}
	sort.Strings(rules)
	who := "no rule caught it"
	if len(rules) > 0 {
		who = strings.Join(rules, ", ") + " caught it"
	}
	return fmt.Sprintf("%d atomic test(s) of %s ran in %s mode against the mock GitHub (%s); %d of %d staged file(s) left and arrived intact; %s; %d of %d expectations hold.",
		len(r.Atomics), techniques(r), r.Mode, strings.Join(how, "; "), arrived, staged, who, pass, len(r.Verdicts))
}

func newGrid(r *Results) grid {
	m := Coverage(r)
	g := grid{Contexts: m.Contexts}
	for _, v := range r.Verdicts {
		if !slices.Contains(g.Rules, v.Rule) {
			g.Rules = append(g.Rules, v.Rule)
		}
	}
	sort.Strings(g.Rules)
	g.Labels = shortNames(g.Rules)
	for _, a := range m.Atomics {
		if m.Cells[a] == nil {
			continue // no expectation for it (a coverage case): nothing to colour
		}
		row := gridRow{Atomic: a}
		for _, c := range g.Contexts {
			for _, rule := range g.Rules {
				row.Cells = append(row.Cells, cellFor(r.Verdicts, a, c, rule))
			}
		}
		g.Rows = append(g.Rows, row)
	}
	return g
}

// shortNames drops the words all names share at their start
// ("seed_t1567_001_code_repo_exfil_net" -> "exfil_net"), keeping at least
// the last word of each.
func shortNames(names []string) []string {
	out := slices.Clone(names)
	if len(names) < 2 {
		return out
	}
	prefix := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	cut := strings.LastIndexAny(prefix, "_-. ") + 1
	for i, n := range names {
		if cut < len(n) {
			out[i] = n[cut:]
		}
	}
	return out
}

func cellFor(vs []validate.Verdict, atomic, context, rule string) gridCell {
	cell := gridCell{Class: "none", Mark: "·", Title: fmt.Sprintf("%s / %s / %s: no expectation", context, atomic, rule)}
	var fires, fail, gap, any bool
	simulated := true
	var what []string
	for _, v := range vs {
		if v.Atomic != atomic || v.Context != context || v.Rule != rule {
			continue
		}
		any = true
		fires = fires || v.Actual.Fires
		fail = fail || !v.Pass
		gap = gap || v.Gap != ""
		simulated = simulated && (!v.Actual.Fires || v.Simulated())
		what = append(what, fmt.Sprintf("expected %s, got %s (rests on %s)", v.Expected, ActualString(v), RestsOn(v)))
	}
	if !any {
		return cell
	}
	cell.Title = fmt.Sprintf("%s / %s / %s: %s", context, atomic, rule, strings.Join(what, "; "))
	switch {
	case fail:
		cell.Class, cell.Mark = "fail", "✗"
	case gap:
		cell.Class, cell.Mark = "gap", "gap"
	case fires && simulated:
		cell.Class, cell.Mark = "fires sim-cell", "fires (sim)"
	case fires:
		cell.Class, cell.Mark = "fires", "fires"
	default:
		cell.Class, cell.Mark = "silent", "silent"
	}
	return cell
}

// atomicFailures names what went wrong with a test itself, the real cause
// in the heading.
func atomicFailures(a Atomic, anchor string) []failure {
	var out []failure
	add := func(heading string) {
		out = append(out, failure{Anchor: anchor, Heading: heading + ": " + a.Name, Detail: strings.TrimSpace(a.Stderr)})
	}
	switch {
	case a.Execution == "not-run":
		add("Missing prerequisite (" + strings.Join(a.MissingPrereqs, "; ") + ")")
	case a.TimedOut:
		add("Timed out" + after(a))
	case a.Interrupted:
		add("Interrupted")
	}
	if a.Execution != "not-run" && !a.Intact && a.Role == "" { // coverage cases are judged in their matrix
		var lost []string
		for _, s := range a.Staged {
			if !s.Arrived {
				lost = append(lost, s.Name)
			}
		}
		add(fmt.Sprintf("Not every staged file arrived intact (%s; exit status %d)", strings.Join(lost, ", "), a.ExitCode))
	}
	return out
}

func gapGroups(vs []validate.Verdict) []gapGroup {
	var out []gapGroup
	for _, v := range vs {
		if v.Gap == "" {
			continue
		}
		intent := "something else"
		if v.Intent != nil {
			intent = v.Intent.String()
		}
		i := slices.IndexFunc(out, func(g gapGroup) bool { return g.Rule == v.Rule })
		if i < 0 {
			i = len(out)
			out = append(out, gapGroup{Rule: v.Rule})
		}
		g := &out[i]
		j := slices.IndexFunc(g.Items, func(it gapItem) bool { return it.Intent == intent && it.Why == v.Why })
		if j < 0 {
			j = len(g.Items)
			g.Items = append(g.Items, gapItem{Intent: intent, Why: v.Why})
		}
		g.Items[j].Cases = append(g.Items[j].Cases, gapCase{
			Where: fmt.Sprintf("%s / %s (the rule %s)", v.Context, v.Atomic, ActualString(v)),
			Gap:   v.Gap,
		})
		g.Cases++
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}
