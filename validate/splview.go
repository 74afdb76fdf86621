package validate

import (
	"strconv"
	"strings"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/spl"
)

// splView presents an event to the SPL engine as SPLEvent does, without
// building a map: each field is computed when the query asks for it (the
// engine asks once per field and event). One view is reused across the
// events of a stream.
type splView struct {
	ev   *event.Event
	opts *Options
	// What depends on the channel alone, for the last channel seen:
	// events of one channel come in runs.
	channel, source, sourcetype string
	netIndex, netType           string // a network log's index and sourcetype
	net, known                  bool
	// current: byChannel has run for ev (a query asks for several of
	// the fields it gives).
	current bool
	// Event codes rendered as text, each at its code modulo the size: a
	// stream interleaves a few codes (Sysmon 1, 3, 11, 22).
	codes [16]struct {
		id   int
		text string
	}
}

// systemFields are the names SPLEvent sets over EventData, in its order
// of precedence (later wins).
var systemFields = [...]string{"EventCode", "EventID", "host", "Computer", "Channel", "source", "_time", "index", "sourcetype"}

// reset points the view at the next event.
func (v *splView) reset(ev *event.Event) { v.ev, v.current = ev, false }

// byChannel brings the channel-derived values up to date.
func (v *splView) byChannel() {
	if v.current {
		return
	}
	v.current = true
	if v.known && v.channel == v.ev.Channel {
		return
	}
	v.channel, v.known = v.ev.Channel, true
	v.netIndex, v.netType, v.net = event.SplunkSource(v.channel)
	v.source = "XmlWinEventLog:" + v.channel
	v.sourcetype = strings.ReplaceAll(v.opts.Sourcetype, "{channel}", v.channel)
}

func (v *splView) Field(name string) (string, bool) {
	switch name {
	case "EventCode", "EventID":
		if v.byChannel(); v.net {
			break // a network log line has no event code but its own fields
		}
		id := v.ev.EventID
		c := &v.codes[uint(id)%uint(len(v.codes))]
		if c.text == "" || c.id != id {
			c.id, c.text = id, strconv.Itoa(id)
		}
		return c.text, true
	case "host":
		return v.ev.Computer, true
	case "Computer":
		if v.byChannel(); v.net {
			break // nor a Computer: its host is the sensor's
		}
		return v.ev.Computer, true
	case "Channel":
		return v.ev.Channel, true
	case "source":
		if v.byChannel(); v.net {
			return v.ev.Channel, true
		}
		return v.source, true
	case "_time":
		return event.FormatEpoch(v.ev.TimeCreated), true
	case "index":
		if v.byChannel(); v.net {
			return v.netIndex, true
		}
		return v.opts.Index, true
	case "sourcetype":
		if v.byChannel(); v.net {
			return v.netType, true
		}
		return v.sourcetype, true
	}
	return lastData(v.ev, name)
}

// Key classes an event by channel and event code, which decide the
// fields Constant names: a stream specialises its search, where and eval
// per key.
func (v *splView) Key() spl.Key { return spl.Key{Class: v.ev.Channel, Code: v.ev.EventID} }

// Constant says whether Field gives name the same value, or none, for
// every event of a Key.
func (v *splView) Constant(name string) bool {
	switch name {
	case "EventCode", "EventID", "Channel", "source", "index", "sourcetype":
		return true
	}
	return false
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
