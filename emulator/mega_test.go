package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	mega "github.com/t3rm1n4l/go-mega"
)

// ART's Mega account (mega_accounts.yaml).
const (
	artMegaUser = "atomictesting@outlook.com"
	artMegaPass = "Testingart1!"
)

// megaClient is go-mega, the library of rclone's mega backend, talking to
// the emulator's TLS and plain HTTP listeners as it would to MEGA (every
// name dialled goes to them, port 443 to TLS, port 80 to HTTP), trusting
// the run's CA. stop cuts it off, for good: go-mega's event poll never
// ends, and the ledger settles only once no connection is open.
func megaClient(t *testing.T, e *Emulator) (m *mega.Mega, client *http.Client, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	listen := func(serve func(context.Context, net.Listener) error) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = serve(ctx, l) }()
		return l.Addr().String()
	}
	tlsAddr, httpAddr := listen(e.ServeTLS), listen(e.ServeHTTP)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(e.CA().PEM()))
	var (
		mu      sync.Mutex
		conns   []net.Conn
		stopped bool
	)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to := tlsAddr
			if strings.HasSuffix(addr, ":80") {
				to = httpAddr
			}
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return nil, errors.New("client stopped")
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, to)
			if err == nil {
				conns = append(conns, c)
			}
			return c, err
		},
	}
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		for _, c := range conns {
			_ = c.Close()
		}
	}
	t.Cleanup(stop)
	client = &http.Client{Transport: tr}
	m = mega.New().SetClient(client)
	m.SetLogger(nil) // its event poll outlives the test
	m.SetRetries(1)
	return m, client, stop
}

// megaNotes are the notes of the ledger's MEGA requests.
func megaNotes(entries []Entry) string {
	var b strings.Builder
	for _, en := range entries {
		if en.IsRequest() && strings.HasSuffix(en.Host, "mega.co.nz") {
			b.WriteString(en.Method + " " + en.Host + " " + en.Note + "\n")
		}
	}
	return b.String()
}

// TestMegaProtocol drives the mock with go-mega as rclone does: a v2
// login, the filesystem, a folder, uploads (empty, one chunk, many chunks),
// a download checked against its MAC, a rename, a move to the Rubbish Bin
// and a delete; the ledger holds each file's plaintext hash under its path.
func TestMegaProtocol(t *testing.T) {
	e := newTestEmulator(t, Config{})
	m, _, stop := megaClient(t, e)
	require.NoError(t, m.Login(artMegaUser, artMegaPass))
	user, err := m.GetUser()
	require.NoError(t, err)
	assert.Equal(t, artMegaUser, user.Email)

	root := m.FS.GetRoot()
	require.NotNil(t, root)
	require.NotNil(t, m.FS.GetTrash())
	dir, err := m.CreateDir("test", root)
	require.NoError(t, err)
	assert.Equal(t, "test", dir.GetName())

	src := t.TempDir()
	files := map[string][]byte{
		"empty.txt":      nil,
		"finance_q3.csv": []byte("account,balance\nACME,1000000\n"),
		"dump.bin":       randomBytes(t, 3<<20+123), // chunks of 128 KiB ... 1 MiB, and a part
	}
	nodes := map[string]*mega.Node{}
	for name, data := range files {
		p := filepath.Join(src, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		n, err := m.UploadFile(p, dir, "", nil)
		require.NoError(t, err, name)
		assert.Equal(t, int64(len(data)), n.GetSize())
		nodes[name] = n
	}

	// Asked for TLS (rclone's later --mega-use-https), MEGA gives an https
	// URL: the storage host's wildcard certificate serves it.
	m.SetHTTPS(true)
	files["tls.txt"] = []byte("over TLS\n")
	p := filepath.Join(src, "tls.txt")
	require.NoError(t, os.WriteFile(p, files["tls.txt"], 0o600))
	_, err = m.UploadFile(p, dir, "", nil)
	require.NoError(t, err)
	m.SetHTTPS(false)

	// A download is the ciphertext, which go-mega decrypts and checks
	// against the MAC in the node's key.
	out := filepath.Join(t.TempDir(), "dump.bin")
	require.NoError(t, m.DownloadFile(nodes["dump.bin"], out, nil))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(files["dump.bin"], got), "the download is the upload")

	q, err := m.GetQuota()
	require.NoError(t, err)
	assert.Equal(t, uint64(len(files["dump.bin"])+len(files["finance_q3.csv"])+len(files["tls.txt"])), q.Cstrg)

	// A second session of the account sees what the first one put, and
	// hears of later changes through its event poll.
	other, _, stopOther := megaClient(t, e)
	require.NoError(t, other.Login(artMegaUser, artMegaPass))
	path, err := other.FS.PathLookup(other.FS.GetRoot(), []string{"test", "finance_q3.csv"})
	require.NoError(t, err)
	assert.Equal(t, int64(len(files["finance_q3.csv"])), path[1].GetSize())

	require.NoError(t, m.Rename(nodes["finance_q3.csv"], "q3.csv"))
	require.NoError(t, m.Delete(nodes["empty.txt"], true))
	require.NoError(t, m.Move(dir, m.FS.GetTrash()))
	assert.ErrorIs(t, m.Move(m.FS.GetTrash(), dir), mega.EACCESS, "a top folder stays")
	assert.ErrorIs(t, m.Move(dir, nodes["dump.bin"]), mega.EACCESS, "into a file")
	require.Eventually(t, func() bool {
		children, err := other.FS.GetChildren(other.FS.GetTrash())
		return err == nil && len(children) == 1 && children[0].GetName() == "test"
	}, 10*time.Second, 50*time.Millisecond, "the move reaches the other session's poll")

	stop()
	stopOther()
	entries := settled(t, e)
	stored := map[string]File{}
	for _, en := range entries {
		for _, f := range en.Files {
			stored[f.Name] = f
		}
	}
	for name, data := range files {
		assert.Equal(t, NewFile("test/"+name, data), stored["test/"+name], "the plaintext of %s, in the ledger", name)
	}
	notes := megaNotes(entries)
	for _, want := range []string{
		"us0 " + artMegaUser + ": account version 2",
		"us " + artMegaUser + ": logged in",
		"folder /test created",
		"file dump.bin stored in /test: 3145851 bytes decrypted, sha256 " + sha(files["dump.bin"]) + ", chunk MACs and meta-MAC check out",
		"file empty.txt stored in /test: 0 bytes decrypted",
		"u: upload target for 9 bytes: https://gfs270n406.userstorage.mega.co.nz",
		"POST gfs270n406.userstorage.mega.co.nz chunk at 2752512: 393339 encrypted bytes (3145851 of 3145851 received)",
		"GET gfs270n406.userstorage.mega.co.nz download: 131072 encrypted bytes at 0",
		"a: test/finance_q3.csv renamed q3.csv",
		"d: test/empty.txt deleted",
		"m: test moved to Rubbish Bin/test",
		"GET g.api.mega.co.nz wsc: held",
	} {
		assert.Contains(t, notes, want)
	}
	polls := strings.Count(notes, "POST g.api.mega.co.nz sc:")
	assert.Less(t, polls, 30, "the event poll waits between polls; it does not spin:\n%s", notes)
}

