package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send sends body (as it comes from the reader) to host through the
// emulator's handler and returns the answer and the request's ledger entry.
func send(t *testing.T, e *Emulator, method, target string, body io.Reader, contentType string, headers ...string) (*httptest.ResponseRecorder, Entry) {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	r.ContentLength = -1 // as a chunked body: the limit must hold without a declared length
	r.Header.Set("Authorization", "token ghp_fake")
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	before := len(e.Ledger().Entries())
	e.Handler().ServeHTTP(w, r)
	entries := e.Ledger().Entries()
	require.Len(t, entries, before+1)
	return w, entries[before]
}

// noSpoolLeft checks that nothing of a finished request stays spooled.
func noSpoolLeft(t *testing.T, e *Emulator, msg string) {
	t.Helper()
	left, _ := os.ReadDir(spoolDir(e.cfg.DataDir))
	assert.Empty(t, left, "%s: spool files left", msg)
}

// contentsJSON is a Contents API body with content base64, wrapped at 76
// characters with JSON's \n escape and '/' escaped as \/ (both legal).
func contentsJSON(content []byte) string {
	b64 := strings.NewReplacer("/", `\/`, "\n", `\n`).Replace(wrap(base64.StdEncoding.EncodeToString(content), 76))
	return `{"message":"up\u006coad","content":"` + b64 + `","branch":"main"}`
}

// TestContentsAtBoundarySizes: files around the spill threshold and the
// base64 quantum arrive whole: the ledger's sha256 and size, the answer's
// size and the committed blob are the content's, and no spool file stays.
func TestContentsAtBoundarySizes(t *testing.T) {
	e := newTestEmulator(t, Config{})
	for _, size := range []int{0, 1, 2, 3, 4, spillAt - 1, spillAt, spillAt + 1, 3<<20 + 2} {
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(i*7 + i>>8)
		}
		p := fmt.Sprintf("sizes/%d.bin", size)
		w, entry := send(t, e, "PUT", "https://api.github.com/repos/o/r/contents/"+p, strings.NewReader(contentsJSON(content)), "")
		require.Equal(t, http.StatusCreated, w.Code, "size %d: %s", size, w.Body.String())
		assert.Equal(t, []File{NewFile(p, content)}, entry.Files, "size %d", size)
		assert.Contains(t, w.Body.String(), fmt.Sprintf(`"size": %d,`, size))
		assert.Contains(t, w.Body.String(), `"sha": "`+gitBlobSHA(content)+`"`)
		raw := do(t, e, "GET", "raw.githubusercontent.com", "/o/r/main/"+p, "")
		assert.True(t, bytes.Equal(content, raw.Body.Bytes()), "size %d: committed content differs", size)
		noSpoolLeft(t, e, fmt.Sprintf("size %d", size))

		// Read back by the API: inline up to 1 MB, past it no content, as
		// GitHub answers.
		var got struct {
			Content, Encoding, SHA string
			Size                   int
		}
		require.NoError(t, json.Unmarshal(do(t, e, "GET", "api.github.com", "/repos/o/r/contents/"+p, "").Body.Bytes(), &got))
		assert.Equal(t, size, got.Size)
		assert.Equal(t, gitBlobSHA(content), got.SHA)
		if size <= apiInlineMax {
			data, err := base64.StdEncoding.DecodeString(got.Content)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(content, data), "size %d: API content differs", size)
			assert.Equal(t, "base64", got.Encoding)
		} else {
			assert.Equal(t, "none", got.Encoding)
			assert.Empty(t, got.Content)
		}
	}
}

