// Package emulator is the mock GitHub (and GitLab, Bitbucket, Codeberg,
// Azure DevOps) that the atomics exfiltrate to. It serves the REST endpoints
// the atomics use, git smart-HTTP backed by real bare repositories through
// `git http-backend`, TLS with a certificate authority made per run, and, in
// local mode, the CONNECT proxy the atomics are pointed at, which refuses
// every host that is not a code repository. Every request lands in the
// Ledger with the client socket, the host asked for, and the name, size and
// sha256 of every uploaded file.
package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config tunes an Emulator. Zero values take the defaults below.
type Config struct {
	// DataDir holds the bare repositories; it must exist.
	DataDir string
	// MaxBody caps a request body; larger requests get 413.
	MaxBody int64
	// Git is the git binary whose http-backend serves the repositories.
	Git string
	// ReadTimeout and WriteTimeout bound one request.
	ReadTimeout, WriteTimeout time.Duration
	// ErrorLog receives server-side errors (default: discarded).
	ErrorLog io.Writer
	// Addresses maps each served host to the addresses its clients dial
	// (the sandbox's table): the DNS sinkhole answers them, and a
	// connection to one of them without SNI or Host is for that host.
	Addresses map[string][]netip.Addr
	// OnEntry, when set, sees each ledger entry as it is recorded.
	OnEntry func(Entry)
	// OnInflight, when set, sees the number of requests being handled each
	// time it changes, so a caller outside the process can wait for the
	// ledger to settle.
	OnInflight func(n int64)
}

const (
	defaultMaxBody = 64 << 20
	defaultTimeout = 2 * time.Minute
)

// Emulator is one mock code-hosting service with its ledger and state.
type Emulator struct {
	cfg    Config
	ca     *CA
	ledger *Ledger
	state  *state
	pastes pastes
	s3     s3Store
	mega   *megaStore
	spools *spools
	audit  *auditLog
	git    *gitServer
	routes map[string]http.Handler

	tunnels *connQueue
	inner   *http.Server
	// ticketKeys encrypt the TLS session tickets of every connection.
	ticketKeys [][32]byte

	// inflight counts requests being handled; its hook runs under the same
	// lock so that observers see the changes in order.
	inflightMu sync.Mutex
	inflight   int64
	mu         sync.Mutex
	servers    []*http.Server
	wg         sync.WaitGroup
}

// New builds an emulator that signs its server certificates with ca.
func New(cfg Config, ca *CA) (*Emulator, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("emulator: DataDir is required")
	}
	if st, err := os.Stat(cfg.DataDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("emulator: data dir %q: not a directory (%v)", cfg.DataDir, err)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaultMaxBody
	}
	if cfg.Git == "" {
		cfg.Git = "git"
	}
	gitPath, err := exec.LookPath(cfg.Git)
	if err != nil {
		return nil, fmt.Errorf("emulator: git is needed for the smart-HTTP backend: %w", err)
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = defaultTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultTimeout
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = io.Discard
	}
	e := &Emulator{
		cfg:     cfg,
		ca:      ca,
		ledger:  &Ledger{onAdd: cfg.OnEntry},
		state:   newState(),
		spools:  newSpools(spoolDir(cfg.DataDir)),
		audit:   newAuditLog(),
		git:     &gitServer{git: gitPath, root: cfg.DataDir, errLog: cfg.ErrorLog},
		tunnels: newConnQueue(),
	}
	e.ticketKeys = make([][32]byte, 1)
	if _, err := rand.Read(e.ticketKeys[0][:]); err != nil {
		return nil, fmt.Errorf("emulator: session ticket key: %w", err)
	}
	if e.mega, err = newMegaStore(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e.routes = e.buildRoutes()
	e.inner = e.newServer(e.Handler())
	e.inner.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*tunnelConn); ok {
			return context.WithValue(ctx, connInfoKey{}, tc.info)
		}
		return ctx
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = e.inner.Serve(e.tunnels)
	}()
	return e, nil
}

// Ledger is the record of every request.
func (e *Emulator) Ledger() *Ledger { return e.ledger }