// TestMegaWrongPassword: MEGA refuses a login whose password derives
// another key with ENOENT (-9), and the ledger says so; so does an
// account the mock does not have.
func TestMegaWrongPassword(t *testing.T) {
	e := newTestEmulator(t, Config{})
	m, _, stop := megaClient(t, e)
	assert.ErrorIs(t, m.Login(artMegaUser, "not-the-password"), mega.ENOENT)
	assert.ErrorIs(t, m.Login("nobody@example.com", artMegaPass), mega.ENOENT)
	stop()
	notes := megaNotes(settled(t, e))
	assert.Contains(t, notes, "us "+artMegaUser+": login refused, wrong e-mail or password: ENOENT (-9)")
	assert.Contains(t, notes, "us0 nobody@example.com: no such account: ENOENT (-9)")
	assert.NotContains(t, notes, "logged in")
}

// TestMegaRefusesABadMAC: ciphertext changed after the client computed its
// MAC does not decrypt to the MAC the node key holds; the put fails with
// EKEY, and no file reaches the ledger.
func TestMegaRefusesABadMAC(t *testing.T) {
	e := newTestEmulator(t, Config{})
	m, client, stop := megaClient(t, e)
	require.NoError(t, m.Login(artMegaUser, artMegaPass))
	data := []byte("account,balance\nACME,1000000\n")
	up, err := m.NewUpload(m.FS.GetRoot(), "finance_q3.csv", int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, up.UploadChunk(0, bytes.Clone(data)))
	var chunkURL string
	for _, en := range e.Ledger().Entries() {
		if en.Method == http.MethodPost && strings.HasPrefix(en.Path, "/ul/") {
			chunkURL = "http://" + en.Host + en.Path
		}
	}
	require.NotEmpty(t, chunkURL)
	// The same offset again, other bytes: the upload takes the latest.
	resp, err := client.Post(chunkURL, "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte{'x'}, len(data))))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	_, err = up.Finish()
	assert.ErrorIs(t, err, mega.EKEY)
	stop()
	entries := settled(t, e)
	for _, en := range entries {
		assert.Empty(t, en.Files)
	}
	assert.Contains(t, megaNotes(entries), "file finance_q3.csv: its bytes do not give the MAC its key holds")
}

func TestMegaNames(t *testing.T) {
	for host, want := range map[string]string{
		"g.api.mega.co.nz":                  "g.api.mega.co.nz",
		"gfs270n406.userstorage.mega.co.nz": "*.userstorage.mega.co.nz",
		"a.b.userstorage.mega.co.nz":        "",
		"mega.co.nz":                        "",
	} {
		assert.Equal(t, want, ServedName(host), host)
	}
}

// BenchmarkMegaOpen measures what opening a put file costs the mock: 16
// MiB of ciphertext AES-CTR decrypted, with MEGA's chunk MACs and
// meta-MAC, into a sha256 as the spool hashes it (open), against the same
// bytes into the sha256 alone (hash-only): their ratio is the price of
// seeing the plaintext. The key's MAC is random, so the check fails, after
// all of the work it does when it holds.
func BenchmarkMegaOpen(b *testing.B) {
	const size = 16 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	k := megaNodeKey{aes: make([]byte, 16), nonce: make([]byte, 8), mac: make([]byte, 8)}
	_, _ = rand.Read(k.aes)
	b.Run("open", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := megaDecrypt(sha256.New(), bytes.NewReader(data), size, k); err != nil && !errors.Is(err, errMegaMAC) {
				b.Fatal(err)
			}
		}
	})
	b.Run("hash-only", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := io.Copy(sha256.New(), bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