// TestBodiesSplitAtEveryOffset: however the body arrives, split anywhere
// (inside a JSON escape, a base64 quantum, a multi-byte rune), the file
// recorded is the same.
func TestBodiesSplitAtEveryOffset(t *testing.T) {
	e := newTestEmulator(t, Config{})
	secret := []byte("AKIA\u00e9\xff/+?>\n")
	contents := contentsJSON(secret)
	text := "pw=\u00e9\u20ac\U0001F600\t\"q\"\\"
	gist := `{"files":{"a.txt":{"content":"pw=\u00e9\u20ac\ud83d\ude00\t\"q\"\\"}}}`
	for split := 1; split < max(len(contents), len(gist)); split++ {
		if split < len(contents) {
			w, entry := send(t, e, "PUT", fmt.Sprintf("https://api.github.com/repos/o/r/contents/split/%d", split),
				io.MultiReader(strings.NewReader(contents[:split]), strings.NewReader(contents[split:])), "")
			require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
			assert.Equal(t, []File{NewFile(fmt.Sprintf("split/%d", split), secret)}, entry.Files, "contents split at %d", split)
		}
		if split < len(gist) {
			w, entry := send(t, e, "POST", "https://api.github.com/gists", io.MultiReader(strings.NewReader(gist[:split]), strings.NewReader(gist[split:])), "")
			require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
			assert.Equal(t, []File{NewFile("a.txt", []byte(text))}, entry.Files, "gist split at %d", split)
		}
	}
}

// TestInvalidBodiesDeliverNothing: a body that is not JSON, or whose
// content is not base64 (even deep inside a spilled file), is refused
// with no file in the ledger and nothing left spooled.
func TestInvalidBodiesDeliverNothing(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 3*spillAt))
	tests := []struct {
		name, target, body string
		code               int
	}{
		{"bad base64 deep in a big file", "/repos/o/r/contents/x", `{"message":"m","content":"` + big[:2*spillAt] + "%%%%" + big[2*spillAt:] + `"}`, 422},
		{"data after padding", "/repos/o/r/contents/x", `{"message":"m","content":"eA==eA=="}`, 422},
		{"unpadded", "/repos/o/r/contents/x", `{"message":"m","content":"eA"}`, 422},
		{"truncated JSON after a big file", "/repos/o/r/contents/x", `{"message":"m","content":"` + big + `"`, 400},
		{"bad escape in content", "/repos/o/r/contents/x", `{"message":"m","content":"eA\q=="}`, 400},
		{"content of the wrong type", "/repos/o/r/contents/x", `{"message":"m","content":5}`, 400},
		{"message too long", "/repos/o/r/contents/x", `{"message":"` + strings.Repeat("m", maxField+1) + `","content":"eA=="}`, 400},
		{"trailing data", "/gists", `{"files":{"a":{"content":"x"}}} {}`, 400},
		{"gist file of the wrong type", "/gists", `{"files":{"a":"x"}}`, 400},
		{"gist content of the wrong type", "/gists", `{"files":{"a":{"content":["x"]}}}`, 400},
		{"array for an object", "/gists", `[]`, 400},
	}
	e := newTestEmulator(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "PUT"
			if tt.target == "/gists" {
				method = "POST"
			}
			w, entry := send(t, e, method, "https://api.github.com"+tt.target, strings.NewReader(tt.body), "")
			assert.Equal(t, tt.code, w.Code, w.Body.String())
			assert.Equal(t, tt.code, entry.Status)
			assert.Empty(t, entry.Files, "nothing is delivered")
			assert.Equal(t, int64(len(tt.body)), entry.BytesReceived, "the whole body is still counted")
			noSpoolLeft(t, e, tt.name)
		})
	}
}

// countingSource is a body of n bytes of filler that counts what was
// pulled from it.
type countingSource struct {
	prefix []byte
	n      int64
	pulled int64
}

func (c *countingSource) Read(p []byte) (int, error) {
	if c.pulled >= c.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), c.n-c.pulled))
	for i := range k {
		if off := c.pulled + int64(i); off < int64(len(c.prefix)) {
			p[i] = c.prefix[off]
		} else {
			p[i] = 'Q'
		}
	}
	c.pulled += int64(k)
	return k, nil
}