// CA is the authority the emulator's certificates chain to.
func (e *Emulator) CA() *CA { return e.ca }

// Close stops every server the emulator started and waits for them.
func (e *Emulator) Close() error {
	e.mu.Lock()
	servers := append([]*http.Server{e.inner}, e.servers...)
	e.mu.Unlock()
	var errs []error
	for _, s := range servers {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.tunnels.Close()
	e.wg.Wait()
	if err := e.spools.closeAll(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (e *Emulator) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ReadTimeout:       e.cfg.ReadTimeout,
		WriteTimeout:      e.cfg.WriteTimeout,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(e.cfg.ErrorLog, "emulator: ", log.LstdFlags),
	}
}

func (e *Emulator) serve(s *http.Server, l net.Listener) error {
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	err := s.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// connInfo is what the emulator knows of a client connection before any
// HTTP request arrives on it.
type connInfo struct {
	host     string // CONNECT target host, or SNI on a direct TLS listener
	sni      string
	clientIP string
	port     int
	destIP   string // the address the client dialled, on a direct listener
	destPort int
	// serverPort is the listener's end of the client's socket.
	serverPort int
	origin     string
}

type connInfoKey struct{}

type originKey struct{}

// WithOrigin returns ctx naming where the clients of the listeners served
// under it are: one sandbox's network namespace, one lane's proxy
// listener. Every ledger entry of a connection or DNS query that the
// emulator's Serve methods (and its SSH server's) accept under it carries
// origin in Entry.Origin, so that the entries of clients that hold the
// same addresses in different namespaces are still told apart.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

func originOf(ctx context.Context) string {
	o, _ := ctx.Value(originKey{}).(string)
	return o
}

func splitAddr(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// localPort is the server's port of the connection r came on, or 0.
func localPort(r *http.Request) int {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		_, p := splitAddr(a.String())
		return p
	}
	return 0
}

// serviceHost is the host a request is for: the tunnel's host when it came
// through the proxy or TLS listener, else the Host header.
func (e *Emulator) serviceHost(r *http.Request) string {
	info, _ := r.Context().Value(connInfoKey{}).(connInfo)
	if info.host != "" {
		return info.host
	}
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.ToLower(h)
	if !IsServedHost(h) && info.destIP != "" {
		if at := e.hostAt(info.destIP); at != "" {
			return at
		}
	}
	return h
}

// Handler serves every emulated host, routing on the service host and
// recording each request in the ledger. It can be mounted on any server.
func (e *Emulator) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A client can be gone before its request is recorded (a push is
		// read back from the repository after the answer): callers wait for
		// the count to fall to zero before they read the ledger.
		e.track(1)
		defer e.track(-1)
		host := e.serviceHost(r)
		rec := &record{budget: newBudget()}
		entry := Entry{
			Time:       time.Now().UTC(),
			Host:       host,
			HTTPHost:   r.Host,
			Method:     r.Method,
			Path:       MaskSecrets(r.URL.RequestURI()),
			UserAgent:  r.UserAgent(),
			AuthScheme: authScheme(r),
		}
		entry.ClientIP, entry.ClientPort = splitAddr(r.RemoteAddr)
		entry.ServerPort = localPort(r)
		if info, ok := r.Context().Value(connInfoKey{}).(connInfo); ok {
			entry.SNI = info.sni
			entry.ClientIP, entry.ClientPort, entry.ServerPort = info.clientIP, info.port, info.serverPort
			entry.DestIP, entry.DestPort = info.destIP, info.destPort
			entry.Origin = info.origin
		}
		entry.ContentType = r.Header.Get("Content-Type")
		entry.Referer = r.Referer()
		body := &countingReader{r: http.MaxBytesReader(w, r.Body, e.cfg.MaxBody)}
		r.Body = body
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		finishAudit := e.auditBegin(r, host)

		if r.ContentLength > e.cfg.MaxBody {
			tooLarge(sw, e.cfg.MaxBody)
		} else if h, ok := e.routes[ServedName(host)]; ok {
			h.ServeHTTP(sw, r)
		} else {
			// Unreachable through the proxy, which only tunnels served hosts.
			http.Error(sw, "no such host on this emulator: "+host, http.StatusMisdirectedRequest)
		}
		// The answer is on its way only once it left for the socket: an
		// upload whose answer could not be written is not delivered, as the
		// client, which saw an error, would say.
		if err := http.NewResponseController(sw).Flush(); err != nil || sw.err != nil {
			entry.Undelivered = true
		}
		// Count what the client sent even when a handler stopped reading early.
		_, _ = io.Copy(io.Discard, body)
		for _, sp := range rec.spools {
			if err := e.spools.release(sp); err != nil {
				fmt.Fprintf(e.cfg.ErrorLog, "emulator: %v\n", err)
			}
		}

		entry.BytesReceived = body.n
		entry.Status = sw.status()
		entry.RequestBytes = requestWireSize(r) + body.n
		entry.ResponseBodyBytes = sw.n
		entry.ResponseBytes = responseWireSize(r.Proto, entry.Status, sw.Header(), sw.n)
		entry.Files = rec.files
		entry.Objects = rec.objects
		entry.Note = rec.note
		entry.ResponseContentType = sw.Header().Get("Content-Type")
		entry.End = time.Now().UTC()
		entry.Audit = finishAudit(entry)
		e.ledger.Add(entry)
	})
}

