package telemetry

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
)

func TestECSRendersSysmonDNSBothShapes(t *testing.T) {
	m, err := LoadECSMapping(nil)
	require.NoError(t, err)
	p := profile(t, "workstation")
	e := event.Event{
		Provider: event.Sysmon, EventID: 22, Channel: event.SysmonChannel, Computer: "WS-01.corp.local", UserID: "S-1-5-18",
		TimeCreated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Provenance: event.Observed, Observations: []string{"o1"}, Context: "workstation",
		Data: []event.Field{
			{Name: "RuleName", Value: "-"}, {Name: "ProcessId", Value: "5012"}, {Name: "QueryName", Value: "api.github.com"},
			{Name: "Image", Value: `C:\Windows\System32\curl.exe`}, {Name: "User", Value: `CORP\alice`},
		},
	}
	docs := m.Render(p, &e)
	require.Len(t, docs, 2)
	sysmon, defend := docs[0], docs[1]
	for _, d := range docs {
		assert.Equal(t, "api.github.com", d["dns.question.name"])
		assert.Equal(t, "curl.exe", d["process.name"])
		assert.Equal(t, int64(5012), d["process.pid"])
		assert.Equal(t, "windows", d["host.os.type"])
		assert.Equal(t, "alice", d["user.name"])
		assert.Equal(t, "CORP", d["user.domain"])
		assert.Equal(t, "observed", d["harness.provenance"])
		assert.Equal(t, []string{"o1"}, d["harness.observations"])
		assert.Equal(t, "2026-01-02T03:04:05Z", d["@timestamp"])
	}
	assert.Equal(t, "windows.sysmon_operational", sysmon["data_stream.dataset"])
	assert.Equal(t, "S-1-5-18", sysmon["user.id"], "Winlogbeat's Sysmon user.id is the Sysmon service's")
	assert.Equal(t, "DNSEvent (DNS query)", sysmon["event.action"])
	assert.NotContains(t, sysmon, "winlog.event_data.QueryName", "the pipeline renames what it maps")
	assert.NotContains(t, sysmon, "winlog.event_data.RuleName", `"-" is empty`)
	assert.NotContains(t, sysmon, "process.code_signature.subject_name", "Sysmon has no signer")
	assert.Equal(t, "endpoint.events.network", defend["data_stream.dataset"])
	assert.Equal(t, "Microsoft Windows", defend["process.code_signature.subject_name"])
	assert.Equal(t, true, defend["process.code_signature.trusted"])
	assert.Equal(t, p.User.SID, defend["user.id"])
}

func TestECSProcessAndScriptBlock(t *testing.T) {
	m, err := LoadECSMapping(nil)
	require.NoError(t, err)
	proc := event.Event{Provider: event.Sysmon, EventID: 1, Channel: event.SysmonChannel, Data: []event.Field{
		{Name: "Image", Value: `C:\Windows\System32\curl.exe`}, {Name: "CommandLine", Value: `curl.exe -X POST "https://api.github.com/gists"`},
		{Name: "ParentImage", Value: `C:\Windows\System32\cmd.exe`}, {Name: "Hashes", Value: "SHA256=AB,MD5=CD"},
	}}
	d := m.Render(nil, &proc)[0]
	assert.Equal(t, []string{"curl.exe", "-X", "POST", "https://api.github.com/gists"}, d["process.args"])
	assert.Equal(t, "cmd.exe", d["process.parent.name"])
	assert.Equal(t, "ab", d["process.hash.sha256"])
	assert.Equal(t, []any{"process"}, d["event.category"])
	assert.Equal(t, "Process creation", d["event.action"])
	assert.Equal(t, 4, d["process.args_count"])

	sb := event.Event{Provider: event.PowerShell, EventID: 4104, Channel: event.PowerShellChannel, Data: []event.Field{{Name: "ScriptBlockText", Value: "Invoke-ExfilDataToGitHub -x"}}}
	docs := m.Render(nil, &sb)
	require.Len(t, docs, 1)
	assert.Equal(t, "Invoke-ExfilDataToGitHub -x", docs[0]["powershell.file.script_block_text"])
	assert.Equal(t, "windows.powershell_operational", docs[0]["data_stream.dataset"])
}

