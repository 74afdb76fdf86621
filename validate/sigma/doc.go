// Package sigma loads Sigma rules (specification v2: detection rules,
// rule collections, correlation rules and filters) and evaluates them on
// events (event.Event), one at a time, as a stream.
//
// # Evaluation
//
// The evaluator is this package's own. Rule files are read with
// gopkg.in/yaml.v3 (every YAML document, with line numbers) and
// conditions with a parser of the specification's grammar: sigma-go
// v0.6.6, which this package used before, compares values literally
// (no wildcards or escapes), lacks most modifiers and rejects identifiers
// such as "sel_1*"; it remains a test dependency, the benchmarks'
// baseline.
//
// Each rule is compiled once: every value becomes a matcher (equality,
// prefix, suffix or substring test, case-folded without allocating for
// ASCII; validate/core's glob for other wildcards; a regular expression
// compiled at load only where escaped wildcards or windash need one),
// every condition a tree over search indexes.
// Supported: the modifiers contains, startswith, endswith, all, base64,
// base64offset, utf16le/utf16be/utf16/wide, windash, re with i/m/s, cidr,
// exists, expand (placeholders from Config.Placeholders), fieldref (with
// contains/startswith/endswith), gt/gte/lt/lte and cased; wildcards '*'
// and '?' with their escapes '\*', '\?' and '\\'; null (field absent or
// empty); lists; keyword searches (any value of the event, '|all' too);
// "1 of"/"all of" a pattern, an identifier or them (leaving out
// _-prefixed searches); a list of conditions (OR).
//
// What the evaluator cannot do is refused at load with file:line and the
// reason (an Unsupported): unknown modifiers or impossible chains,
// regular expressions RE2 does not accept, placeholders without values,
// v1 aggregations ("| count()", timeframe), undefined identifiers,
// patterns naming nothing, logsources the mapping does not know. A rule
// that loads can match. Limits: MaxRuleBytes per file, MaxConditionDepth,
// MaxValues per rule.
//
// Every verdict can be explained (Rule.Match): which searches matched,
// which field failed on which value; the fast path (Rule.Matches,
// Set.Match) reaches the same verdict through the same matchers, and the
// tests require the two to agree.
//
// # Logsources
//
// Which events a rule's logsource selects is data: logsources.yml
// (embedded; DefaultMapping, ParseMapping), following the Sigma
// project's mapping of its Windows log sources: categories to Sysmon
// event IDs 1-29 and 255 (registry_add and registry_delete by EventType
// too), PowerShell 4103/4104/400/600/800, Security 4688 for
// process_creation, Defender detections for antivirus; services to
// channels. A fieldmap gives Security 4688 the Sysmon 1 field names
// (Image <- NewProcessName, ProcessId <- NewProcessId in decimal, User <-
// SubjectDomainName\SubjectUserName, IntegrityLevel <- MandatoryLabel,
// ...). Mapping.Logsources tells a reader which logsources an event
// belongs to.
//
// Sources other than Windows logs carry their source in the event's
// Channel: "proxy", "webserver", "firewall", "dns", "github.audit",
// "bitbucket.audit", "zeek.<service>".
//
// A rule sees the event's own fields by name (Windows names with spaces,
// "Source Name", also without them), then the System fields: EventID,
// Channel, Provider_Name, Computer, Hostname (the event's own Hostname
// field wins over Computer), Level, Task, Opcode, Version, Keywords,
// EventRecordID, Execution_ProcessID, Execution_ThreadID,
// Security_UserID.
//
// # Streams and correlations
//
// Compile gathers rules and correlations into a Set; Set.Match runs the
// rules on one event (each Hit names the event: RecordID, time, host,
// provenance, and in an Engine its position in the stream, Seq); an Engine
// (Set.NewEngine) takes events in time order with Add, feeds the matches
// to the correlations (event_count, value_count, temporal,
// temporal_ordered; group-by with aliases; timespan; chains of
// correlations) and returns each CorrelationHit with its group, window
// and the events it rests on; Flush ends the stream. A window whose
// condition has only lower bounds (gt, gte) slides and fires as soon as
// it holds; one with an upper bound (lt, lte, eq) is judged when it
// closes. Rules a correlation names report their own matches only with
// generate: true.
//
// A filter (a document with filter: rules, selections and a condition)
// suppresses the matches of the rules it names where its condition
// holds; Compile applies it to copies of those rules, whose explanations
// show the filter's searches and say which filter suppressed a match.
package sigma
