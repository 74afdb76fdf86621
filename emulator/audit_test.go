package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fields of GitHub's documented audit-log event that every event the
// mock writes carries (docs.github.com, "Audit log events for your
// organization" and the REST endpoint GET /orgs/{org}/audit-log).
var auditRequired = []string{"@timestamp", "_document_id", "action", "actor", "actor_ip", "created_at", "operation_type"}

// auditTypes are the documented audit-log keys the mock writes and the
// JSON type of each (GitHub's "Audit log events" reference and the
// audit-log REST API's schema).
var auditTypes = map[string]string{
	"@timestamp": "number", "_document_id": "string", "action": "string", "actor": "string", "actor_id": "number",
	"actor_ip": "string", "created_at": "number", "org": "string", "repo": "string", "repository_public": "bool",
	"visibility": "string", "previous_visibility": "string", "operation_type": "string",
	"transport_protocol_name": "string", "transport_protocol": "number", "user_agent": "string",
	"hashed_token": "string", "programmatic_access_type": "string", "branch": "string", "reasons": "array",
	"overridden_codes": "array", "pull_request_url": "string",
}

func jsonType(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	}
	return "other"
}

func auditDoc(t *testing.T, ev AuditEvent) map[string]any {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range auditRequired {
		assert.Contains(t, m, k, "%s lacks %s", ev.Action, k)
	}
	for k, v := range m {
		want, ok := auditTypes[k]
		if assert.True(t, ok, "%s: %s is not a documented audit-log key", ev.Action, k) {
			assert.Equal(t, want, jsonType(v), "%s: %s", ev.Action, k)
		}
	}
	assert.Equal(t, m["@timestamp"], m["created_at"])
	if v, ok := m["visibility"]; ok {
		assert.Contains(t, []any{"public", "private", "internal"}, v)
	}
	if v, ok := m["hashed_token"].(string); ok {
		raw, err := base64.StdEncoding.DecodeString(v)
		assert.NoError(t, err)
		assert.Len(t, raw, 32, "base64 of the token's SHA-256")
	}
	if v, ok := m["programmatic_access_type"]; ok {
		assert.Contains(t, []any{"Personal access token (classic)", "Fine-grained personal access token", "OAuth access token", "GitHub App server-to-server token"}, v)
	}
	assert.Regexp(t, `^[a-z_]+\.[a-z_]+$`, m["action"])
	assert.Contains(t, []any{"access", "create", "modify", "remove", "transfer", "authentication"}, m["operation_type"])
	if strings.HasPrefix(ev.Action, "git.") {
		assert.Equal(t, "http", m["transport_protocol_name"])
		assert.Contains(t, m, "repository_public")
		assert.Contains(t, m, "repo")
	}
	return m
}

func apiCall(t *testing.T, e *Emulator, method, path, body, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "https://api.github.com"+path, strings.NewReader(body))
	req.RemoteAddr = "198.51.100.7:40000"
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	w := httptest.NewRecorder()
	e.Handler().ServeHTTP(w, req)
	return w
}

