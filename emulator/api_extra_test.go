package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExtraHandlers drives the variants' endpoints in the order a variant
// does: each answers as GitHub does and the ledger holds what was sent.
func TestExtraHandlers(t *testing.T) {
	e := newTestEmulator(t, Config{})
	secret := []byte("pw=hunter2\n")
	b64 := base64.StdEncoding.EncodeToString(secret)
	do := func(method, path, body string, token bool) (int, map[string]any, Entry) {
		t.Helper()
		mark := len(e.Ledger().Entries())
		req := httptest.NewRequest(method, "https://api.github.com"+path, strings.NewReader(body))
		if token {
			req.Header.Set("Authorization", "token ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE")
		}
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		entries := e.Ledger().Entries()[mark:]
		require.Len(t, entries, 1)
		return rec.Code, out, entries[0]
	}

	code, gist, _ := do("POST", "/gists", `{"files":{"todo.md":{"content":"- groceries"}}}`, true)
	require.Equal(t, 201, code)
	id, _ := gist["id"].(string)
	require.NotEmpty(t, id)
	code, _, entry := do("PATCH", "/gists/"+id, `{"files":{"todo.md":{"content":"pw=hunter2\n"}}}`, true)
	assert.Equal(t, 200, code)
	assert.Equal(t, []File{NewFile("todo.md", secret)}, entry.Files)
	code, _, _ = do("PATCH", "/gists/0000", `{"files":{"a":{"content":"x"}}}`, true)
	assert.Equal(t, 404, code, "an unknown gist")
	code, _, _ = do("PATCH", "/gists/"+id, `{"files":{}}`, false)
	assert.Equal(t, 401, code)

	code, comment, entry := do("POST", "/repos/o/r/issues/1/comments", `{"body":"`+b64+`"}`, true)
	assert.Equal(t, 201, code)
	assert.Contains(t, comment["html_url"], "https://github.com/o/r/issues/1#issuecomment-")
	assert.Equal(t, []File{NewFile("comment", []byte(b64)), NewFile("comment (base64-decoded)", secret)}, entry.Files)
	code, _, entry = do("POST", "/repos/o/r/issues/1/comments", `{"body":"lgtm!"}`, true)
	assert.Equal(t, 201, code)
	assert.Len(t, entry.Files, 1, "a body that is not base64 is recorded as it is")
	code, _, _ = do("POST", "/repos/o/r/issues/1/comments", `{"body":""}`, true)
	assert.Equal(t, 422, code)

	code, blob, entry := do("POST", "/repos/o/r/git/blobs", `{"encoding":"base64","content":"`+b64+`"}`, true)
	assert.Equal(t, 201, code)
	assert.Equal(t, gitBlobSHA(secret), blob["sha"])
	assert.Equal(t, []File{NewFile("blob "+gitBlobSHA(secret), secret)}, entry.Files)
	code, _, _ = do("POST", "/repos/o/r/git/blobs", `{"encoding":"base64","content":"%%%"}`, true)
	assert.Equal(t, 422, code)
	code, tree, _ := do("POST", "/repos/o/r/git/trees", `{"tree":[{"path":"a","sha":"`+gitBlobSHA(secret)+`"}]}`, true)
	assert.Equal(t, 201, code)
	assert.Len(t, tree["sha"], 40)
	code, commit, _ := do("POST", "/repos/o/r/git/commits", `{"message":"m","tree":"x"}`, true)
	assert.Equal(t, 201, code)
	code, ref, entry := do("PATCH", "/repos/o/r/git/refs/heads/main", `{"sha":"`+commit["sha"].(string)+`"}`, true)
	assert.Equal(t, 200, code)
	assert.Equal(t, "refs/heads/main", ref["ref"])
	assert.Contains(t, entry.Note, "refs/heads/main")
	code, _, _ = do("POST", "/repos/o/r/git/refs", `{"ref":"refs/heads/x","sha":"y"}`, true)
	assert.Equal(t, 201, code)
	code, _, _ = do("POST", "/repos/o/r/git/trees", `{}`, false)
	assert.Equal(t, 401, code)
}
