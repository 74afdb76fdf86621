package telemetry

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/replay"
)

// GitHubAuditChannel is the channel of GitHub audit-log events (package
// replay reads them back).
const GitHubAuditChannel = replay.GitHubAuditChannel

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
			e, err := replay.AuditEvent(raw)
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
