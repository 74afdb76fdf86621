package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/t1567001/harness/event"
)

// jtree is a parsed object with the string its ranges point into.
type jtree struct {
	nodes []jnode
	s     string
	base  int    // buffer index of s[0]
	arena string // decoded strings
}

func (t *jtree) text(v xtext) string {
	if v.arena {
		return t.arena[v.off:v.end]
	}
	if v.dec {
		return v.s
	}
	return t.s[v.off-t.base : v.end-t.base]
}

// scalar is a value as a field holds it: a string's content, any other
// value's JSON text, null as "".
func (t *jtree) scalar(i int32) string {
	n := &t.nodes[i]
	if n.kind == jNull {
		return ""
	}
	if n.kind == jObject {
		return t.objectText(i)
	}
	return t.text(n.val)
}

// objectText re-renders an object compactly (a flat record's nested
// value is kept as JSON text).
func (t *jtree) objectText(i int32) string {
	var b strings.Builder
	b.WriteByte('{')
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if c != t.nodes[i].first {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(t.text(t.nodes[c].key)))
		b.WriteByte(':')
		switch t.nodes[c].kind {
		case jString:
			b.WriteString(strconv.Quote(t.text(t.nodes[c].val)))
		case jNull:
			b.WriteString("null")
		case jObject:
			b.WriteString(t.objectText(c))
		default:
			b.WriteString(t.text(t.nodes[c].val))
		}
	}
	b.WriteByte('}')
	return b.String()
}

