// Package telemetry turns what the sensor observed and what the emulator's
// ledger recorded into the Windows telemetry a defender would see: Sysmon
// Event ID 1, 3, 11 and 22, Security 4688 and PowerShell 4104, rendered
// under a host profile (host name, user, the Windows image of each Linux
// executable, the parent of the atomic's first process). Events are written
// as Windows Event XML, exactly as Sysmon and the Security log write it, and
// as JSON lines with the same field names; both read back for replay.
package telemetry

import "time"

// Provider identifies an event's source as Windows does.
type Provider struct {
	Name string
	GUID string
}

// The providers this package renders.
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
	// Simulated marks an event rendered from a test whose tool was stood
	// in for by a replay (JSON: harness_simulated), so that no simulation
	// passes for a real run where the format has room to say so.
	Simulated bool
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
	id := itoa(e.EventID)
	m["EventCode"] = id
	m["EventID"] = id
	m["host"] = e.Computer
	m["Computer"] = e.Computer
	m["Channel"] = e.Channel
	m["source"] = "XmlWinEventLog:" + e.Channel
	m["_time"] = formatEpoch(e.TimeCreated)
	return m
}
