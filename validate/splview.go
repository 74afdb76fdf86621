package validate

import (
	"strconv"
	"strings"

	"github.com/t1567001/harness/event"
)

// splView presents an event to the SPL engine as SPLEvent does, without
// building a map: each field is computed when the query asks for it (the
// engine asks once per field and event). One view is reused across the
// events of a stream.
type splView struct {
	ev   *event.Event
	opts *Options
	// The sourcetype of the last channel seen: events of one channel
	// come in runs.
	channel, sourcetype string
}

// systemFields are the names SPLEvent sets over EventData, in its order
// of precedence (later wins).
var systemFields = [...]string{"EventCode", "EventID", "host", "Computer", "Channel", "source", "_time", "index", "sourcetype"}

func (v *splView) Field(name string) (string, bool) {
	if index, sourcetype, ok := event.SplunkSource(v.ev.Channel); ok {
		// A network log line: its own index and sourcetype, no event code.
		switch name {
		case "EventCode", "EventID":
			return "", false
		case "source":
			return v.ev.Channel, true
		case "index":
			return index, true
		case "sourcetype":
			return sourcetype, true
		}
	}
	switch name {
	case "EventCode", "EventID":
		return strconv.Itoa(v.ev.EventID), true
	case "host", "Computer":
		return v.ev.Computer, true
	case "Channel":
		return v.ev.Channel, true
	case "source":
		return "XmlWinEventLog:" + v.ev.Channel, true
	case "_time":
		return event.FormatEpoch(v.ev.TimeCreated), true
	case "index":
		return v.opts.Index, true
	case "sourcetype":
		if v.sourcetype == "" || v.channel != v.ev.Channel {
			v.channel = v.ev.Channel
			v.sourcetype = strings.ReplaceAll(v.opts.Sourcetype, "{channel}", v.ev.Channel)
		}
		return v.sourcetype, true
	}
	return lastData(v.ev, name)
}

// lastData is the value of the last EventData item called name: as in
// Event.Fields' map, a repeated name takes its last value.
func lastData(ev *event.Event, name string) (string, bool) {
	for i := len(ev.Data) - 1; i >= 0; i-- {
		if ev.Data[i].Name == name {
			return ev.Data[i].Value, true
		}
	}
	return "", false
}

func (v *splView) Each(f func(name, value string) bool) {
	for i, d := range v.ev.Data {
		if isSystemField(d.Name) || repeatedLater(v.ev.Data[i+1:], d.Name) {
			continue
		}
		if !f(d.Name, d.Value) {
			return
		}
	}
	for _, n := range systemFields {
		val, ok := v.Field(n)
		if !ok {
			continue
		}
		if !f(n, val) {
			return
		}
	}
}

func repeatedLater(rest []event.Field, name string) bool {
	for _, d := range rest {
		if d.Name == name {
			return true
		}
	}
	return false
}

func isSystemField(name string) bool {
	for _, n := range systemFields {
		if n == name {
			return true
		}
	}
	return false
}