// strings reads an array of strings (or null).
func (t *jtree) strings(i int32) ([]string, error) {
	if t.nodes[i].kind == jNull {
		return nil, nil
	}
	if t.nodes[i].kind != jArray {
		return nil, errors.New("want an array of strings")
	}
	var out []string
	if err := json.Unmarshal([]byte(t.text(t.nodes[i].val)), &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (t *jtree) child(i int32, key string) int32 {
	if i < 0 || t.nodes[i].kind != jObject {
		return -1
	}
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if t.text(t.nodes[c].key) == key {
			return c
		}
	}
	return -1
}

// path follows keys from i; -1 if any is missing.
func (t *jtree) path(i int32, keys ...string) int32 {
	for _, k := range keys {
		if i = t.child(i, k); i < 0 {
			return -1
		}
	}
	return i
}

func (t *jtree) get(i int32, keys ...string) (string, bool) {
	n := t.path(i, keys...)
	if n < 0 {
		return "", false
	}
	return t.scalar(n), true
}

func (d *jsonDecoder) toEvent(s, arena string, base int, root int32) (event.Event, error) {
	t := &jtree{nodes: d.nodes, s: s, base: base, arena: arena}
	// A GitHub audit log is one from its first object on.
	if d.objects == 1 {
		d.audit = t.isAudit(root)
	}
	if d.audit {
		if !t.isAudit(root) {
			return event.Event{}, errors.New("not a GitHub audit-log event (needs action, actor and created_at or @timestamp)")
		}
		return AuditEvent([]byte(s))
	}
	if ev := t.child(root, "Event"); ev >= 0 && t.nodes[ev].kind == jObject && t.child(ev, "System") >= 0 {
		return t.evtxDump(ev)
	}
	if wl := t.child(root, "winlog"); wl >= 0 && t.nodes[wl].kind == jObject {
		return t.winlogbeat(root, wl)
	}
	if ed := t.child(root, "event_data"); ed >= 0 && t.nodes[ed].kind == jObject && t.child(root, "event_id") >= 0 {
		return t.winlogbeat(root, root) // Winlogbeat 6: winlog's keys at the top
	}
	return t.flat(root)
}

// The flat shape's System keys (this package's JSON lines, with OTRF's
// names as aliases).
const (
	keyRunID        = "harness_run_id"
	keySimulated    = "harness_simulated"
	keyContext      = "harness_context"
	keyProvenance   = "harness_provenance"
	keyObservations = "harness_observations"
	keyModelled     = "harness_modelled_fields"
	keyEventID      = "EventID"
	keyProvider     = "Provider"
	keyProviderGUID = "ProviderGuid"
	keyVersion      = "Version"
	keyLevel        = "Level"
	keyTask         = "Task"
	keyOpcode       = "Opcode"
	keyKeywords     = "Keywords"
	keyTimeCreated  = "TimeCreated"
	keyRecordID     = "EventRecordID"
	keyExecPID      = "ExecutionProcessID"
	keyExecTID      = "ExecutionThreadID"
	keyChannel      = "Channel"
	keyComputer     = "Computer"
	keyUserID       = "UserID"
)

func (t *jtree) flat(root int32) (event.Event, error) {
	var e event.Event
	var f flatBuilder
	n := 0
	for c := t.nodes[root].first; c >= 0; c = t.nodes[c].next {
		n++
	}
	e.Data = make([]event.Field, 0, n)
	for c := t.nodes[root].first; c >= 0; c = t.nodes[c].next {
		k := t.text(t.nodes[c].key)
		if isListKey(k) {
			vs, err := t.strings(c)
			if err != nil {
				return e, fmt.Errorf("key %q: %w", k, err)
			}
			setList(&e, k, vs)
			continue
		}
		if err := f.member(&e, k, t.scalar(c)); err != nil {
			return e, err
		}
	}
	err := f.finish(&e)
	return e, err
}

// flatBuilder maps a flat object's members, in order, to an event: the
// tree decoder and the flat-line scanner share it, so that they cannot
// disagree on what a member means. The event is passed to each call, not
// held: a struct holding it and the strings stored into it would move it
// to the heap.
type flatBuilder struct {
	hostname, stamp, source string
	haveTime                bool
}

// isListKey says whether k holds an array of strings (the harness's lists).
func isListKey(k string) bool { return k == keyObservations || k == keyModelled }

// setList sets the list k of e.
func setList(e *event.Event, k string, vs []string) {
	if k == keyObservations {
		e.Observations = vs
	} else {
		e.ModelledFields = vs
	}
}

// flatRole is what a flat member's name means: a System value, an OTRF
// name standing in for one (kept as a field too), or a field.
type flatRole uint8

const (
	roleField flatRole = iota
	roleRunID
	roleSimulated
	roleContext
	roleProvenance
	roleEventID
	roleProvider
	roleProviderGUID
	// Version, Level, Task, Opcode: a name (OTRF's "Opcode":"Info") is
	// a field.
	roleVersion
	roleLevel
	roleTask
	roleOpcode
	roleKeywords
	roleTimeCreated
	roleRecordID
	roleExecPID
	roleExecTID
	roleChannel
	roleComputer
	roleUserID
	roleHostname
	roleStamp
	roleSource
)

func roleOf(k string) flatRole {
	switch k {
	case keyRunID:
		return roleRunID
	case keySimulated:
		return roleSimulated
	case keyContext:
		return roleContext
	case keyProvenance:
		return roleProvenance
	case keyEventID:
		return roleEventID
	case keyProvider:
		return roleProvider
	case keyProviderGUID:
		return roleProviderGUID
	case keyVersion:
		return roleVersion
	case keyLevel:
		return roleLevel
	case keyTask:
		return roleTask
	case keyOpcode:
		return roleOpcode
	case keyKeywords:
		return roleKeywords
	case keyTimeCreated:
		return roleTimeCreated
	case keyRecordID:
		return roleRecordID
	case keyExecPID:
		return roleExecPID
	case keyExecTID:
		return roleExecTID
	case keyChannel:
		return roleChannel
	case keyComputer:
		return roleComputer
	case keyUserID:
		return roleUserID
	case "Hostname":
		return roleHostname
	case "@timestamp":
		return roleStamp
	case "SourceName":
		return roleSource
	}
	return roleField
}

// member reads one scalar member: a string's content, a number's or a
// boolean's JSON text, null as "".
func (f *flatBuilder) member(e *event.Event, k, v string) error {
	return f.memberAs(e, roleOf(k), k, v)
}

// memberAs is member with k's role known (the scanner's names carry it).
func (f *flatBuilder) memberAs(e *event.Event, role flatRole, k, v string) error {
	var err error
	switch role {
	case roleRunID:
		e.RunID = v
	case roleSimulated: // the older mark of a simulated event
		var sim bool
		if sim, err = strconv.ParseBool(v); err == nil && sim {
			e.Provenance = event.Simulated
		}
	case roleContext:
		e.Context = v
	case roleProvenance:
		e.Provenance, err = event.ParseProvenance(v)
	case roleEventID:
		e.EventID, err = atoiField(v)
	case roleProvider:
		e.Provider.Name = v
	case roleProviderGUID:
		e.Provider.GUID = v
	case roleVersion, roleLevel, roleTask, roleOpcode:
		if !systemInt(e, role, v) {
			// OTRF writes names ("Opcode":"Info"): a field, as given.
			e.Data = append(e.Data, event.Field{Name: k, Value: v})
		}
	case roleKeywords:
		e.Keywords = v
	case roleTimeCreated:
		e.TimeCreated, err = parseSystemTime(v)
		f.haveTime = true
	case roleRecordID:
		if n, ok := digits(v); ok {
			e.RecordID = n
		} else if v != "" {
			if e.RecordID, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil {
				err = fmt.Errorf("invalid record ID %q", v)
			}
		}
	case roleExecPID:
		e.ExecutionPID, err = atoiField(v)
	case roleExecTID:
		e.ExecutionTID, err = atoiField(v)
	case roleChannel:
		e.Channel = v
	case roleComputer:
		e.Computer = v
	case roleUserID:
		e.UserID = v
	default:
		// OTRF names: kept as fields too, and standing in for the
		// System values when those are absent.
		switch role {
		case roleHostname:
			f.hostname = v
		case roleStamp:
			f.stamp = v
		case roleSource:
			f.source = v
		}
		e.Data = append(e.Data, event.Field{Name: k, Value: v})
	}
	if err != nil {
		return fmt.Errorf("key %q: %w", k, err)
	}
	return nil
}

func (f *flatBuilder) finish(e *event.Event) error {
	if e.Computer == "" {
		e.Computer = f.hostname
	}
	if e.Provider.Name == "" {
		e.Provider.Name = f.source
	}
	if !f.haveTime && f.stamp != "" {
		tm, err := parseSystemTime(f.stamp)
		if err != nil {
			return fmt.Errorf("key %q: %w", "@timestamp", err)
		}
		e.TimeCreated = tm
	}
	if len(e.Data) == 0 {
		e.Data = nil
	}
	if e.Channel == "" && e.EventID == 0 {
		// A line of the harness's proxy log or of a Zeek log.
		if err := event.RecognizeNetworkLog(e); err != nil {
			return err
		}
	}
	return nil
}

// systemInt sets a numeric System value; false when v is not a number.
func systemInt(e *event.Event, role flatRole, v string) bool {
	n, err := atoiField(v)
	if err != nil {
		return false
	}
	*intField(e, role) = n
	return true
}

// intField returns the System integer that role names (EventID, Version,
// Level, Task, Opcode, the execution PID and TID), or nil.
func intField(e *event.Event, role flatRole) *int {
	switch role {
	case roleEventID:
		return &e.EventID
	case roleVersion:
		return &e.Version
	case roleLevel:
		return &e.Level
	case roleTask:
		return &e.Task
	case roleOpcode:
		return &e.Opcode
	case roleExecPID:
		return &e.ExecutionPID
	case roleExecTID:
		return &e.ExecutionTID
	}
	return nil
}

func atoiField(v string) (int, error) {
	if n, ok := digits(v); ok {
		return int(n), nil
	}
	s := strings.TrimSpace(v)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid integer %s", v)
	}
	return n, nil
}