func TestAuditRepoMadePublic(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 201, apiCall(t, e, "POST", "/user/repos", `{"name":"loot","private":true}`, "ghp_FAKE").Code)
	w := apiCall(t, e, "PATCH", "/repos/exfil-operator/loot", `{"private": false}`, "ghp_FAKE")
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"visibility": "public"`)
	assert.Equal(t, 404, apiCall(t, e, "PATCH", "/repos/exfil-operator/nope", `{"private": false}`, "ghp_FAKE").Code)
	assert.Equal(t, 401, apiCall(t, e, "PATCH", "/repos/exfil-operator/loot", `{"private": false}`, "").Code)

	log := e.AuditLog()
	require.Len(t, log, 2)
	created, access := auditDoc(t, log[0]), auditDoc(t, log[1])
	assert.Equal(t, "repo.create", created["action"])
	assert.Equal(t, "private", created["visibility"])
	assert.Equal(t, "repo.access", access["action"])
	assert.Equal(t, "public", access["visibility"])
	assert.Equal(t, "private", access["previous_visibility"])
	assert.Equal(t, "modify", access["operation_type"])
	assert.Equal(t, true, access["repository_public"])
	assert.Equal(t, "198.51.100.7", access["actor_ip"])
	assert.Equal(t, "Personal access token (classic)", access["programmatic_access_type"])

	// Served as GitHub serves it: web events by default, newest first.
	w = apiCall(t, e, "GET", "/orgs/exfil-operator/audit-log?phrase=action:repo.access", "", "ghp_FAKE")
	require.Equal(t, 200, w.Code)
	var served []map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &served))
	require.Len(t, served, 1)
	assert.Equal(t, "repo.access", served[0]["action"])
	entries := e.Ledger().Entries()
	require.Len(t, entries[1].Audit, 1, "the ledger entry carries the audit events its request caused")
}

func TestAuditGitCloneAndProtectedForcePush(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	p := startProxy(t)
	work := t.TempDir()
	remote := "https://x-access-token:github_pat_FAKE@github.com/exfil-operator/site.git"
	git := func(args ...string) (string, error) {
		return p.run(t, work, "git", append([]string{"-c", "user.name=x", "-c", "user.email=x@example.invalid"}, args...)...)
	}
	out, err := p.run(t, work, "curl", "-sS", "--fail-with-body", "-H", "Authorization: token github_pat_FAKE",
		"--data", `{"name":"site","private":true}`, "https://api.github.com/user/repos")
	require.NoError(t, err, out)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"commit", "-q", "--allow-empty", "-m", "one"}, {"push", "-q", remote, "main"}} {
		out, err := git(args...)
		require.NoError(t, err, "%v: %s", args, out)
	}
	curl := func(body string) {
		out, err := p.run(t, work, "curl", "-sS", "--fail-with-body", "-X", "PUT", "-H", "Authorization: token github_pat_FAKE",
			"--data", body, "https://api.github.com/repos/exfil-operator/site/branches/main/protection")
		require.NoError(t, err, out)
	}
	// Administrators enforced: the repository refuses the forced update.
	curl(`{"enforce_admins": true, "allow_force_pushes": false, "required_status_checks": null, "restrictions": null}`)
	out, err = git("commit", "-q", "--amend", "--allow-empty", "-m", "two")
	require.NoError(t, err, out)
	out, err = git("push", "-q", "--force", remote, "main")
	require.Error(t, err, "a protected branch refuses a force push: %s", out)
	// Not enforced for administrators: the owner's force push goes through.
	curl(`{"enforce_admins": false, "allow_force_pushes": false, "required_status_checks": null, "restrictions": null}`)
	out, err = git("push", "-q", "--force", remote, "main")
	require.NoError(t, err, out)
	out, err = p.run(t, t.TempDir(), "git", "clone", "-q", remote, "back")
	require.NoError(t, err, out)

	var actions []string
	for _, ev := range p.e.AuditLog() {
		m := auditDoc(t, ev)
		actions = append(actions, ev.Action)
		assert.Equal(t, "exfil-operator/site", m["repo"])
		assert.Equal(t, false, m["repository_public"], ev.Action)
		assert.Equal(t, "Fine-grained personal access token", m["programmatic_access_type"], ev.Action)
		switch ev.Action {
		case "protected_branch.rejected_ref_update", "protected_branch.policy_override":
			assert.Equal(t, "main", m["branch"])
			assert.Equal(t, []any{map[string]any{"code": "force_push", "message": forcePushMessage}}, m["reasons"])
		}
	}
	// The first push's ref advertisement is a GET info/refs?service=git-receive-pack, not a clone.
	assert.Equal(t, []string{"repo.create", "git.push", "protected_branch.create", "protected_branch.rejected_ref_update",
		"protected_branch.create", "git.push", "protected_branch.policy_override", "git.clone"}, actions)
}

func TestAuditLogIncludeParameter(t *testing.T) {
	e := newTestEmulator(t, Config{})
	e.audit.add([]AuditEvent{{Action: "git.clone", Org: "o"}, {Action: "repo.create", Org: "o"}, {Action: "repo.create", Org: "other"}})
	count := func(q string) int {
		w := apiCall(t, e, "GET", "/orgs/o/audit-log"+q, "", "ghp_FAKE")
		require.Equal(t, http.StatusOK, w.Code)
		var got []AuditEvent
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		return len(got)
	}
	assert.Equal(t, 1, count(""), "web events by default")
	assert.Equal(t, 1, count("?include=git"))
	assert.Equal(t, 2, count("?include=all"))
	assert.Equal(t, 422, apiCall(t, e, "GET", "/orgs/o/audit-log?include=bogus", "", "ghp_FAKE").Code)
}

func TestAuditPullRequests(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 201, apiCall(t, e, "POST", "/user/repos", `{"name":"app"}`, "ghp_FAKE").Code)
	w := apiCall(t, e, "POST", "/repos/exfil-operator/app/pulls", `{"title":"t","head":"f","base":"main"}`, "ghp_FAKE")
	require.Equal(t, 201, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"number": 1`)
	assert.Equal(t, 422, apiCall(t, e, "POST", "/repos/exfil-operator/app/pulls", `{"title":"t"}`, "ghp_FAKE").Code)
	assert.Equal(t, 200, apiCall(t, e, "PATCH", "/repos/exfil-operator/app/pulls/1", `{"state":"closed"}`, "ghp_FAKE").Code)
	assert.Equal(t, 200, apiCall(t, e, "PATCH", "/repos/exfil-operator/app/pulls/1", `{"state":"closed"}`, "ghp_FAKE").Code)
	assert.Equal(t, 404, apiCall(t, e, "PATCH", "/repos/exfil-operator/app/pulls/2", `{"state":"closed"}`, "ghp_FAKE").Code)
	var actions []string
	for _, ev := range e.AuditLog() {
		m := auditDoc(t, ev)
		actions = append(actions, ev.Action)
		if strings.HasPrefix(ev.Action, "pull_request.") {
			assert.Equal(t, "https://github.com/exfil-operator/app/pull/1", m["pull_request_url"])
		}
	}
	assert.Equal(t, []string{"repo.create", "pull_request.create", "pull_request.close"}, actions, "closing a closed pull request changes nothing")
}