func (e *Emulator) track(d int64) {
	e.inflightMu.Lock()
	defer e.inflightMu.Unlock()
	e.inflight += d
	if e.cfg.OnInflight != nil {
		e.cfg.OnInflight(e.inflight)
	}
}

func (e *Emulator) inFlight() int64 {
	e.inflightMu.Lock()
	defer e.inflightMu.Unlock()
	return e.inflight
}

// Quiesce waits until no request is being handled, so that the ledger holds
// everything clients were answered for.
func (e *Emulator) Quiesce(ctx context.Context) error {
	for e.inFlight() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("emulator: %d request(s) still in flight: %w", e.inFlight(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// record collects what a handler learned about the request for the
// ledger, and the spools of its body, removed when it ends.
type record struct {
	mu      sync.Mutex
	files   []File
	objects []ObjectAction
	note    string
	budget  *budget
	spools  []*spool
}

type recordKey struct{}

func noteFiles(r *http.Request, files ...File) {
	if rec, ok := r.Context().Value(recordKey{}).(*record); ok {
		rec.mu.Lock()
		rec.files = append(rec.files, files...)
		rec.mu.Unlock()
	}
}

func noteObjects(r *http.Request, actions ...ObjectAction) {
	if rec, ok := r.Context().Value(recordKey{}).(*record); ok {
		rec.mu.Lock()
		rec.objects = append(rec.objects, actions...)
		rec.mu.Unlock()
	}
}

func noteText(r *http.Request, format string, args ...any) {
	if rec, ok := r.Context().Value(recordKey{}).(*record); ok {
		rec.mu.Lock()
		rec.note = fmt.Sprintf(format, args...)
		rec.mu.Unlock()
	}
}

// authScheme names how the client authenticated, never with what.
func authScheme(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.Header.Get("Private-Token") != "" {
			return "private-token"
		}
		return ""
	}
	scheme, _, _ := strings.Cut(h, " ")
	return strings.ToLower(scheme)
}

// hasCredential reports whether the request carries a non-empty credential.
func hasCredential(r *http.Request) bool {
	if r.Header.Get("Private-Token") != "" {
		return true
	}
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.TrimSpace(cred) != ""
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

type statusWriter struct {
	http.ResponseWriter
	code int
	n    int64 // body bytes written
	err  error // the first write that failed
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.n += int64(n)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *statusWriter) Flush() { _ = s.FlushError() }

// FlushError flushes the response to the connection and says whether it
// could (http.ResponseController uses it).
func (s *statusWriter) FlushError() error {
	err := http.NewResponseController(s.ResponseWriter).Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	if err != nil && s.err == nil {
		s.err = err
	}
	return err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

func tooLarge(w http.ResponseWriter, limit int64) {
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
		"message": fmt.Sprintf("request body is larger than %d bytes", limit),
	})
}