// digits reads v when it is 1 to 18 ASCII digits, which strconv reads the
// same (and which cannot overflow): most numbers, without strconv's
// generality.
func digits(v string) (uint64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	return n, true
}

// winlogbeat maps Winlogbeat's ECS document: winlog.* is the Windows
// event (event_data holds the EventData fields), every other leaf is a
// field under its dotted ECS name (host.name, process.executable, ...).
func (t *jtree) winlogbeat(root, wl int32) (event.Event, error) {
	var e event.Event
	str := func(keys ...string) string { v, _ := t.get(wl, keys...); return v }
	id, ok := t.get(wl, "event_id")
	if !ok {
		id, _ = t.get(root, "event", "code")
	}
	var err error
	if e.EventID, err = atoiField(id); err != nil {
		return e, fmt.Errorf("winlog.event_id: %w", err)
	}
	e.Channel = str("channel")
	if e.Channel == "" {
		e.Channel = str("log_name")
	}
	e.Provider = event.Provider{Name: str("provider_name"), GUID: str("provider_guid")}
	if e.Provider.Name == "" {
		e.Provider.Name = str("source_name")
	}
	e.Computer = str("computer_name")
	if e.Computer == "" {
		e.Computer, _ = t.get(root, "host", "name")
	}
	if r := str("record_id"); r != "" {
		if e.RecordID, err = strconv.ParseUint(strings.TrimSpace(r), 10, 64); err != nil {
			return e, fmt.Errorf("winlog.record_id: invalid number %q", r)
		}
	}
	e.Version, _ = atoiField(str("version"))
	e.ExecutionPID, _ = atoiField(str("process", "pid"))
	e.ExecutionTID, _ = atoiField(str("process", "thread", "id"))
	e.UserID = str("user", "identifier")
	if ts, ok := t.get(root, "@timestamp"); ok {
		if e.TimeCreated, err = parseSystemTime(ts); err != nil {
			return e, fmt.Errorf("@timestamp: %w", err)
		}
	}
	for _, sect := range []string{"event_data", "user_data"} {
		if ed := t.child(wl, sect); ed >= 0 && t.nodes[ed].kind == jObject {
			t.leaves(ed, "", false, &e.Data)
		}
	}
	// The rest of the document, by dotted name: winlog's own other keys
	// (winlog.opcode, winlog.task ...) and the ECS fields.
	for c := t.nodes[root].first; c >= 0; c = t.nodes[c].next {
		k := t.text(t.nodes[c].key)
		if c == wl || (wl == root && (k == "event_data" || k == "user_data")) {
			if c == wl {
				for w := t.nodes[wl].first; w >= 0; w = t.nodes[w].next {
					wk := t.text(t.nodes[w].key)
					if wk != "event_data" && wk != "user_data" {
						t.leavesOf(w, "winlog."+wk, &e.Data)
					}
				}
			}
			continue
		}
		t.leavesOf(c, k, &e.Data)
	}
	return e, nil
}

