package sandbox

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/racechild"
)

func TestMain(m *testing.M) {
	if MaybeInit() {
		return
	}
	racechild.Quiet()
	os.Exit(m.Run())
}

// testConfig prepares a run's files in a temporary folder.
func testConfig(t testing.TB) Config {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	table, err := DefaultTable()
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	files, err := Prepare(context.Background(), t.TempDir(), table, "WS-FIN-0142", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	require.NoError(t, err)
	return Config{Table: table, Files: files, Hostname: "WS-FIN-0142", Harness: exe}
}

func run(t testing.TB, n *Net, cfg Config, script string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code, err := n.Run(context.Background(), cfg, []string{"sh", "-c", script}, t.TempDir(), os.Environ(), &out, &out)
	require.NoError(t, err)
	return code, out.String()
}

func TestSandboxNamespaces(t *testing.T) {
	cfg := testConfig(t)
	n, err := NewNet(cfg.Table)
	require.NoError(t, err)
	defer n.Close()
	ls := n.Listeners()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello from " + r.Host + " at " + r.Context().Value(http.LocalAddrContextKey).(interface{ String() string }).String()))
	})}
	for _, l := range ls.HTTP {
		go srv.Serve(l)
	}
	defer srv.Close()

	code, out := run(t, n, cfg, `hostname; echo pid=$$; cat /etc/resolv.conf; curl -sS --max-time 5 http://140.82.112.6/ ; echo; curl -sS --max-time 5 http://1.1.1.1/ ; echo rc=$?`)
	t.Log(out)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "WS-FIN-0142\n")
	assert.Contains(t, out, "pid=")
	assert.Contains(t, out, "hello from 140.82.112.6 at 140.82.112.6:80")
	assert.Contains(t, out, "rc=7")
	assert.True(t, strings.Contains(out, "nameserver 127.0.0.53"))
}

// BenchmarkSetupTeardown is what the sandbox adds to each atomic: a
// network namespace with its addresses and listeners, and a first process
// in fresh mount, UTS and PID namespaces that binds the run's files and
// runs a command (here `true`), then all of it torn down. The netns-only
// sub-benchmark shows the split; userns-probe is what an ordinary user's
// run pays once before its first test.
func BenchmarkSetupTeardown(b *testing.B) {
	cfg := testConfig(b)
	b.Run("netns", func(b *testing.B) {
		for b.Loop() {
			n, err := NewNet(cfg.Table)
			if err != nil {
				b.Fatal(err)
			}
			n.Close()
		}
	})
	// Once per run of an ordinary user: a sandbox's first process in a
	// user namespace that sets up the network and exits.
	b.Run("userns-probe", func(b *testing.B) {
		for b.Loop() {
			if err := ProbeUserNamespace(context.Background(), cfg.Harness); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("netns+init", func(b *testing.B) {
		for b.Loop() {
			n, err := NewNet(cfg.Table)
			if err != nil {
				b.Fatal(err)
			}
			code, err := n.Run(context.Background(), cfg, []string{"true"}, "/", nil, nil, nil)
			if err != nil || code != 0 {
				b.Fatalf("exit %d: %v", code, err)
			}
			n.Close()
		}
	})
}

// TestSSHFilesReplaceTheSystems: inside the sandbox /etc/ssh holds the
// run's known_hosts and a client configuration naming the run's key.
func TestSSHFilesReplaceTheSystems(t *testing.T) {
	cfg := testConfig(t)
	if st, err := os.Stat(SSHDir); err != nil || !st.IsDir() {
		t.Skip("no /etc/ssh here: the SSH client is not installed")
	}
	dir := t.TempDir()
	require.NoError(t, cfg.Files.AddSSH(dir, []byte("github.com ssh-ed25519 AAAAtest\n"), "/run/key"))
	n, err := NewNet(cfg.Table)
	require.NoError(t, err)
	defer n.Close()
	code, out := run(t, n, cfg, `cat /etc/ssh/ssh_known_hosts /etc/ssh/ssh_config; ls /etc/ssh`)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "github.com ssh-ed25519 AAAAtest\n")
	assert.Contains(t, out, `IdentityFile "/run/key"`)
	assert.NotContains(t, out, "ssh_config.d", "the system's folder is hidden")
}

// TestSlowSinkholeStillResolves: a sinkhole that answers late (as one
// flooded with queries on a busy machine does) still resolves the
// sandbox's clients, which keep their resolver's own timeouts.
func TestSlowSinkholeStillResolves(t *testing.T) {
	cfg := testConfig(t)
	if _, err := exec.LookPath("getent"); err != nil {
		t.Skip("getent is not installed")
	}
	n, err := NewNet(cfg.Table)
	require.NoError(t, err)
	defer n.Close()
	const delay = 1500 * time.Millisecond
	srv := &dns.Server{PacketConn: n.Listeners().DNSUDP, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		time.Sleep(delay)
		m := new(dns.Msg)
		m.SetReply(req)
		if q := req.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(140, 82, 112, 6)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()
	start := time.Now()
	code, out := run(t, n, cfg, `getent ahostsv4 api.github.com`)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "140.82.112.6")
	assert.Greater(t, time.Since(start), delay, "the answer came late")
}
