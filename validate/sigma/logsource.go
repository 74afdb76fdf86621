package sigma

import (
	"strconv"
	"strings"

	"github.com/t1567001/harness/event"
)

// Logsource is a rule's logsource block.
type Logsource struct {
	Category string
	Product  string
	Service  string
}

// String renders the logsource as "product windows, category
// process_creation", leaving out empty parts.
func (l Logsource) String() string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"category", l.Category}, {"service", l.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return strings.Join(parts, ", ")
}

// describeEvent names an event for explanations: "Sysmon 3 on WS-FIN-0142".
func describeEvent(ev *event.Event) string {
	name := ev.Channel
	if name == "" {
		name = ev.Provider.Name
	}
	name = shortChannel(name)
	if ev.EventID != 0 {
		// Sources other than Windows logs (proxy, github.audit) have none.
		name += " " + strconv.Itoa(ev.EventID)
	}
	if h := hostOf(ev); h != "" {
		name += " on " + h
	}
	return name
}

// shortChannel is how explanations name a channel: "Sysmon" for
// Microsoft-Windows-Sysmon/Operational.
func shortChannel(c string) string {
	return strings.TrimPrefix(strings.TrimSuffix(c, "/Operational"), "Microsoft-Windows-")
}

func hostOf(ev *event.Event) string {
	if h, ok := ev.Get("Hostname"); ok && h != "" {
		return h
	}
	return ev.Computer
}

// fields is an event as a rule sees it: its own fields, the System
// fields by their Sigma names, and the selector's fieldmap.
type fields struct {
	ev  *event.Event
	sel *Selector
}

func (f fields) get(name string) (string, bool) {
	ev := f.ev
	if f.sel != nil && f.sel.fields != nil {
		if src, ok := f.sel.fields[name]; ok {
			vals := make([]string, len(src.From))
			found := false
			for i, from := range src.From {
				v, ok := ev.Get(from)
				vals[i], found = v, found || ok
			}
			if !found {
				return "", false
			}
			v := transforms[src.Transform](vals)
			return v, v != "" || vals[len(vals)-1] == ""
		}
	}
	if v, ok := ev.Get(name); ok {
		return v, true
	}
	// Windows names some fields with spaces ("Source Name"); Sigma rules
	// write them without.
	for _, d := range ev.Data {
		if strings.IndexByte(d.Name, ' ') >= 0 && equalSansSpaces(d.Name, name) {
			return d.Value, true
		}
	}
	switch name {
	case "Computer", "Hostname", "ComputerName":
		// An event's own Hostname field wins (above); else the System one.
		return ev.Computer, ev.Computer != ""
	case "EventID", "EventCode":
		return strconv.Itoa(ev.EventID), true
	case "Channel":
		return ev.Channel, ev.Channel != ""
	case "Provider_Name", "Provider":
		return ev.Provider.Name, ev.Provider.Name != ""
	case "Level":
		return strconv.Itoa(ev.Level), true
	case "Task":
		return strconv.Itoa(ev.Task), true
	case "Keywords":
		return ev.Keywords, ev.Keywords != ""
	case "EventRecordID":
		return strconv.FormatUint(ev.RecordID, 10), true
	case "Version":
		return strconv.Itoa(ev.Version), true
	case "Opcode":
		return strconv.Itoa(ev.Opcode), true
	case "Execution_ProcessID":
		return strconv.Itoa(ev.ExecutionPID), true
	case "Execution_ThreadID":
		return strconv.Itoa(ev.ExecutionTID), true
	case "Security_UserID":
		return ev.UserID, ev.UserID != ""
	case "Provider_Guid":
		return ev.Provider.GUID, ev.Provider.GUID != ""
	}
	return "", false
}

// each calls fn on every value of the event, for keyword searches.
func (f fields) each(fn func(string) bool) bool {
	for _, d := range f.ev.Data {
		if fn(d.Value) {
			return true
		}
	}
	return false
}

// equalSansSpaces compares a with its spaces removed to b.
func equalSansSpaces(a, b string) bool {
	j := 0
	for i := 0; i < len(a); i++ {
		if a[i] == ' ' {
			continue
		}
		if j >= len(b) || a[i] != b[j] {
			return false
		}
		j++
	}
	return j == len(b)
}
