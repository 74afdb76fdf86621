package emulator

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"slices"
	"sync"
	"time"
)

// Entry is one request the emulator saw, as the ledger records it. The
// client socket (ClientIP, ClientPort) is the key on which the telemetry
// renderer joins the sensor's connect() with the host the client asked for.
type Entry struct {
	Seq int64 `json:"seq"`
	// Kind is empty for an HTTP request (or a CONNECT), KindTLS for the
	// summary of one TLS connection written when it closes.
	Kind          string    `json:"kind,omitempty"`
	Time          time.Time `json:"time"`
	ClientIP      string    `json:"client_ip"`
	ClientPort    int       `json:"client_port"`
	Host          string    `json:"host"`
	SNI           string    `json:"sni,omitempty"`
	HTTPHost      string    `json:"http_host,omitempty"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	UserAgent     string    `json:"user_agent,omitempty"`
	AuthScheme    string    `json:"auth_scheme,omitempty"`
	BytesReceived int64     `json:"bytes_received"`
	Status        int       `json:"status"`
	Refused       bool      `json:"refused,omitempty"`
	Note          string    `json:"note,omitempty"`
	Files         []File    `json:"files,omitempty"`
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
	// End is when the answer was written, or a TLS connection closed; TLSVersion and Cipher are what
	// its handshake chose.
	End        time.Time `json:"end,omitzero"`
	TLSVersion string    `json:"tls_version,omitempty"`
	Cipher     string    `json:"cipher,omitempty"`
	// ServerPort is the port the client reached (443 for the TLS
	// listeners and CONNECT tunnels).
	ServerPort int `json:"server_port,omitempty"`
	// Audit is what the request put in GitHub's audit log (audit.go).
	Audit []AuditEvent `json:"audit,omitempty"`
}

// KindTLS marks a ledger entry that sums up one TLS connection.
const KindTLS = "tls"

// IsRequest reports whether e is an HTTP request or CONNECT rather than a
// connection summary.
func (e Entry) IsRequest() bool { return e.Kind == "" }

// File is one uploaded file: its name as the client gave it and the hash of
// its decoded content.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
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
// upload can still be accounted for.
func uploaded(name string, content []byte) []File {
	files := []File{NewFile(name, content)}
	add := func(member string, r io.Reader) {
		data, err := io.ReadAll(io.LimitReader(r, maxMember))
		if err == nil {
			files = append(files, NewFile(name+"!"+member, data))
		}
	}
	if zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content))); err == nil {
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
	var r io.Reader = bytes.NewReader(content)
	if gz, err := gzip.NewReader(bytes.NewReader(content)); err == nil {
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

// Bounds on what is read out of an uploaded archive.
const (
	maxMembers = 1000
	maxMember  = 64 << 20
)
