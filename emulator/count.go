package emulator

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// countingConn counts the bytes that cross a connection each way. Wrapped
// around the accepted socket it counts TLS records, as a network sensor at
// the interception point would see them.
type countingConn struct {
	net.Conn
	in, out atomic.Int64
	once    sync.Once
	onClose func()
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

func (c *countingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// closeNotifyConn runs onClose once when the connection the HTTP server
// owns is closed.
type closeNotifyConn struct {
	net.Conn
	once    sync.Once
	onClose func()
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.onClose)
	return err
}

// tlsSummary is the ledger entry for one terminated TLS connection.
func tlsSummary(start time.Time, info connInfo, st tls.ConnectionState, raw *countingConn) Entry {
	e := Entry{
		Kind:          KindTLS,
		Time:          start,
		End:           time.Now().UTC(),
		ClientIP:      info.clientIP,
		ClientPort:    info.port,
		Host:          info.host,
		SNI:           info.sni,
		RequestBytes:  raw.in.Load(),
		ResponseBytes: raw.out.Load(),
		ServerPort:    info.serverPort,
		DestIP:        info.destIP,
		DestPort:      info.destPort,
		Origin:        info.origin,
	}
	if st.HandshakeComplete {
		e.TLSVersion, e.Cipher = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
		e.TLSResumed = st.DidResume
	}
	return e
}

// requestWireSize is the size of r's request line and headers as the
// client sent them (Go keeps Host apart from the other headers).
func requestWireSize(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	return int64(n + headerWireSize(r.Header) + 2)
}

func headerWireSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// responseWireSize is the size of the status line and headers net/http
// writes for a response with these headers, and the body. It adds Date,
// and, as the mock flushes every answer before its handler returns,
// Transfer-Encoding: chunked where the handler set no Content-Length (the
// chunks' own framing is left out; the TLS summary counts every byte).
func responseWireSize(proto string, code int, h http.Header, body int64) int64 {
	n := len(proto) + 1 + 3 + 1 + len(http.StatusText(code)) + 2
	n += headerWireSize(h)
	if h.Get("Date") == "" {
		n += len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	}
	if h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
		n += len("Transfer-Encoding: chunked\r\n")
	}
	return int64(n+2) + body
}
