// Package sigma loads Sigma rules and evaluates them on the harness's
// rendered Windows telemetry (event.Event).
//
// Rules are parsed with github.com/bradleyjkemp/sigma-go v0.6.6 (its YAML
// model and condition grammar) and every match is decided by its evaluator
// (evaluator.RuleEvaluator), so a rule means here what it means to sigma-go.
// sigma-go reports only a boolean per search; to say which field failed and
// on what value, this package also reads each search field by field with
// sigma-go's own comparators (evaluator/modifiers). That reading only
// explains: where it would not reach sigma-go's verdict the explanation says
// so (Explanation.Disagreement), and the tests require that it never does on
// the reference rules.
//
// # Logsource mapping
//
// A rule applies to an event when the event's kind is in the rule's
// logsource:
//
//	category            events                       service (optional)
//	process_creation    Sysmon 1, Security 4688      sysmon → Sysmon 1 only; security → 4688 only
//	network_connection  Sysmon 3                     sysmon
//	file_event          Sysmon 11                    sysmon
//	dns_query           Sysmon 22                    sysmon
//	ps_script           PowerShell 4104              powershell
//	(none)              service sysmon → Sysmon 1/3/11/22, security → 4688, powershell → 4104
//
// The product must be windows (or absent). Every other logsource is
// reported as Unsupported, naming it: product linux or macos ("logsource
// product linux not rendered by this harness"), application logs such as
// github or bitbucket audit, category proxy, webserver, dns, Windows
// services the harness does not render (dns-client, bits-client, ...) and
// categories such as create_stream_hash. A service inconsistent with the
// category (network_connection with service security) is unsupported too.
//
// # Event fields
//
// A rule sees the event's EventData by name, plus Computer and Hostname
// (both the event's Computer, for host-based conditions), EventID, Channel
// and Provider_Name. Security 4688 events are also given the Sysmon names
// Sigma's process_creation rules are written against:
//
//	Image            ← NewProcessName
//	ParentImage      ← ParentProcessName
//	CommandLine      ← CommandLine
//	User             ← SubjectDomainName\SubjectUserName
//	ProcessId        ← NewProcessId (hex converted to decimal, as Sysmon writes it)
//	ParentProcessId  ← ProcessId (4688's ProcessId is the creator's)
//	LogonId          ← SubjectLogonId
//	IntegrityLevel   ← MandatoryLabel (S-1-16-8192 → Medium, ...)
//
// 4688 has no ParentCommandLine, OriginalFileName, Hashes, Product and the
// other Sysmon-only fields, so a search on them cannot match a 4688 event;
// the explanation of a failed match says so.
//
// # Matching semantics
//
// As in sigma-go: string comparisons are case-insensitive, re is Go RE2 and
// case-sensitive (use (?i)), a search is an OR of its maps, a map an AND of
// its fields, a field an OR of its values (AND with |all). A field the event
// does not have is left out of the event sigma-go sees; the explanation says
// why it is absent (for example: Sysmon 3 has no ParentImage).
//
// # Load-time checks
//
// sigma-go fails on several constructs only when an event is evaluated, or
// silently never matches. Load rejects them up front, as Unsupported with a
// reason: modifiers sigma-go v0.6.6 does not implement (it implements
// contains, startswith, endswith, re, cidr, gt, gte, lt, lte, base64 and
// a trailing all; not windash, base64offset, utf16le, wide, exists, cased,
// fieldref, expand, ...), a comparator modifier that is not last, keyword
// searches, null or non-scalar values, %placeholders%, regular expressions
// RE2 cannot compile, invalid CIDRs, aggregations (count() by ..., near),
// "1 of X"/"all of X" on a single identifier (sigma-go v0.6.6's evaluator
// panics on those), conditions naming undefined searches, and rule
// collections (several YAML documents, action: global), which sigma-go does
// not read: it silently takes the first document only.
package sigma
