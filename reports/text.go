package reports

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// WriteText writes the run step by step, for the person watching: how each
// test ran, what the mock received, and whether each staged file arrived
// intact, in lines of at most o.Width columns.
func WriteText(w io.Writer, r *Results, o TextOptions) error {
	p := &printer{w: w}
	width := o.width()
	p.f("%s\n", wrap(fmt.Sprintf("ATT&CK %s harness run %s (mode %s%s)", techniques(r), r.RunID, r.Mode, sandboxMark(r)), width, "", "  "))
	for i, a := range r.Atomics {
		p.f("\n%s\n", o.paint(bold, wrap(fmt.Sprintf("[%d/%d] %s", i+1, len(r.Atomics), a.Name), width, "", "      ")))
		switch a.Execution {
		case "simulated":
			line := wrap("SIMULATED (not a real run of the tool): "+a.SimulationReason, width, "  ", "    ")
			p.f("%s\n", strings.Replace(line, "SIMULATED", o.paint(yellow, "SIMULATED"), 1))
		case "not-run":
			p.f("%s\n", wrap("NOT RUN: missing prerequisite: "+strings.Join(a.MissingPrereqs, "; "), width, "  ", "    "))
		default:
			p.f("  executed\n")
		}
		if a.Execution != "not-run" {
			status := fmt.Sprintf("exit status %d", a.ExitCode)
			if a.TimedOut {
				status += " (timed out" + after(a) + ")"
			}
			if a.Interrupted {
				status += " (interrupted)"
			}
			p.f("  %s\n", status)
		}
		if a.CleanupError != "" {
			p.f("%s\n", wrap("cleanup failed: "+a.CleanupError, width, "  ", "    "))
		}
		if a.ExitCode != 0 && strings.TrimSpace(a.Stderr) != "" {
			p.f("%s\n", wrap(strings.TrimSpace(a.Stderr), width, "  stderr: ", "          "))
		}
		p.f("  the mock received %d request(s):\n", len(a.Requests))
		for _, q := range a.Requests {
			mark := ""
			if q.Refused {
				mark = "  REFUSED"
			}
			p.f("%s\n", fold(fmt.Sprintf("%-7s %s -> %d, %d bytes%s", q.Method, q.Target(), q.Status, q.BytesReceived, mark), width, "    ", "            "))
		}
		if len(a.Steps) > 0 {
			p.f("  step by step:\n")
			for i, st := range a.Steps {
				if i == maxSteps {
					p.f("    ... %d more in results.json and report.html\n", len(a.Steps)-maxSteps)
					break
				}
				p.f("%s\n", fold(st.Time.Format("15:04:05.000")+" "+st.Text, width, "    ", "                 "))
			}
		}
		for _, s := range a.Staged {
			verdict := o.paint(green, "arrived intact")
			if !s.Arrived {
				verdict = o.paint(red, "DID NOT ARRIVE INTACT")
			}
			p.f("  staged %s %d bytes sha256 %s… %s\n", elide(s.Name, 40), s.Size, s.SHA256[:16], verdict)
		}
	}
	for _, u := range r.Unfinished {
		p.f("\n%s\n", wrap("not started: "+u.Name+" ("+u.Reason+")", width, "", "  "))
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
	p.f("\n%d of %d atomics delivered every staged file intact\n", intact, len(r.Atomics)-cases)
	if cases > 0 {
		p.f("%d variants and benign look-alikes: see the coverage matrix\n", cases)
	}
	return p.err
}

// WriteFiles says where the run's report files are.
func WriteFiles(w io.Writer, o TextOptions) error {
	p := &printer{w: w}
	if o.OutDir == "" {
		p.f("\n%s\n", wrap("No report files written: add --out DIR for report.html, junit.xml and the rest (see run --help).", o.width(), "", ""))
		return p.err
	}
	p.f("\nReport files in %s:\n", o.OutDir)
	pathW := 0
	for _, f := range OutFiles {
		pathW = max(pathW, utf8.RuneCountInString(filepath.Join(o.OutDir, f.Name)))
	}
	pathW = min(pathW, o.width()/2)
	for _, f := range OutFiles {
		head := fmt.Sprintf("  %-*s  ", pathW, filepath.Join(o.OutDir, f.Name))
		p.f("%s\n", wrap(f.What, o.width(), head, strings.Repeat(" ", pathW+4)))
	}
	return p.err
}

// techniques names the techniques the run's atomics belong to.
func techniques(r *Results) string {
	var ts []string
	for _, a := range r.Atomics {
		if a.Technique != "" && !slices.Contains(ts, a.Technique) {
			ts = append(ts, a.Technique)
		}
	}
	if len(ts) == 0 {
		return "T1567.001"
	}
	return strings.Join(ts, ", ")
}

// maxSteps keeps the terminal report readable; the files hold every step.
const maxSteps = 25

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// sandboxMark is the header's note on how the tests' network was confined;
// a run without the sandbox says so wherever its results are shown.
func sandboxMark(r *Results) string {
	if r.Sandbox == "" {
		return ""
	}
	return ", sandbox: " + r.Sandbox
}
