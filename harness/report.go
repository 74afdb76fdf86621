package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/telemetry"
)

// LedgerEntry is one request the mock recorded, with the test that made
// it and whether a replay made it in place of a missing tool.
type LedgerEntry struct {
	emulator.Entry
	Atomic    string `json:"atomic,omitempty"`
	Simulated bool   `json:"simulated,omitempty"`
}

// LedgerEntries is the run's ledger, each entry attributed to its test.
func (r *Run) LedgerEntries() []LedgerEntry {
	by := map[int64]*TestRun{}
	for i := range r.Tests {
		for _, e := range r.Tests[i].Ledger {
			by[e.Seq] = &r.Tests[i]
		}
	}
	out := make([]LedgerEntry, len(r.Ledger))
	for i, e := range r.Ledger {
		out[i] = LedgerEntry{Entry: e}
		if t := by[e.Seq]; t != nil {
			out[i].Atomic = t.Test.Name
			out[i].Simulated = t.Result.Execution == executor.Simulated
		}
	}
	return out
}

// Report is the report step: it writes into dir results.json, ledger.json,
// layer.json, the Windows events (events.xml with its provenance sidecar
// events.provenance.jsonl, events.jsonl), the network logs (proxy.jsonl,
// Squid's access.log, zeek/*.log), junit.xml, report.html, report.md, and
// the coverage matrix's coverage.html and coverage-layer.json.
func Report(dir string, r *Run, events []event.Event) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := reports.WriteJSON(dir, "results.json", r.Results); err != nil {
		return err
	}
	if err := reports.WriteJSON(dir, "ledger.json", map[string]any{"run_id": r.Results.RunID, "entries": r.LedgerEntries()}); err != nil {
		return err
	}
	if err := reports.WriteJSON(dir, "layer.json", reports.Layer(r.Results)); err != nil {
		return err
	}
	if err := reports.WriteJSON(dir, "coverage-layer.json", reports.CoverageLayer(r.Results.RunID, r.Results.Coverage)); err != nil {
		return err
	}
	var windows []event.Event
	for _, ev := range events {
		if !event.IsNetwork(ev.Channel) {
			windows = append(windows, ev)
		}
	}
	if err := telemetry.WriteZeekLogs(filepath.Join(dir, "zeek"), events); err != nil {
		return err
	}
	audit, err := telemetry.AuditEvents(r.Results.RunID, r.Ledger)
	if err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"events.ecs.jsonl":        func(w io.Writer) error { return WriteECS(w, append(slices.Clip(windows), audit...), nil) },
		"github-audit.jsonl":      func(w io.Writer) error { return writeAudit(w, r.Ledger) },
		"events.xml":              func(w io.Writer) error { return telemetry.WriteXML(w, windows) },
		"events.provenance.jsonl": func(w io.Writer) error { return telemetry.WriteProvenance(w, windows) },
		"events.jsonl":            func(w io.Writer) error { return telemetry.WriteJSONL(w, windows) },
		"proxy.jsonl":             func(w io.Writer) error { return telemetry.WriteProxyJSONL(w, events) },
		"access.log":              func(w io.Writer) error { return telemetry.WriteSquidLog(w, events) },
		"junit.xml":               func(w io.Writer) error { return reports.WriteJUnit(w, r.Results) },
		"report.html":             func(w io.Writer) error { return reports.WriteHTML(w, r.Results, events) },
		"report.md":               func(w io.Writer) error { return reports.WriteMarkdown(w, r.Results) },
		"coverage.html":           func(w io.Writer) error { return reports.WriteCoverageHTML(w, r.Results.Coverage) },
	} {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// writeAudit writes GitHub's audit log as the mock recorded it, one event
// per line in GitHub's own shape (what audit-log streaming delivers).
func writeAudit(w io.Writer, entries []emulator.Entry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, en := range entries {
		for _, a := range en.Audit {
			if err := enc.Encode(a); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
		}
	}
	return nil
}
