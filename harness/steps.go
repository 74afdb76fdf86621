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
)

// steps tells a test's story from what was observed: each process started,
// each connection with the host it asked the proxy (or resolver) for, the
// files it wrote, and what the mock received, in time order.
func steps(obs []sensor.Observation, ledger []emulator.Entry, workDir, harness string) []reports.Step {
	var out []reports.Step
	gitFiles := map[int]int{}
	for _, o := range obs {
		s := reports.Step{Time: o.Time, Kind: o.Kind, PID: o.PID}
		switch o.Kind {
		case sensor.KindExec:
			argv := strings.Join(o.Argv, " ")
			if o.Exe == harness {
				argv = "(harness replay child, standing in for the missing tool) " + argv
			}
			s.Text = fmt.Sprintf("pid %d (child of %d) starts %s", o.PID, o.PPID, text.Clip(argv, 300))
		case sensor.KindConnect:
			s.Text = fmt.Sprintf("pid %d connects from %s:%d to %s:%d (%s)", o.PID, o.LocalIP, o.LocalPort, o.RemoteIP, o.RemotePort, o.Result)
			for _, e := range ledger {
				if e.IsRequest() && e.ClientPort == o.LocalPort && e.ClientIP == o.LocalIP {
					s.Text += fmt.Sprintf(", asking for %s", e.Host)
					break
				}
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
		text := fmt.Sprintf("the mock receives %s %s%s from %s:%d -> %d, %d bytes", e.Method, e.Host, e.Path, e.ClientIP, e.ClientPort, e.Status, e.BytesReceived)
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