func TestAuditTransferAndDelete(t *testing.T) {
	e := newTestEmulator(t, Config{})
	require.Equal(t, 201, apiCall(t, e, "POST", "/user/repos", `{"name":"loot","private":true}`, "ghp_FAKE").Code)
	require.Equal(t, 201, apiCall(t, e, "PUT", "/repos/exfil-operator/loot/contents/a.txt", `{"message":"m","content":"eA=="}`, "ghp_FAKE").Code)
	w := apiCall(t, e, "POST", "/repos/exfil-operator/loot/transfer", `{"new_owner":"outside-drop"}`, "ghp_FAKE")
	require.Equal(t, 202, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"full_name": "outside-drop/loot"`)
	assert.Contains(t, w.Body.String(), `"visibility": "private"`, "the repository keeps its visibility")
	moved, _ := e.git.repoDir("github.com", "outside-drop", "loot")
	old, _ := e.git.repoDir("github.com", "exfil-operator", "loot")
	assert.True(t, dirExists(moved), "the bare repository moves with it")
	assert.False(t, dirExists(old))
	assert.Equal(t, 404, apiCall(t, e, "POST", "/repos/exfil-operator/loot/transfer", `{"new_owner":"x"}`, "ghp_FAKE").Code)
	assert.Equal(t, 204, apiCall(t, e, "DELETE", "/repos/outside-drop/loot", "", "ghp_FAKE").Code)
	assert.False(t, dirExists(moved))
	assert.Equal(t, 404, apiCall(t, e, "DELETE", "/repos/outside-drop/loot", "", "ghp_FAKE").Code)

	var actions []string
	for _, ev := range e.AuditLog() {
		m := auditDoc(t, ev)
		actions = append(actions, ev.Action+" "+ev.Repo)
		if ev.Action != "repo.create" {
			assert.Equal(t, "private", m["visibility"], ev.Action)
		}
	}
	assert.Equal(t, []string{"repo.create exfil-operator/loot", "repo.transfer_outgoing exfil-operator/loot",
		"repo.transfer outside-drop/loot", "repo.destroy outside-drop/loot"}, actions)
}