func TestECSGitHubAudit(t *testing.T) {
	m, err := LoadECSMapping(nil)
	require.NoError(t, err)
	e := event.Event{Channel: "github.audit", Data: []event.Field{
		{Name: "action", Value: "protected_branch.policy_override"}, {Name: "actor", Value: "mallory"}, {Name: "org", Value: "acme"},
		{Name: "repo", Value: "acme/site"}, {Name: "repository_public", Value: "false"}, {Name: "actor_ip", Value: "10.0.0.5"},
		{Name: "reasons", Value: `[{"code":"force_push","message":"Cannot force-push to this branch"}]`},
	}}
	docs := m.Render(nil, &e)
	require.Len(t, docs, 1)
	d := docs[0]
	assert.Equal(t, "github.audit", d["data_stream.dataset"])
	assert.Equal(t, "protected_branch.policy_override", d["event.action"])
	assert.Equal(t, "protected_branch", d["github.category"])
	assert.Equal(t, []string{"change"}, d["event.type"])
	assert.Equal(t, "mallory", d["user.name"])
	assert.Equal(t, false, d["github.repository_public"])
	assert.Equal(t, []string{"force_push"}, d["github.reasons.code"])
	assert.Equal(t, "10.0.0.5", d["source.ip"])
	assert.NotContains(t, d, "host.os.type")
}

func TestWriteECSNests(t *testing.T) {
	m, err := LoadECSMapping(nil)
	require.NoError(t, err)
	e := event.Event{Channel: "github.audit", Data: []event.Field{{Name: "action", Value: "repo.access"}}}
	var b bytes.Buffer
	require.NoError(t, m.WriteECS(&b, []event.Event{e}, func(*event.Event) *Profile { return nil }))
	var got map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	assert.Equal(t, "repo.access", got["event"].(map[string]any)["action"])
	assert.Equal(t, 1, strings.Count(b.String(), "\n"))
}

func TestECSMappingRejectsUnknownTransform(t *testing.T) {
	_, err := LoadECSMapping([]byte("events:\n  - channel: x\n    docs:\n      - dataset: d\n        fields:\n          - {from: a, to: b, as: nope}\n"))
	assert.ErrorContains(t, err, `unknown transform "nope"`)
}

func TestReadEventsTakesAGitHubAuditLog(t *testing.T) {
	log := `{"@timestamp":1796183194902,"_document_id":"x1","action":"repo.access","actor":"mallory","actor_ip":"198.51.100.7","created_at":1796183194902,"org":"acme","repo":"acme/site","repository_public":true,"visibility":"public","previous_visibility":"private","operation_type":"modify","business":"acme-corp"}
{"@timestamp":1796183195000,"action":"git.clone","actor":"mallory","created_at":1796183195000,"repo":"acme/site","operation_type":"access"}
`
	events, err := ReadEvents("audit.jsonl", strings.NewReader(log))
	require.NoError(t, err)
	require.Len(t, events, 2)
	e := events[0]
	assert.Equal(t, GitHubAuditChannel, e.Channel)
	assert.Equal(t, event.Recorded, e.Origin(), "a file's events are recorded")
	assert.Equal(t, time.UnixMilli(1796183194902).UTC(), e.TimeCreated)
	v, _ := e.Get("visibility")
	assert.Equal(t, "public", v)
	v, _ = e.Get("repository_public")
	assert.Equal(t, "true", v)
	v, _ = e.Get("business")
	assert.Equal(t, "acme-corp", v, "fields the harness does not know are kept")

	_, err = ReadEvents("audit.jsonl", strings.NewReader(log+`{"action":"x"}`+"\n"))
	assert.ErrorContains(t, err, "audit.jsonl:3: not a GitHub audit-log event")
}
