package emulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// handshakeTimeout bounds a client's TLS handshake. Generous: a flood of
// handshakes on a busy machine shares the CPU until they all end late
// together (4,000 at once on 2 loaded cores took ~20 s), and a slow
// handshake is still one the client will complete.
const handshakeTimeout = time.Minute

// ServeProxy runs the local mode's CONNECT proxy on l until ctx ends. A
// CONNECT to port 443 of a served host is answered by the emulator itself,
// with a certificate from the run's CA; every other destination, and every
// request that is not a CONNECT, gets 403 and a ledger entry. Nothing is
// ever dialled out.
func (e *Emulator) ServeProxy(ctx context.Context, l net.Listener) error {
	s := e.newServer(http.HandlerFunc(e.proxy))
	// A hijacked CONNECT outlives the request; the deadlines of the tunnel's
	// inner server apply from there.
	s.ReadTimeout, s.WriteTimeout = 0, 0
	origin := originOf(ctx)
	s.BaseContext = func(net.Listener) context.Context {
		return WithOrigin(context.Background(), origin)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	return e.serve(s, l)
}

// ServeTLS serves the emulated hosts directly over TLS on l, choosing the
// certificate and the host from SNI: the container mode, where network
// aliases stand in for the proxy.
func (e *Emulator) ServeTLS(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	origin := originOf(ctx)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("emulator: accept: %w", err)
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.terminate(c, "", origin)
		}()
	}
}

func (e *Emulator) proxy(w http.ResponseWriter, r *http.Request) {
	entry := Entry{
		Time:       time.Now().UTC(),
		Method:     r.Method,
		Path:       MaskSecrets(r.RequestURI),
		UserAgent:  r.UserAgent(),
		AuthScheme: authScheme(r),
		Origin:     originOf(r.Context()),
	}
	entry.ClientIP, entry.ClientPort = splitAddr(r.RemoteAddr)
	entry.ServerPort = localPort(r)
	host, port := r.Host, "443"
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host, port = h, p
	}
	if r.Method != http.MethodConnect && r.URL.Host != "" {
		host, port = r.URL.Hostname(), r.URL.Port()
	}
	entry.Host = strings.ToLower(host)
	entry.HTTPHost = r.Host

	entry.RequestBytes = requestWireSize(r)
	refuse := func(why string) {
		msg := "t1567-harness proxy: " + why + "\n"
		entry.Status, entry.Refused, entry.Note = http.StatusForbidden, true, why
		entry.ResponseBodyBytes = int64(len(msg))
		entry.ResponseContentType = "text/plain; charset=utf-8"
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
		entry.ResponseBytes = responseWireSize(r.Proto, http.StatusForbidden, w.Header(), entry.ResponseBodyBytes)
		entry.End = time.Now().UTC()
		e.ledger.Add(entry)
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, msg)
	}
	switch {
	case r.Method != http.MethodConnect:
		refuse(fmt.Sprintf("refused %s %s: only CONNECT to a code-repository host is allowed", r.Method, entry.Path))
		return
	case !IsServedHost(entry.Host):
		refuse(fmt.Sprintf("refused CONNECT %s: not an emulated code-repository host, nothing leaves this machine", r.Host))
		return
	case port != "443":
		refuse(fmt.Sprintf("refused CONNECT %s: only port 443 is emulated", r.Host))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		refuse("connection cannot be hijacked")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		refuse("hijack: " + err.Error())
		return
	}
	const established = "HTTP/1.1 200 Connection Established\r\n\r\n"
	entry.Status = http.StatusOK
	entry.Note = "tunnel to the emulator"
	entry.ResponseBytes = int64(len(established))
	entry.End = time.Now().UTC()
	e.ledger.Add(entry)
	if _, err := conn.Write([]byte(established)); err != nil {
		_ = conn.Close()
		return
	}
	e.terminate(&bufferedConn{Conn: conn, r: buf.Reader}, entry.Host, entry.Origin)
}

