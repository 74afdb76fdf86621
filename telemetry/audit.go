package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
)

// GitHubAuditChannel is the channel of GitHub audit-log events; Sigma's
// `product: github, service: audit` rules and Elastic's github.audit rules
// read them.
const GitHubAuditChannel = "github.audit"

// GitHubAudit is the provider of audit-log events.
var GitHubAudit = event.Provider{Name: "GitHub"}

// AuditEvents turns the audit-log events the mock recorded for entries
// into events whose fields are named as GitHub's audit log names them
// (action, actor, repo, visibility, ...; reasons as JSON). They are
// observed: the mock handled the request each one records.
func AuditEvents(runID string, entries []emulator.Entry) ([]event.Event, error) {
	var out []event.Event
	for _, en := range entries {
		for _, a := range en.Audit {
			raw, err := json.Marshal(a)
			if err != nil {
				return nil, fmt.Errorf("audit event: %w", err)
			}
			e, err := auditEvent(raw)
			if err != nil {
				return nil, err
			}
			e.RunID, e.Provenance = runID, event.Observed
			e.Observations = []string{"ledger:" + strconv.FormatInt(en.Seq, 10)}
			out = append(out, e)
		}
	}
	return out, nil
}

// auditEvent reads one audit-log event as GitHub writes it: its fields in
// GitHub's order first, then any others by name; strings as they are,
// numbers, Booleans, arrays and objects as JSON text.
func auditEvent(raw []byte) (event.Event, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return event.Event{}, fmt.Errorf("audit event: %w", err)
	}
	e := event.Event{Provider: GitHubAudit, Channel: GitHubAuditChannel, Computer: "github.com"}
	var ms int64
	for _, k := range []string{"created_at", "@timestamp"} {
		if json.Unmarshal(m[k], &ms) == nil && ms > 0 {
			e.TimeCreated = time.UnixMilli(ms).UTC()
			break
		}
	}
	add := func(k string) {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			s = string(m[k])
		}
		e.Data = append(e.Data, event.Field{Name: k, Value: s})
		delete(m, k)
	}
	for _, k := range auditFieldOrder {
		if _, ok := m[k]; ok {
			add(k)
		}
	}
	rest := make([]string, 0, len(m))
	for k := range m {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k)
	}
	return e, nil
}

// IsGitHubAudit reports whether a JSON object is a GitHub audit-log event
// (it has action, actor and a created_at or @timestamp) rather than a
// rendered Windows event.
func IsGitHubAudit(line []byte) bool {
	var probe struct {
		Action    *string          `json:"action"`
		Actor     *string          `json:"actor"`
		CreatedAt *json.RawMessage `json:"created_at"`
		Timestamp *json.RawMessage `json:"@timestamp"`
		EventID   *json.RawMessage `json:"EventID"`
	}
	if json.Unmarshal(line, &probe) != nil {
		return false
	}
	return probe.Action != nil && probe.Actor != nil && (probe.CreatedAt != nil || probe.Timestamp != nil) && probe.EventID == nil
}

// ReadGitHubAudit reads a GitHub audit log as JSON lines (audit-log
// streaming, the REST API's events one per line, or github-audit.jsonl);
// its events are recorded: the harness cannot judge their origin.
func ReadGitHubAudit(r io.Reader) ([]event.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var out []event.Event
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !IsGitHubAudit(line) {
			return nil, fmt.Errorf("line %d: not a GitHub audit-log event (needs action, actor and created_at or @timestamp)", n)
		}
		e, err := auditEvent(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

var auditFieldOrder = []string{
	"@timestamp", "_document_id", "action", "actor", "actor_id", "actor_ip", "created_at", "org", "repo",
	"repository_public", "visibility", "previous_visibility", "operation_type", "transport_protocol_name",
	"transport_protocol", "user_agent", "hashed_token", "programmatic_access_type", "branch", "reasons", "overridden_codes",
	"pull_request_url",
}
