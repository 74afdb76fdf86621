package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the run step by step, for the person watching: how each
// test ran, what the mock received, and whether each staged file arrived
// intact.
func WriteText(w io.Writer, r *Results) error {
	p := &printer{w: w}
	p.f("ATT&CK %s harness run %s (mode %s%s)\n", techniques(r), r.RunID, r.Mode, sandboxMark(r))
	for i, a := range r.Atomics {
		p.f("\n[%d/%d] %s\n", i+1, len(r.Atomics), a.Name)
		switch a.Execution {
		case "simulated":
			p.f("  SIMULATED (not a real run of the tool): %s\n", a.SimulationReason)
		case "not-run":
			p.f("  NOT RUN: missing prerequisite: %s\n", strings.Join(a.MissingPrereqs, "; "))
		default:
			p.f("  executed\n")
		}
		if a.Execution != "not-run" {
			status := fmt.Sprintf("exit status %d", a.ExitCode)
			if a.TimedOut {
				status += " (timed out)"
			}
			if a.Interrupted {
				status += " (interrupted)"
			}
			p.f("  %s\n", status)
		}
		if a.CleanupError != "" {
			p.f("  cleanup failed: %s\n", a.CleanupError)
		}
		if a.ExitCode != 0 && strings.TrimSpace(a.Stderr) != "" {
			p.f("  stderr: %s\n", indent(strings.TrimSpace(a.Stderr), "          "))
		}
		p.f("  the mock received %d request(s):\n", len(a.Requests))
		for _, q := range a.Requests {
			mark := ""
			if q.Refused {
				mark = "  REFUSED"
			}
			target := q.Host + q.Path
			if q.Method == "CONNECT" {
				target = q.Path // already host:port
			}
			p.f("    %-7s %s -> %d, %d bytes%s\n", q.Method, target, q.Status, q.BytesReceived, mark)
		}
		if len(a.Steps) > 0 {
			p.f("  step by step:\n")
			for i, st := range a.Steps {
				if i == maxSteps {
					p.f("    ... %d more in results.json and report.html\n", len(a.Steps)-maxSteps)
					break
				}
				p.f("    %s %s\n", st.Time.Format("15:04:05.000"), st.Text)
			}
		}
		for _, s := range a.Staged {
			verdict := "arrived intact"
			if !s.Arrived {
				verdict = "DID NOT ARRIVE INTACT"
			}
			p.f("  staged %-18s %6d bytes sha256 %s… %s\n", s.Name, s.Size, s.SHA256[:16], verdict)
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
	p.f("\n%d of %d atomics delivered every staged file intact\n", intact, len(r.Atomics)-cases)
	if cases > 0 {
		p.f("%d variants and benign look-alikes: see the coverage matrix\n", cases)
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

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// sandboxMark is the header's note on how the tests' network was confined;
// a run without the sandbox says so wherever its results are shown.
func sandboxMark(r *Results) string {
	if r.Sandbox == "" {
		return ""
	}
	return ", sandbox: " + r.Sandbox
}
