// Package event is the harness's event model: one Windows (or network, or
// service) event, its ordered fields, and what it rests on. It is a leaf:
// it imports nothing of this module, so the detection engines and the
// report writers can read events without pulling in the emulator, the
// sensor or TLS.
package event

import (
	"fmt"
	"strconv"
	"time"
)

// Provider identifies an event's source as Windows does.
type Provider struct {
	Name string
	GUID string
}

// The providers the harness renders.
var (
	Sysmon     = Provider{Name: "Microsoft-Windows-Sysmon", GUID: "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"}
	Security   = Provider{Name: "Microsoft-Windows-Security-Auditing", GUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}"}
	PowerShell = Provider{Name: "Microsoft-Windows-PowerShell", GUID: "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}"}
)

// Channels.
const (
	SysmonChannel     = "Microsoft-Windows-Sysmon/Operational"
	SecurityChannel   = "Security"
	PowerShellChannel = "Microsoft-Windows-PowerShell/Operational"
)

// Provenance says what an event rests on.
type Provenance string

const (
	// Observed: one action the sensor or the mock saw a real process do,
	// rendered through the host profile's path and name mapping.
	Observed Provenance = "observed"
	// Declared: content taken from the atomic's windows_executor text,
	// what its author says runs on Windows.
	Declared Provenance = "declared"
	// Modelled: a Windows behaviour the profile's data adds with no
	// observation behind it.
	Modelled Provenance = "modelled"
	// Simulated: from a replayed exchange standing in for a missing tool.
	Simulated Provenance = "simulated"
	// Recorded: read back from recorded telemetry whose origin the harness
	// cannot judge (replay of a user's file).
	Recorded Provenance = "recorded"
)

// ParseProvenance reads a provenance name; empty is no provenance.
func ParseProvenance(s string) (Provenance, error) {
	switch p := Provenance(s); p {
	case Observed, Declared, Modelled, Simulated, Recorded, "":
		return p, nil
	}
	return "", fmt.Errorf("provenance %q: want observed, declared, modelled, simulated or recorded", s)
}

// Event is one Windows event: the System block and the ordered EventData.
type Event struct {
	Provider Provider
	EventID  int
	Version  int
	Level    int
	Task     int
	Opcode   int
	Keywords string
	// TimeCreated is when the event was logged (UTC).
	TimeCreated time.Time
	RecordID    uint64
	// ExecutionPID and ExecutionTID are the logging process's (Sysmon's
	// service, or 4 for the Security log).
	ExecutionPID int
	ExecutionTID int
	Channel      string
	Computer     string
	// UserID is the System/Security UserID; empty renders <Security/>.
	UserID string
	// Data is EventData in schema order.
	Data []Field
	// RunID ties the event to a harness run; the JSON form carries it as
	// harness_run_id, the XML form keeps exactly the shape of real events.
	RunID string
	// Provenance is what the event as a whole rests on; empty means
	// Recorded (read from a file of unknown origin). Simulated marks an
	// event of a test whose tool was stood in for by a replay, so that no
	// simulation passes for a real run.
	Provenance Provenance
	// Observations are the ids of the observations the event came from.
	Observations []string
	// ModelledFields names the fields inside an observed event whose
	// values are modelled rather than observed (a PID, a GUID, Hashes).
	ModelledFields []string
	// Context is the host context the event was rendered under
	// (harness_context in JSON); empty for recorded events.
	Context string
}

// Field is one EventData item.
type Field struct {
	Name  string
	Value string
}

// Get returns the value of the EventData field name.
func (e *Event) Get(name string) (string, bool) {
	for _, f := range e.Data {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Fields returns the event as Splunk's XmlWinEventLog extraction sees it:
// every EventData name, plus EventCode, EventID, host, Computer, Channel,
// source and TimeCreated-derived _time (epoch seconds).
func (e *Event) Fields() map[string]string {
	m := make(map[string]string, len(e.Data)+8)
	for _, f := range e.Data {
		m[f.Name] = f.Value
	}
	m["_time"] = FormatEpoch(e.TimeCreated)
	m["Channel"] = e.Channel
	if IsNetwork(e.Channel) {
		// A network log line has no event code; its host is the sensor's.
		m["source"] = e.Channel
		m["host"] = e.Computer
		return m
	}
	id := strconv.Itoa(e.EventID)
	m["EventCode"] = id
	m["EventID"] = id
	m["host"] = e.Computer
	m["Computer"] = e.Computer
	m["source"] = "XmlWinEventLog:" + e.Channel
	return m
}

// Origin is the event's provenance, Recorded where none was set.
func (e *Event) Origin() Provenance {
	if e.Provenance == "" {
		return Recorded
	}
	return e.Provenance
}

// FormatEpoch is Splunk's _time: seconds since the epoch with milliseconds.
// Integer digits, not a float's: a query reads _time for every event it
// keeps.
func FormatEpoch(t time.Time) string {
	ms := t.UnixMilli()
	var buf [24]byte
	b := buf[:0]
	if ms < 0 {
		b = append(b, '-')
	}
	sec, frac := ms/1000, ms%1000
	if ms < 0 {
		sec, frac = -sec, -frac
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return string(b)
}
