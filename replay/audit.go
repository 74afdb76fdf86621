package replay

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/t1567001/harness/event"
)

// GitHubAuditChannel is the channel of GitHub audit-log events; Sigma's
// `product: github, service: audit` rules and Elastic's github.audit rules
// read them.
const GitHubAuditChannel = "github.audit"

// GitHubAudit is the provider of audit-log events.
var GitHubAudit = event.Provider{Name: "GitHub"}

// AuditEvent reads one audit-log event as GitHub writes it: its fields in
// GitHub's order first, then any others by name; strings as they are,
// numbers, Booleans, arrays and objects as JSON text.
func AuditEvent(raw []byte) (event.Event, error) {
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

// isAudit reports whether a parsed object is a GitHub audit-log event (it
// has action, actor and a created_at or @timestamp, and no EventID) rather
// than a Windows event.
func (t *jtree) isAudit(root int32) bool {
	return t.child(root, "action") >= 0 && t.child(root, "actor") >= 0 &&
		(t.child(root, "created_at") >= 0 || t.child(root, "@timestamp") >= 0) && t.child(root, keyEventID) < 0
}

var auditFieldOrder = []string{
	"@timestamp", "_document_id", "action", "actor", "actor_id", "actor_ip", "created_at", "org", "repo",
	"repository_public", "visibility", "previous_visibility", "operation_type", "transport_protocol_name",
	"transport_protocol", "user_agent", "hashed_token", "programmatic_access_type", "branch", "reasons", "overridden_codes",
	"pull_request_url",
}