// leavesOf appends node c under name (dotted below it when an object).
func (t *jtree) leavesOf(c int32, name string, out *[]event.Field) {
	if t.nodes[c].kind == jObject {
		t.leaves(c, name+".", true, out)
		return
	}
	*out = append(*out, event.Field{Name: name, Value: t.scalar(c)})
}

// leaves appends the leaves of object i: named prefix+key when dotted,
// else by their own key (EventData's flat names). "#attributes" are
// skipped, "#text" is the element's value.
func (t *jtree) leaves(i int32, prefix string, dotted bool, out *[]event.Field) {
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		k := t.text(t.nodes[c].key)
		if k == "#attributes" {
			continue
		}
		name := k
		if dotted {
			name = prefix + k
		}
		if t.nodes[c].kind == jObject {
			if txt := t.child(c, "#text"); txt >= 0 {
				*out = append(*out, event.Field{Name: name, Value: t.scalar(txt)})
				continue
			}
			t.leaves(c, name+".", dotted, out)
			continue
		}
		*out = append(*out, event.Field{Name: name, Value: t.scalar(c)})
	}
}

// evtxDump maps evtx_dump's (and SigmaHQ's regression data's) rendering of
// an event: System with "#attributes", EventData by name.
func (t *jtree) evtxDump(ev int32) (event.Event, error) {
	var e event.Event
	sys := t.child(ev, "System")
	attr := func(elem, name string) string { v, _ := t.get(sys, elem, "#attributes", name); return v }
	num := func(elem string) (int, error) {
		n := t.child(sys, elem)
		if n < 0 {
			return 0, nil
		}
		if txt := t.child(n, "#text"); txt >= 0 {
			n = txt
		}
		v, err := atoiField(t.scalar(n))
		if err != nil {
			return 0, fmt.Errorf("field System.%s: %w", elem, err)
		}
		return v, nil
	}
	var errs []error
	set := func(dst *int, elem string) {
		v, err := num(elem)
		errs = append(errs, err)
		*dst = v
	}
	set(&e.EventID, "EventID")
	set(&e.Version, "Version")
	set(&e.Level, "Level")
	set(&e.Task, "Task")
	set(&e.Opcode, "Opcode")
	if err := errors.Join(errs...); err != nil {
		return e, err
	}
	e.Provider = event.Provider{Name: attr("Provider", "Name"), GUID: attr("Provider", "Guid")}
	if g := e.Provider.GUID; g != "" && g[0] != '{' {
		e.Provider.GUID = "{" + g + "}"
	}
	e.Keywords, _ = t.get(sys, "Keywords")
	e.Channel, _ = t.get(sys, "Channel")
	e.Computer, _ = t.get(sys, "Computer")
	e.UserID = attr("Security", "UserID")
	var err error
	if e.TimeCreated, err = parseSystemTime(attr("TimeCreated", "SystemTime")); err != nil {
		return e, err
	}
	if r, ok := t.get(sys, "EventRecordID"); ok && r != "" {
		if e.RecordID, err = strconv.ParseUint(r, 10, 64); err != nil {
			return e, fmt.Errorf("field System.EventRecordID: invalid number %q", r)
		}
	}
	if e.ExecutionPID, err = atoiField(attr("Execution", "ProcessID")); err != nil {
		return e, fmt.Errorf("field System.Execution.ProcessID: %w", err)
	}
	if e.ExecutionTID, err = atoiField(attr("Execution", "ThreadID")); err != nil {
		return e, fmt.Errorf("field System.Execution.ThreadID: %w", err)
	}
	if ed := t.child(ev, "EventData"); ed >= 0 {
		if t.nodes[ed].kind == jObject {
			t.leaves(ed, "", false, &e.Data)
		}
	}
	if ud := t.child(ev, "UserData"); ud >= 0 && t.nodes[ud].kind == jObject {
		t.userLeaves(ud, &e.Data)
	}
	return e, nil
}

// userLeaves flattens UserData by leaf name, as the XML reader does.
func (t *jtree) userLeaves(i int32, out *[]event.Field) {
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		k := t.text(t.nodes[c].key)
		if k == "#attributes" {
			continue
		}
		if t.nodes[c].kind == jObject && t.child(c, "#text") < 0 {
			t.userLeaves(c, out)
			continue
		}
		if t.nodes[c].kind == jObject {
			*out = append(*out, event.Field{Name: k, Value: t.scalar(t.child(c, "#text"))})
			continue
		}
		*out = append(*out, event.Field{Name: k, Value: t.scalar(c)})
	}
}
