package telemetry

import (
	"encoding/json"
	"fmt"
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
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("audit event: %w", err)
			}
			e := event.Event{
				Provider: GitHubAudit, Channel: GitHubAuditChannel, Computer: "github.com",
				TimeCreated: time.UnixMilli(a.CreatedAt).UTC(), RunID: runID, Provenance: event.Observed,
				Observations: []string{"ledger:" + strconv.FormatInt(en.Seq, 10)},
			}
			// GitHub's field order, as its REST API writes them.
			for _, k := range auditFieldOrder {
				v, ok := m[k]
				if !ok {
					continue
				}
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v) // numbers, Booleans, arrays stay JSON text
				}
				e.Data = append(e.Data, event.Field{Name: k, Value: s})
			}
			out = append(out, e)
		}
	}
	return out, nil
}

var auditFieldOrder = []string{
	"@timestamp", "_document_id", "action", "actor", "actor_id", "actor_ip", "created_at", "org", "repo",
	"repository_public", "visibility", "previous_visibility", "operation_type", "transport_protocol_name",
	"transport_protocol", "user_agent", "hashed_token", "programmatic_access_type", "branch", "reasons", "overridden_codes",
	"pull_request_url",
}
