package harness

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/t1567001/harness/internal/text"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/telemetry"
)

// steps tells a test's story from what was observed: each process started,
// each connection with the host it asked the proxy (or resolver) for, the
// files it wrote, and what the mock received, in time order. An
// interpreter version manager's shims (pyenv, asdf, rbenv) are folded into
// the line of the interpreter they end in: they are plumbing, and would
// bury the interpreter's own exec, connect and request.
func steps(obs []sensor.Observation, ledger []emulator.Entry, workDir, harness string) []reports.Step {
	var out []reports.Step
	gitFiles := map[int]int{}
	shims := newShimFold(obs)
	for i, o := range obs {
		s := reports.Step{Time: o.Time, Kind: o.Kind, PID: o.PID, Observation: telemetry.ObservationID(i)}
		if shims.folded(o) {
			continue
		}
		switch o.Kind {
		case sensor.KindExec:
			argv := strings.Join(o.Argv, " ")
			if o.Exe == harness {
				argv = "(harness replay child, standing in for the missing tool) " + argv
			}
			s.Text = fmt.Sprintf("pid %d (child of %d) starts %s", o.PID, o.PPID, text.Clip(argv, 300))
			if mgr, n := shims.through(o.PID); n > 0 {
				s.Text += fmt.Sprintf(" (through the %s shim: %d helper step(s) folded)", mgr, n)
			}
		case sensor.KindConnect:
			result := o.Result
			host := ""
			for _, e := range ledger {
				if e.IsRequest() && e.ClientPort == o.LocalPort && e.ClientIP == o.LocalIP {
					host = e.Host
					break
				}
			}
			if host != "" && result == sensor.ResultAttempted {
				// A non-blocking connect: the mock answering on this very
				// socket is what says it succeeded.
				result = sensor.ResultOK
			}
			s.Text = fmt.Sprintf("pid %d connects from %s:%d to %s:%d (%s)", o.PID, o.LocalIP, o.LocalPort, o.RemoteIP, o.RemotePort, result)
			if host != "" {
				s.Text += fmt.Sprintf(", asking for %s", host)
			}
		case sensor.KindDNS:
			s.Text = fmt.Sprintf("pid %d asks DNS for %s (%s)", o.PID, o.DNSName, o.DNSType)
		case sensor.KindFile:
			rel, err := filepath.Rel(workDir, o.Path)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = o.Path
			}
			if strings.HasPrefix(rel, ".git/") {
				gitFiles[o.PID]++ // git's own bookkeeping: counted, not listed
				continue
			}
			verb := "writes"
			if strings.HasPrefix(o.Flags, "O_RDONLY") {
				verb = "reads"
			}
			s.Text = fmt.Sprintf("pid %d %s %s", o.PID, verb, rel)
		case sensor.KindExit:
			if o.ExitCode == nil || *o.ExitCode == 0 {
				continue
			}
			s.Text = fmt.Sprintf("pid %d exits with %d", o.PID, *o.ExitCode)
		default:
			continue
		}
		out = append(out, s)
	}
	for pid, n := range gitFiles {
		for i := range out {
			if out[i].PID == pid && out[i].Kind == sensor.KindExec {
				out[i].Text += fmt.Sprintf(" (and writes %d files under .git)", n)
				break
			}
		}
	}
	for _, e := range ledger {
		if e.Kind == emulator.KindDNS {
			text := fmt.Sprintf("the DNS sinkhole answers %s %s from %s:%d: %s %s", e.DNS.Type, e.DNS.Name, e.ClientIP, e.ClientPort, e.DNS.Rcode, strings.Join(e.DNS.Answers, ", "))
			out = append(out, reports.Step{Time: e.Time, Kind: "dns-answer", Text: strings.TrimSpace(text)})
			continue
		}
		if !e.IsRequest() {
			continue
		}
		text := fmt.Sprintf("the mock receives %s %s from %s:%d -> %d, %d bytes", e.Method, reports.Request{Method: e.Method, Host: e.Host, Path: e.Path}.Target(), e.ClientIP, e.ClientPort, e.Status, e.BytesReceived)
		if e.Method == "CONNECT" {
			text = fmt.Sprintf("the proxy receives CONNECT %s from %s:%d -> %d", e.Path, e.ClientIP, e.ClientPort, e.Status)
		}
		if e.Refused {
			text += " (refused: " + e.Note + ")"
		}
		for _, f := range e.Files {
			text += fmt.Sprintf("; stores %s (%d bytes, sha256 %s)", f.Name, f.Size, f.SHA256[:16])
		}
		out = append(out, reports.Step{Time: e.Time, Kind: "request", Text: text})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// shimFold recognises the exec chains of interpreter version managers: a
// shim script re-executing itself through env, bash and the manager's
// helpers until its process execs the real interpreter.
type shimFold struct {
	ppid map[int]int
	// chain maps a pid running shim code, or a helper of a chain, to the
	// pid the chain started in (the one that ends in the interpreter).
	chain   map[int]int
	manager map[int]string // chain pid -> pyenv, asdf, rbenv
	count   map[int]int    // chain pid -> steps folded
}

// shimRoots are the folders version managers install into; their
// versions/ and installs/ subfolders hold the real interpreters.
var shimRoots = []struct{ dir, name string }{{"/.pyenv/", "pyenv"}, {"/.asdf/", "asdf"}, {"/.rbenv/", "rbenv"}}

func shimOf(o sensor.Observation) string {
	for _, a := range append([]string{o.Exe}, o.Argv...) {
		for _, r := range shimRoots {
			if strings.Contains(a, r.dir) && !strings.Contains(a, "/versions/") && !strings.Contains(a, "/installs/") {
				return r.name
			}
		}
	}
	return ""
}

func newShimFold(obs []sensor.Observation) *shimFold {
	f := &shimFold{ppid: map[int]int{}, chain: map[int]int{}, manager: map[int]string{}, count: map[int]int{}}
	for _, o := range obs {
		if o.PPID != 0 {
			f.ppid[o.PID] = o.PPID
		}
	}
	return f
}

// chainOf is the chain pid belongs to (itself or through its parents), or 0.
func (f *shimFold) chainOf(pid int) int {
	for range 128 { // bounded: a pid cycle in bad input must not hang
		if pid == 0 {
			return 0
		}
		if c, ok := f.chain[pid]; ok {
			return c
		}
		pid = f.ppid[pid]
	}
	return 0
}

// folded reports whether o belongs to a shim chain, counting it. The
// chain's own exec of the interpreter ends the chain and is shown, as is
// any network activity.
func (f *shimFold) folded(o sensor.Observation) bool {
	c := f.chainOf(o.PID)
	switch {
	case o.Kind == sensor.KindExec && shimOf(o) != "":
		if c == 0 {
			c = o.PID
			f.manager[c] = shimOf(o)
		}
		f.chain[o.PID] = c
	case c == 0 || o.Kind == sensor.KindConnect || o.Kind == sensor.KindDNS:
		return false
	case o.Kind == sensor.KindExec && c == o.PID:
		delete(f.chain, o.PID)
		return false
	case o.Kind == sensor.KindExec:
		f.chain[o.PID] = c // a helper the shim runs (readlink, a version file read)
	}
	f.count[c]++
	return true
}

// through names the manager whose shim pid went through to its
// interpreter, and how many steps of it were folded.
func (f *shimFold) through(pid int) (string, int) {
	return f.manager[pid], f.count[pid]
}