// terminate does the TLS handshake on c and hands the connection to the
// inner HTTP server. connectHost is the CONNECT target, empty on a direct
// TLS listener, where the certificate is chosen by SNI, or without SNI (a
// client dialling an address) by the address dialled; origin is where the
// client is (see WithOrigin).
func (e *Emulator) terminate(c net.Conn, connectHost, origin string) {
	// The connection counts as in flight until it closes, so that its
	// summary is in the ledger when a caller has waited for it to settle.
	e.track(1)
	start := time.Now().UTC()
	raw := &countingConn{Conn: c}
	ip, port := splitAddr(c.RemoteAddr().String())
	_, serverPort := splitAddr(c.LocalAddr().String())
	info := connInfo{host: connectHost, clientIP: ip, port: port, serverPort: serverPort, origin: origin}
	var sni string
	var destIP string
	var destPort int
	fallback := connectHost
	if connectHost == "" {
		destIP, destPort = addrPort(c.LocalAddr())
		fallback = e.hostAt(destIP)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			sni = strings.ToLower(hello.ServerName)
			name := sni
			if name == "" || !IsServedHost(name) {
				name = fallback
			}
			if name == "" {
				return nil, fmt.Errorf("no served host for SNI %q", hello.ServerName)
			}
			// A bucket name gets the wildcard certificate, as from S3.
			if served := ServedName(name); served != "" {
				name = served
			}
			return e.ca.Leaf(name, e.cfg.Addresses[name]...)
		},
	}
	// One set of ticket keys for every connection, so that a client can
	// resume on a new connection a session it had on another.
	cfg.SetSessionTicketKeys(e.ticketKeys)
	tc := tls.Server(raw, cfg)
	info.destIP, info.destPort = destIP, destPort
	resolve := func() {
		info.sni = sni
		if info.host == "" {
			info.host = sni
			if !IsServedHost(info.host) {
				info.host = fallback
			}
		}
	}
	done := func() {
		resolve()
		e.ledger.Add(tlsSummary(start, info, tc.ConnectionState(), raw))
		e.track(-1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		fmt.Fprintf(e.cfg.ErrorLog, "emulator: TLS handshake from %s: %v\n", c.RemoteAddr(), err)
		_ = c.Close()
		done()
		return
	}
	// A resumed session chose no certificate: its SNI is in the state.
	sni = strings.ToLower(tc.ConnectionState().ServerName)
	resolve()
	conn := &closeNotifyConn{Conn: tc, onClose: done}
	if !e.tunnels.push(&tunnelConn{Conn: conn, info: info}) {
		_ = conn.Close()
	}
}

// ServeHTTP serves the emulated hosts over plain HTTP on l until ctx ends,
// choosing the host by the Host header, or by the address dialled when the
// header names no served host.
func (e *Emulator) ServeHTTP(ctx context.Context, l net.Listener) error {
	s := e.newServer(e.Handler())
	origin := originOf(ctx)
	s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		ip, port := addrPort(c.RemoteAddr())
		destIP, destPort := addrPort(c.LocalAddr())
		return context.WithValue(ctx, connInfoKey{}, connInfo{clientIP: ip, port: port, destIP: destIP, destPort: destPort, origin: origin})
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	return e.serve(s, l)
}

// hostAt is the served host an address belongs to: the shortest name
// holding it (github.com rather than gist.github.com), "" for none.
func (e *Emulator) hostAt(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	best := ""
	for host, addrs := range e.cfg.Addresses {
		if strings.HasPrefix(host, "*.") || !slices.Contains(addrs, a.Unmap()) {
			continue
		}
		if best == "" || len(host) < len(best) || (len(host) == len(best) && host < best) {
			best = host
		}
	}
	return best
}

// bufferedConn keeps bytes the proxy's reader already buffered (a client
// may send its ClientHello right behind the CONNECT).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// tunnelConn is a terminated TLS connection with what is known of it.
type tunnelConn struct {
	net.Conn
	info connInfo
}

// connQueue is a net.Listener fed with connections the emulator accepted
// and terminated itself.
type connQueue struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
