package emulator

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// originListeners is one origin's listeners on loopback: a sandbox's TLS,
// plain HTTP, DNS and SSH listeners, and a lane's CONNECT proxy.
type originListeners struct {
	tls, http, proxy, ssh net.Listener
	dns                   net.PacketConn
}

func serveOrigin(t *testing.T, e *Emulator, srv *SSHServer, origin string) originListeners {
	t.Helper()
	listen := func() net.Listener {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		return l
	}
	ls := originListeners{tls: listen(), http: listen(), proxy: listen(), ssh: listen()}
	var err error
	ls.dns, err = net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(WithOrigin(context.Background(), origin))
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, e.ServeTLS(ctx, ls.tls)) })
	wg.Go(func() { assert.NoError(t, e.ServeHTTP(ctx, ls.http)) })
	wg.Go(func() { assert.NoError(t, e.ServeProxy(ctx, ls.proxy)) })
	wg.Go(func() { assert.NoError(t, srv.Serve(ctx, ls.ssh)) })
	wg.Go(func() { assert.NoError(t, e.ServeDNS(ctx, ls.dns, nil)) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ls
}

// TestOriginTellsApartClientsOfTheSameSocket: two origins' clients each
// send a request through every kind of listener, and every entry, HTTP,
// TLS, CONNECT, SSH or DNS, carries the origin of the listener that took
// it; a listener served without an origin leaves it empty.
func TestOriginTellsApartClientsOfTheSameSocket(t *testing.T) {
	e := newTestEmulator(t, Config{Addresses: testAddresses})
	srv, err := e.NewSSHServer("github.com")
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(key)
	require.NoError(t, err)

	origins := []string{"lane 0", "lane 1", ""}
	for _, origin := range origins {
		ls := serveOrigin(t, e, srv, origin)
		direct := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: e.CA().Pool()},
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				l := ls.http
				if _, port, _ := net.SplitHostPort(addr); port == "443" {
					l = ls.tls
				}
				return (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
			},
		}}
		proxied := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: e.CA().Pool()},
			Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: ls.proxy.Addr().String()}),
		}}
		for _, c := range []struct {
			client *http.Client
			url    string
		}{
			{direct, "https://api.github.com/user"},
			{direct, "http://github.com/exfil-operator/loot"},
			{proxied, "https://api.github.com/user"},
		} {
			req, err := http.NewRequest("GET", c.url, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "token x")
			resp, err := c.client.Do(req)
			require.NoError(t, err, c.url)
			require.NoError(t, resp.Body.Close())
			c.client.CloseIdleConnections()
		}
		// A proxy request that is refused is recorded too.
		conn, err := net.Dial("tcp", ls.proxy.Addr().String())
		require.NoError(t, err)
		_, err = fmt.Fprint(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NoError(t, conn.Close())

		m := new(dns.Msg)
		m.SetQuestion("api.github.com.", dns.TypeA)
		_, _, err = (&dns.Client{Net: "udp"}).Exchange(m, ls.dns.LocalAddr().String())
		require.NoError(t, err)

		sc, err := ssh.Dial("tcp", ls.ssh.Addr().String(), &ssh.ClientConfig{
			User: "git", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // the mock's key, on loopback
		})
		require.NoError(t, err)
		sess, err := sc.NewSession()
		require.NoError(t, err)
		_ = sess.Run("git-upload-pack 'exfil-operator/none.git'") // an unknown repository: refused, recorded
		require.NoError(t, sc.Close())
	}

	entries := settled(t, e)
	byOrigin := map[string]map[string]int{}
	for _, en := range entries {
		kind := en.Kind
		switch {
		case en.Method == "CONNECT" && en.Refused:
			kind = "refused CONNECT"
		case en.Method == "CONNECT":
			kind = "CONNECT"
		case en.Method == "SSH":
			kind = "ssh"
		case en.IsRequest():
			kind = "request"
		}
		if byOrigin[en.Origin] == nil {
			byOrigin[en.Origin] = map[string]int{}
		}
		byOrigin[en.Origin][kind]++
	}
	// Per origin: three HTTP requests (TLS direct, plain, through the
	// proxy), the two TLS connections' summaries, the proxy's CONNECT and
	// its refusal, one SSH exec and one DNS query.
	want := map[string]int{"request": 3, KindTLS: 2, "CONNECT": 1, "refused CONNECT": 1, "ssh": 1, KindDNS: 1}
	require.Len(t, byOrigin, len(origins), "%v", byOrigin)
	for _, origin := range origins {
		assert.Equal(t, want, byOrigin[origin], "origin %q", origin)
	}
}
