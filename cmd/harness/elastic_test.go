package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// `harness run --out` writes the ECS documents and GitHub's audit log, and
// `validate` reads the audit log back.
func TestRunWritesECSAndTheAuditLog(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	atomicsFile := filepath.Join("..", "..", "atomics", "T1567.001-elastic.yaml")
	code, stdout, stderr := cli(t, "run", "--atomics", atomicsFile, "--test", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0101",
		"--context", "workstation", "--out", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	audit := readJSONLines(t, filepath.Join(out, "github-audit.jsonl"))
	require.Len(t, audit, 2)
	assert.Equal(t, "repo.create", audit[0]["action"])
	assert.Equal(t, "repo.access", audit[1]["action"])
	assert.Equal(t, "public", audit[1]["visibility"])

	var sawAudit, sawDNS bool
	for _, d := range readJSONLines(t, filepath.Join(out, "events.ecs.jsonl")) {
		ds := d["data_stream"].(map[string]any)["dataset"]
		ev := d["event"].(map[string]any)
		switch {
		case ds == "github.audit" && ev["action"] == "repo.access":
			sawAudit = true
			assert.Equal(t, "public", d["github"].(map[string]any)["visibility"])
		case ds == "endpoint.events.network" && d["dns"] != nil:
			sawDNS = true
			assert.Equal(t, "curl.exe", d["process"].(map[string]any)["name"])
			assert.NotNil(t, d["harness"].(map[string]any)["provenance"])
		}
	}
	assert.True(t, sawAudit, "the audit event in ECS form")
	assert.True(t, sawDNS, "Elastic Defend's DNS event")

	code, stdout, stderr = cli(t, "validate", "--events", filepath.Join(out, "github-audit.jsonl"), "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "exfiltration_github_private_repository_turned_public")
}
