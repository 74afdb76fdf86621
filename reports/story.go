package reports

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/t1567001/harness/event"
)

// The story of one atomic as the HTML page draws it: its process tree,
// Windows nodes beside the Linux processes observed, and its timeline.

// procNode is one process of the tree: the Windows process as rendered,
// what that rests on, and the Linux process observed behind it.
type procNode struct {
	Image       string
	Name        string
	CommandLine string
	PID         string
	Provenance  event.Provenance
	Linux       string
	Children    []*procNode
}

// firstHost is the host whose events draw the process trees: the first
// one rendered (its context's name where the events carry it).
func firstHost(events []event.Event) string {
	if len(events) == 0 {
		return ""
	}
	if events[0].Context != "" {
		return events[0].Context
	}
	return events[0].Computer
}

// hostEvents are host's process creations (Sysmon 1) during the atomic's
// run: the tests run one after another, so the time window is the test.
func hostEvents(events []event.Event, host string, a Atomic) []event.Event {
	var out []event.Event
	for _, e := range events {
		if e.EventID != 1 || e.Provider.Name != event.Sysmon.Name || (e.Context != host && e.Computer != host) {
			continue
		}
		if !a.Started.IsZero() && (e.TimeCreated.Before(a.Started) || e.TimeCreated.After(a.Ended)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// processTree nests the process creations by ParentProcessGuid, the
// parent the tree starts from (Explorer, Code.exe, a CI agent) at the
// root. Each node names the Linux process observed behind it: the exec
// step whose observation the event lists, or else the one at the same
// moment (the renderer starts one Windows process per observed exec).
func processTree(events []event.Event, steps []Step) []*procNode {
	byObs := map[string]string{}
	byTime := map[time.Time]string{}
	for _, s := range steps {
		if s.Kind != "exec" {
			continue
		}
		if s.Observation != "" {
			byObs[s.Observation] = s.Text
		}
		if _, ok := byTime[s.Time]; !ok {
			byTime[s.Time] = s.Text
		}
	}
	linux := func(e event.Event) string {
		for _, id := range e.Observations {
			if t, ok := byObs[id]; ok {
				return t
			}
		}
		return byTime[e.TimeCreated]
	}
	nodes := map[string]*procNode{}
	var order []string
	for _, e := range events {
		guid, _ := e.Get("ProcessGuid")
		image, _ := e.Get("Image")
		cmd, _ := e.Get("CommandLine")
		pid, _ := e.Get("ProcessId")
		nodes[guid] = &procNode{Image: image, Name: winBase(image), CommandLine: cmd, PID: pid, Provenance: e.Origin(), Linux: linux(e)}
		order = append(order, guid)
	}
	var roots []*procNode
	parents := map[string]*procNode{}
	for i, e := range events {
		parentGUID, _ := e.Get("ParentProcessGuid")
		n := nodes[order[i]]
		if p := nodes[parentGUID]; p != nil {
			p.Children = append(p.Children, n)
			continue
		}
		p := parents[parentGUID]
		if p == nil {
			image, _ := e.Get("ParentImage")
			cmd, _ := e.Get("ParentCommandLine")
			pid, _ := e.Get("ParentProcessId")
			p = &procNode{Image: image, Name: winBase(image), CommandLine: cmd, PID: pid, Provenance: event.Modelled,
				Linux: "(none: the host profile's parent process, modelled)"}
			parents[parentGUID] = p
			roots = append(roots, p)
		}
		p.Children = append(p.Children, n)
	}
	return roots
}

func winBase(image string) string {
	return path.Base(strings.ReplaceAll(image, `\`, "/"))
}

// timeline places a test's observed moments on one time axis, one lane
// per kind.
type timeline struct {
	Width, Height int
	Lanes         []lane
	Marks         []mark
	Ticks         []tick
	Span          time.Duration
}

type lane struct {
	Y     int
	Label string
}

type mark struct {
	X, Y  float64
	Kind  string
	Label string
}

type tick struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor: the last label ends at its tick
}

// laneOf orders the timeline's lanes as a story: a process starts, asks
// DNS, connects, sends its request, writes files.
var laneOf = []struct{ kind, label string }{
	{"exec", "process starts"}, {"dns", "DNS queries"}, {"connect", "connections"}, {"request", "HTTP requests"}, {"file", "files written"},
}

func newTimeline(steps []Step) timeline {
	const left, right, top, laneH = 130.0, 20.0, 10, 26
	t := timeline{Width: 1000, Height: top + laneH*len(laneOf) + 24}
	for i, l := range laneOf {
		t.Lanes = append(t.Lanes, lane{Y: top + laneH*i + laneH/2, Label: l.label})
	}
	var first, last time.Time
	for _, s := range steps {
		if first.IsZero() || s.Time.Before(first) {
			first = s.Time
		}
		if s.Time.After(last) {
			last = s.Time
		}
	}
	t.Span = last.Sub(first)
	span := float64(t.Span)
	if span <= 0 {
		span = 1
	}
	x := func(at time.Time) float64 { return left + (float64(t.Width)-left-right)*float64(at.Sub(first))/span }
	for _, s := range steps {
		for i, l := range laneOf {
			if l.kind == s.Kind {
				t.Marks = append(t.Marks, mark{X: x(s.Time), Y: float64(t.Lanes[i].Y), Kind: s.Kind,
					Label: fmt.Sprintf("+%.0f ms %s", float64(s.Time.Sub(first))/float64(time.Millisecond), s.Text)})
			}
		}
	}
	for i := 0; i <= 4; i++ {
		at := first.Add(time.Duration(float64(t.Span) * float64(i) / 4))
		anchor := "middle"
		if i == 4 {
			anchor = "end"
		}
		t.Ticks = append(t.Ticks, tick{X: x(at), Anchor: anchor, Label: fmt.Sprintf("+%.0f ms", float64(at.Sub(first))/float64(time.Millisecond))})
	}
	return t
}