// TestLimitHoldsWhileStreaming: a chunked body past the limit gets 413 on
// every kind of upload, having been read no further than the limit, with
// nothing delivered and nothing left spooled.
func TestLimitHoldsWhileStreaming(t *testing.T) {
	const limit = 3 * spillAt
	e := newTestEmulator(t, Config{MaxBody: limit})
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_, _ = mw.CreateFormFile("/loot.bin", "loot.bin")
	tests := []struct {
		name, method, target, contentType, prefix string
		headers                                   []string
	}{
		{"contents", "PUT", "https://api.github.com/repos/o/r/contents/big", "", `{"message":"m","content":"`, nil},
		{"gist", "POST", "https://api.github.com/gists", "", `{"files":{"a":{"content":"`, nil},
		{"release asset", "POST", "https://uploads.github.com/repos/o/r/releases/1/assets?name=a.bin", "application/octet-stream", "", nil},
		{"bitbucket multipart", "POST", "https://api.bitbucket.org/2.0/repositories/o/r/src", mw.FormDataContentType(), mp.String(), nil},
		{"pastebin form", "POST", "https://pastebin.com/api/api_post.php", "application/x-www-form-urlencoded", "api_option=paste&api_paste_code=", nil},
		{"slack", "POST", "https://hooks.slack.com/services/T/B/x", "application/json", `{"text":"`, nil},
		{"teams", "POST", "https://example.webhook.office.com/webhookb2/x", "application/json", `{"text":"`, nil},
		{"git data blob", "POST", "https://api.github.com/repos/o/r/git/blobs", "", `{"encoding":"base64","content":"`, nil},
		{"s3 object", "PUT", "https://loot.s3.amazonaws.com/big.bin", "application/octet-stream", "", []string{
			"Authorization", "AWS4-HMAC-SHA256 Credential=" + fakeAccessKey + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
			"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingSource{prefix: []byte(tt.prefix), n: 50 << 20}
			w, entry := send(t, e, tt.method, tt.target, src, tt.contentType, tt.headers...)
			assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
			assert.Empty(t, entry.Files)
			assert.LessOrEqual(t, src.pulled, int64(limit+1), "read past the limit")
			noSpoolLeft(t, e, tt.name)
		})
	}
}

// TestLargeStoredFilesReadBack: a gist file and a paste past the spill
// threshold are kept on disk and read back whole; the gist API shows its
// first megabyte, marked truncated, as GitHub does.
func TestLargeStoredFilesReadBack(t *testing.T) {
	e := newTestEmulator(t, Config{})
	text := strings.Repeat("line of loot\n", (2*spillAt)/13)
	w, entry := send(t, e, "POST", "https://api.github.com/gists", strings.NewReader(`{"files":{"big.txt":{"content":"`+strings.ReplaceAll(text, "\n", `\n`)+`"}}}`), "")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, []File{NewFile("big.txt", []byte(text))}, entry.Files)
	var id string
	_, _ = fmt.Sscanf(w.Body.String()[strings.Index(w.Body.String(), `"id": "`)+7:], "%32s", &id)
	raw := do(t, e, "GET", "gist.githubusercontent.com", "/"+fakeLogin+"/"+id+"/raw/big.txt", "")
	assert.Equal(t, text, raw.Body.String())
	api := do(t, e, "GET", "api.github.com", "/gists/"+id, "")
	assert.Contains(t, api.Body.String(), `"truncated": true`)

	form := url.Values{"api_dev_key": {"k"}, "api_option": {"paste"}, "api_paste_code": {text}}.Encode()
	w, entry = send(t, e, "POST", "https://pastebin.com/api/api_post.php", strings.NewReader(form), "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []File{NewFile("paste.txt", []byte(text))}, entry.Files)
	key := strings.TrimPrefix(w.Body.String(), "https://pastebin.com/")
	assert.Equal(t, text, do(t, e, "GET", "pastebin.com", "/raw/"+key, "").Body.String())

	left, err := os.ReadDir(spoolDir(e.cfg.DataDir))
	require.NoError(t, err)
	assert.Len(t, left, 2, "the stored gist file and paste are kept on disk until the emulator closes")
}
