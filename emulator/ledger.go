package emulator

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kinds of ledger entry.
const (
	// KindRequest is an HTTP request (or a CONNECT to the proxy); its Kind
	// field is empty, as in ledgers written before there were other kinds.
	KindRequest = ""
	// KindDNS is a query the DNS sinkhole answered: DNS holds the query
	// and the answer, Host the name asked for, ClientIP:ClientPort the
	// querying socket and DestIP:DestPort the sinkhole's. A DNS entry has
	// no Method, Path or Status.
	KindDNS = "dns"
)

// Entry is one thing the emulator saw, as the ledger records it: an HTTP
// request (Kind empty) or a DNS query (Kind "dns"). The client socket
// (ClientIP, ClientPort) is the key on which the telemetry renderer joins
// the sensor's connect() or DNS send with the host the client asked for.
// DestIP:DestPort is the address the client really dialled, where the
// emulator was dialled directly (the sandbox's addresses, or a container
// alias); it is empty behind the CONNECT proxy, which was dialled instead.
type Entry struct {
	Seq        int64     `json:"seq"`
	Kind       string    `json:"kind,omitempty"`
	Time       time.Time `json:"time"`
	ClientIP   string    `json:"client_ip"`
	ClientPort int       `json:"client_port"`
	// ServerPort is the port of the emulator's own end of that socket (the
	// proxy's or the TLS or SSH listener's), which tells apart two clients
	// that share a source port towards different listeners.
	ServerPort int `json:"server_port,omitempty"`
	// Origin is where the client is, as the caller that served the
	// listener named it (see [WithOrigin]): clients of two sandboxes hold
	// the same addresses and may hold the same socket, never the same
	// origin. Empty when the caller named none.
	Origin        string `json:"origin,omitempty"`
	DestIP        string `json:"dest_ip,omitempty"`
	DestPort      int    `json:"dest_port,omitempty"`
	Host          string `json:"host"`
	SNI           string `json:"sni,omitempty"`
	HTTPHost      string `json:"http_host,omitempty"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	UserAgent     string `json:"user_agent,omitempty"`
	AuthScheme    string `json:"auth_scheme,omitempty"`
	BytesReceived int64  `json:"bytes_received"`
	Status        int    `json:"status"`
	Refused       bool   `json:"refused,omitempty"`
	// Undelivered: the answer could not be written to the client, which
	// therefore does not know what the mock did with its request.
	Undelivered bool   `json:"undelivered,omitempty"`
	Note        string `json:"note,omitempty"`
	Files       []File `json:"files,omitempty"`
	// Objects are what the request did to stored objects without sending
	// their bytes (S3's CopyObject, DeleteObject and DeleteObjects): no
	// client bytes arrived, so they are not Files.
	Objects []ObjectAction `json:"objects,omitempty"`
	DNS     *DNSQuery      `json:"dns,omitempty"`
	// RequestBytes and ResponseBytes are what crossed the wire: for an
	// HTTP request the request line, headers and body as received and the
	// status line, headers and body as written; for a TLS connection the
	// TLS record bytes each way (handshake included).
	RequestBytes  int64 `json:"request_bytes,omitempty"`
	ResponseBytes int64 `json:"response_bytes,omitempty"`
	// ResponseBodyBytes is the body part of ResponseBytes (HTTP only);
	// BytesReceived is the request body's.
	ResponseBodyBytes   int64  `json:"response_body_bytes,omitempty"`
	ContentType         string `json:"content_type,omitempty"`
	ResponseContentType string `json:"response_content_type,omitempty"`
	Referer             string `json:"referer,omitempty"`
	// End is when the answer was written, or a TLS connection closed;
	// TLSVersion and Cipher are what its handshake chose.
	End        time.Time `json:"end,omitzero"`
	TLSVersion string    `json:"tls_version,omitempty"`
	Cipher     string    `json:"cipher,omitempty"`
	// TLSResumed: the handshake resumed a session of an earlier one.
	TLSResumed bool `json:"tls_resumed,omitempty"`
	// Audit is what the request put in GitHub's audit log (audit.go).
	Audit []AuditEvent `json:"audit,omitempty"`
}

// KindTLS marks a ledger entry that sums up one TLS connection, written
// when it closes.
const KindTLS = "tls"

// IsRequest reports whether e is an HTTP request (or proxy CONNECT).
func (e Entry) IsRequest() bool { return e.Kind == KindRequest }

// Delivered is the files e stored, when the mock accepted the request and
// told the client so: only those count as exfiltrated.
func (e Entry) Delivered() []File {
	if !e.IsRequest() || e.Status/100 != 2 || e.Undelivered {
		return nil
	}
	return e.Files
}

// DNSQuery is one question the DNS sinkhole answered.
type DNSQuery struct {
	// Name is the name asked for, lower case, without the final dot.
	Name string `json:"name"`
	// Type is the query type's mnemonic (A, AAAA, HTTPS, ...).
	Type string `json:"type"`
	// Proto is the transport, udp or tcp.
	Proto string `json:"proto"`
	// Rcode is the answer's response code: NOERROR or NXDOMAIN.
	Rcode string `json:"rcode"`
	// Answers are the addresses answered, empty for NXDOMAIN and for a
	// served name asked a type it has no record of.
	Answers []string `json:"answers,omitempty"`
}

// File is one uploaded file: its name as the client gave it and the hash of
// its decoded content.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Actions on stored objects.
const (
	ActionCopy   = "copy"
	ActionDelete = "delete"
)

// ObjectAction is one stored object a request copied or deleted. Size and
// SHA256 are the object's bytes: the copy's, or those a delete removed
// (none when there was nothing under the key, which S3 still reports as
// deleted). Error is S3's code for a key a DeleteObjects could not delete.
type ObjectAction struct {
	Action string `json:"action"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Source is the object a copy was made from, as s3://bucket/key.
	Source string `json:"source,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Error  string `json:"error,omitempty"`
}

// secretParams are query parameters that carry a credential; the ledger,
// the emulator's output and the reports show them masked, as they never
// show an Authorization header.
var secretParams = []string{"access_token", "private_token", "token", "oauth_token", "client_secret", "sig", "sid"}

// MaskSecrets replaces the value of every credential query parameter in a
// request URI with "***".
func MaskSecrets(uri string) string {
	p, q, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		k, _, hasValue := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && slices.Contains(secretParams, strings.ToLower(name)) {
			parts[i] = k + "=***"
		}
	}
	return p + "?" + strings.Join(parts, "&")
}

// NewFile hashes content under name.
func NewFile(name string, content []byte) File {
	sum := sha256.Sum256(content)
	return File{Name: name, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
}

// Ledger is the append-only record of every request, safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	entries []Entry
	next    int64
	onAdd   func(Entry)
}

// Add appends e, numbering it.
func (l *Ledger) Add(e Entry) {
	l.mu.Lock()
	l.next++
	e.Seq = l.next
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	if l.onAdd != nil {
		l.onAdd(e)
	}
}

// Entries returns a copy of every entry so far.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// uploaded is the ledger's record of one uploaded file: the file itself,
// and, when it is a tar (optionally gzipped) or zip archive, each regular
// file inside it as "archive!member", so that files archived before the
// upload can still be accounted for. Members are hashed as they are read.
func uploaded(name string, content payload) []File {
	files := []File{fileOf(name, content)}
	add := func(member string, r io.Reader) {
		if f, err := hashFile(name+"!"+member, io.LimitReader(r, maxMember)); err == nil {
			files = append(files, f)
		}
	}
	if zr, err := zip.NewReader(content, content.Size()); err == nil {
		for _, f := range zr.File {
			if f.FileInfo().Mode().IsRegular() {
				if rc, err := f.Open(); err == nil {
					add(f.Name, rc)
					rc.Close()
				}
			}
		}
		return files
	}
	var r io.Reader = bufio.NewReader(payloadReader(content))
	if gz, err := gzip.NewReader(payloadReader(content)); err == nil {
		r = gz
	}
	tr := tar.NewReader(r)
	for range maxMembers {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeReg {
			add(path.Clean(h.Name), tr)
		}
	}
	return files
}

// hashFile hashes what r holds under name.
func hashFile(name string, r io.Reader) (File, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return File{}, err
	}
	return File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Bounds on what is read out of an uploaded archive.
const (
	maxMembers = 1000
	maxMember  = 64 << 20
)

// Status is the query's status as Sysmon Event ID 22 writes it: a Windows
// DNS error code, 0 for success and 9003 (DNS_ERROR_RCODE_NAME_ERROR) for
// NXDOMAIN.
func (q *DNSQuery) Status() string {
	switch q.Rcode {
	case "NOERROR":
		return "0"
	case "NXDOMAIN":
		return "9003"
	case "SERVFAIL":
		return "9002"
	}
	return "9001"
}

// Results is the answer as Sysmon Event ID 22 writes QueryResults:
// "::ffff:a.b.c.d;" per address, "-" for none.
func (q *DNSQuery) Results() string {
	if len(q.Answers) == 0 {
		return "-"
	}
	var b strings.Builder
	for _, a := range q.Answers {
		b.WriteString("::ffff:" + a + ";")
	}
	return b.String()
}
