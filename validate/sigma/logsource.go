package sigma

import (
	"github.com/t1567001/harness/event"
	"strconv"
	"strings"
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

// kind is one kind of rendered event.
type kind uint8

const (
	kindNone kind = iota
	kindSysmonProcess
	kindSysmonNetwork
	kindSysmonFile
	kindSysmonDNS
	kindSecurityProcess
	kindPowerShellScript
	kindSecurityObjectAccess
	kindProxy
	kindZeekConn
	kindZeekDNS
	kindZeekHTTP
	kindZeekSSL
)

var kindNames = [...]string{
	kindNone:                 "unrendered event",
	kindSysmonProcess:        "Sysmon 1",
	kindSysmonNetwork:        "Sysmon 3",
	kindSysmonFile:           "Sysmon 11",
	kindSysmonDNS:            "Sysmon 22",
	kindSecurityProcess:      "Security 4688",
	kindPowerShellScript:     "PowerShell 4104",
	kindSecurityObjectAccess: "Security 4663",
	kindProxy:                "proxy log",
	kindZeekConn:             "Zeek conn.log",
	kindZeekDNS:              "Zeek dns.log",
	kindZeekHTTP:             "Zeek http.log",
	kindZeekSSL:              "Zeek ssl.log",
}

func (k kind) String() string { return kindNames[k] }

// kinds is a set of event kinds.
type kinds uint16

func kindsOf(ks ...kind) kinds {
	var s kinds
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s kinds) has(k kind) bool { return k != kindNone && s&(1<<k) != 0 }

func (s kinds) String() string {
	var names []string
	for k := kindSysmonProcess; k <= kindZeekSSL; k++ {
		if s.has(k) {
			names = append(names, k.String())
		}
	}
	return strings.Join(names, ", ")
}

var (
	sysmonKinds = kindsOf(kindSysmonProcess, kindSysmonNetwork, kindSysmonFile, kindSysmonDNS)
	categories  = map[string]kinds{
		"process_creation":   kindsOf(kindSysmonProcess, kindSecurityProcess),
		"network_connection": kindsOf(kindSysmonNetwork),
		"file_event":         kindsOf(kindSysmonFile),
		"dns_query":          kindsOf(kindSysmonDNS),
		"ps_script":          kindsOf(kindPowerShellScript),
	}
	// Network log sources: Sigma's proxy category (no product) and Zeek's
	// logs as services of product zeek.
	zeekServices = map[string]kinds{
		"conn": kindsOf(kindZeekConn),
		"dns":  kindsOf(kindZeekDNS),
		"http": kindsOf(kindZeekHTTP),
		"ssl":  kindsOf(kindZeekSSL),
	}
	services = map[string]kinds{
		"sysmon":     sysmonKinds,
		"security":   kindsOf(kindSecurityProcess, kindSecurityObjectAccess),
		"powershell": kindsOf(kindPowerShellScript),
	}
	allKinds = sysmonKinds | kindsOf(kindSecurityProcess, kindSecurityObjectAccess, kindPowerShellScript)
)

// mapLogsource returns the event kinds a logsource covers, or why none.
func mapLogsource(l Logsource) (kinds, string) {
	cat, prod, svc := strings.ToLower(l.Category), strings.ToLower(l.Product), strings.ToLower(l.Service)
	if cat == "proxy" && prod == "" && svc == "" {
		return kindsOf(kindProxy), ""
	}
	if prod == "zeek" {
		ks, ok := zeekServices[svc]
		if !ok || cat != "" {
			return 0, "logsource " + l.String() + " not rendered by this harness (Zeek services: conn, dns, http, ssl)"
		}
		return ks, ""
	}
	if prod != "" && prod != "windows" {
		return 0, "logsource product " + l.Product + " not rendered by this harness"
	}
	set := allKinds
	if cat != "" {
		ks, ok := categories[cat]
		if !ok {
			if prod == "" {
				return 0, "logsource category " + l.Category + " not rendered by this harness"
			}
			return 0, "logsource product " + l.Product + " category " + l.Category + " not rendered by this harness"
		}
		set = ks
	}
	if svc != "" {
		ks, ok := services[svc]
		if !ok {
			return 0, "logsource product windows service " + l.Service + " not rendered by this harness"
		}
		set &= ks
		if set == 0 {
			return 0, "logsource " + l.String() + " is inconsistent: service " + l.Service + " does not log " + l.Category + " events"
		}
	}
	if cat == "" && svc == "" && prod == "" {
		return 0, "logsource is empty"
	}
	return set, ""
}

// kindOf classifies an event by provider (falling back to channel) and id.
func kindOf(ev *event.Event) kind {
	p := ev.Provider.Name
	switch {
	case p == event.Sysmon.Name || p == "" && ev.Channel == event.SysmonChannel:
		switch ev.EventID {
		case 1:
			return kindSysmonProcess
		case 3:
			return kindSysmonNetwork
		case 11:
			return kindSysmonFile
		case 22:
			return kindSysmonDNS
		}
	case p == event.Security.Name || p == "" && ev.Channel == event.SecurityChannel:
		switch ev.EventID {
		case 4688:
			return kindSecurityProcess
		case 4663:
			return kindSecurityObjectAccess
		}
	case p == event.PowerShell.Name || p == "" && ev.Channel == event.PowerShellChannel:
		if ev.EventID == 4104 {
			return kindPowerShellScript
		}
	case ev.Channel == event.ProxyChannel:
		return kindProxy
	}
	switch event.ZeekLog(ev.Channel) {
	case "conn":
		return kindZeekConn
	case "dns":
		return kindZeekDNS
	case "http":
		return kindZeekHTTP
	case "ssl":
		return kindZeekSSL
	}
	return kindNone
}

// describeEvent names an event for explanations: "Sysmon 3 on WS-FIN-0142".
func describeEvent(ev *event.Event, k kind) string {
	s := k.String()
	if k == kindNone {
		s = ev.Provider.Name + " " + strconv.Itoa(ev.EventID)
	}
	if ev.Computer != "" {
		s += " on " + ev.Computer
	}
	return s
}

// sysmonOnly are process_creation fields Sysmon 1 has and 4688 lacks.
var sysmonOnly = map[string]bool{
	"ParentCommandLine": true, "OriginalFileName": true, "Description": true,
	"Product": true, "Company": true, "FileVersion": true, "Hashes": true,
	"CurrentDirectory": true, "ParentUser": true, "ProcessGuid": true,
	"ParentProcessGuid": true, "LogonGuid": true, "TerminalSessionId": true,
}

// fields is an event as rules see it (see the package doc for the 4688
// mapping), looked up without building a map.
type fields struct {
	ev *event.Event
	k  kind
}

func (f fields) get(name string) (string, bool) {
	ev := f.ev
	switch name {
	case "Computer", "Hostname":
		return ev.Computer, true
	case "EventID":
		return strconv.Itoa(ev.EventID), true
	case "Channel":
		return ev.Channel, true
	case "Provider_Name":
		return ev.Provider.Name, true
	}
	if f.k == kindSecurityProcess {
		switch name {
		case "Image":
			return ev.Get("NewProcessName")
		case "ParentImage":
			return ev.Get("ParentProcessName")
		case "ProcessId":
			v, ok := ev.Get("NewProcessId")
			return decimalPID(v), ok
		case "ParentProcessId":
			v, ok := ev.Get("ProcessId")
			return decimalPID(v), ok
		case "LogonId":
			return ev.Get("SubjectLogonId")
		case "User":
			name, ok := ev.Get("SubjectUserName")
			if dom, _ := ev.Get("SubjectDomainName"); ok && dom != "" && dom != "-" {
				name = dom + `\` + name
			}
			return name, ok
		case "IntegrityLevel":
			v, _ := ev.Get("MandatoryLabel")
			lvl, ok := integrityLevels[strings.ToUpper(v)]
			return lvl, ok
		}
	}
	return ev.Get(name)
}

var integrityLevels = map[string]string{
	"S-1-16-0":     "Untrusted",
	"S-1-16-4096":  "Low",
	"S-1-16-8192":  "Medium",
	"S-1-16-8448":  "MediumPlus",
	"S-1-16-12288": "High",
	"S-1-16-16384": "System",
	"S-1-16-20480": "Protected",
}

// decimalPID turns 4688's "0x1a2c" into Sysmon's "6700"; other text is
// kept as is.
func decimalPID(s string) string {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if n, err := strconv.ParseUint(h, 16, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
	}
	return s
}
