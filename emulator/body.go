package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/t1567001/harness/internal/jsonstream"
)

// Request bodies are read as they arrive: the files in them go to spools
// (base64 decoded on the way where the service encodes them), hashed as
// the bytes pass, so that memory stays bounded whatever the size or the
// number of bodies, and the body limit (413) is met while reading.

// Bounds on what a request body may make the mock hold.
const (
	// maxField is the longest short string member (a commit message, a
	// branch, a form field that is not a file).
	maxField = 64 << 10
	// maxSmallBody caps the bodies of the endpoints that take no file,
	// which are read whole.
	maxSmallBody = 1 << 20
	// maxFiles is the most files one request may carry.
	maxFiles = 1000
)

// memberError is a body member of the wrong type or size.
type memberError struct {
	path string
	msg  string
}

func (e *memberError) Error() string { return e.path + ": " + e.msg }

func typeError(path []string, kind jsonstream.Kind, want string) error {
	return &memberError{path: strings.Join(path, "."), msg: "cannot take a " + kind.String() + ", want " + want}
}

// tooManyFiles is a request with more than maxFiles files.
var tooManyFiles = &memberError{path: "files", msg: fmt.Sprintf("more than %d files", maxFiles)}

// bodyFailed answers err, met while reading r's body: 413 past the body
// limit, 400 for a body that is not what the endpoint takes (fail's
// message for JSON), 500 when the mock could not store what it received.
func bodyFailed(w http.ResponseWriter, r *http.Request, err error, fail func(int, string)) {
	noteText(r, "body: %v", err)
	var tooBig *http.MaxBytesError
	var syntax *jsonstream.SyntaxError
	var member *memberError
	switch {
	case errors.As(err, &tooBig):
		tooLarge(w, tooBig.Limit)
	case errors.Is(err, errSpool):
		fail(http.StatusInternalServerError, "could not store the request")
	case errors.As(err, &syntax), errors.As(err, &member):
		fail(http.StatusBadRequest, "Problems parsing JSON")
	default:
		fail(http.StatusBadRequest, "reading request body: "+err.Error())
	}
}

// walkJSON reads r's body as one JSON document, calling visit for each
// value; on failure it answers (bodyFailed) and is false.
func walkJSON(w http.ResponseWriter, r *http.Request, visit jsonstream.Visit, fail func(int, string)) bool {
	if err := jsonstream.Walk(r.Body, visit); err != nil {
		bodyFailed(w, r, err, fail)
		return false
	}
	return true
}

// decodeJSON reads the body of an endpoint that takes no file (at most
// maxSmallBody bytes, else 413) into v, answering the service's error on
// failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, fail func(int, string)) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	switch {
	case err != nil:
		bodyFailed(w, r, err, fail)
		return false
	case len(body) > maxSmallBody:
		tooLarge(w, maxSmallBody)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// text is a short string member of a JSON body, held up to maxField bytes.
type text struct {
	path string
	set  bool // present and not null
	b    []byte
}

// take is the member's visitor.
func (t *text) take(path []string, kind jsonstream.Kind, _ []byte) (io.Writer, error) {
	switch kind {
	case jsonstream.Null:
		t.set, t.b = false, t.b[:0]
		return nil, nil
	case jsonstream.String:
		t.path, t.set, t.b = strings.Join(path, "."), true, t.b[:0]
		return t, nil
	}
	return nil, typeError(path, kind, "a string")
}

func (t *text) Write(p []byte) (int, error) {
	if len(t.b)+len(p) > maxField {
		return 0, &memberError{path: t.path, msg: fmt.Sprintf("longer than %d bytes", maxField)}
	}
	t.b = append(t.b, p...)
	return len(p), nil
}

func (t *text) String() string { return string(t.b) }

// member is the visitor of one member of a JSON object body and what is
// under it.
type member func(path []string, kind jsonstream.Kind, literal []byte) (io.Writer, error)

// members is the visitor of a JSON object body whose members named in m
// are taken by their visitor; the others are read and dropped.
func members(m map[string]member) jsonstream.Visit {
	return func(path []string, kind jsonstream.Kind, literal []byte) (io.Writer, error) {
		if len(path) == 0 {
			return nil, container(path, kind, jsonstream.Object)
		}
		if take, ok := m[path[0]]; ok {
			return take(path, kind, literal)
		}
		return nil, nil
	}
}

// boolean is the visitor of a boolean member: true sets *v.
func boolean(v *bool) member {
	return func(path []string, kind jsonstream.Kind, literal []byte) (io.Writer, error) {
		switch kind {
		case jsonstream.Null:
			return nil, nil
		case jsonstream.Bool:
			*v = string(literal) == "true"
			return nil, nil
		}
		return nil, typeError(path, kind, "a boolean")
	}
}

// container checks that a member is an object or array (kind want) or null.
func container(path []string, kind, want jsonstream.Kind) error {
	if kind != want && kind != jsonstream.Null {
		return typeError(path, kind, "an "+want.String())
	}
	return nil
}

// upload is a string member that is a file, spooled as it arrives and
// base64-decoded on the way when the service sends it so.
type upload struct {
	sp  *spool
	dec *base64Writer // nil once closed: its buffers go
	err error         // the decoding's outcome
}

// newUpload starts a file for a member of kind; for null it is nil.
func (e *Emulator) newUpload(r *http.Request, path []string, kind jsonstream.Kind, b64 bool) (*upload, io.Writer, error) {
	switch kind {
	case jsonstream.Null:
		return nil, nil, nil
	case jsonstream.String:
	default:
		return nil, nil, typeError(path, kind, "a string")
	}
	u := &upload{sp: e.newSpool(r)}
	if b64 {
		u.dec = newBase64Writer(u.sp, false)
		return u, u.dec, nil
	}
	return u, u.sp, nil
}

// fileMember is the visitor of a string member that is a file, spooled
// into *dst as it arrives (base64-decoded on the way with b64).
func (e *Emulator) fileMember(r *http.Request, dst **upload, b64 bool) member {
	return func(path []string, kind jsonstream.Kind, _ []byte) (io.Writer, error) {
		u, w, err := e.newUpload(r, path, kind, b64)
		*dst = u
		return w, err
	}
}

// received is the file of a member taken as it is (no base64), empty
// when the member was absent or null.
func (u *upload) received() payload {
	if u == nil {
		return payloadOf(nil)
	}
	p, _ := u.finish() // not base64: no error
	return p
}

// finish is the received file: errBadBase64 when it was to be base64 and
// is not.
func (u *upload) finish() (payload, error) {
	if u.dec != nil {
		u.err, u.dec = u.dec.close(), nil
	}
	if u.err != nil {
		return nil, u.err
	}
	return u.sp.finish(), nil
}

// decodeIf is data base64-decoded when encoding says so (the services
// whose body may say it after the content); content that is not base64
// is answered with bad, another failure with fail (false then).
func (e *Emulator) decodeIf(w http.ResponseWriter, r *http.Request, data payload, encoding string, fail func(int, string), bad func()) (payload, bool) {
	if encoding != "base64" {
		return data, true
	}
	decoded, err := e.decodeSpooled(r, data, false)
	switch {
	case errors.Is(err, errBadBase64):
		bad()
		return nil, false
	case err != nil:
		bodyFailed(w, r, err, fail)
		return nil, false
	}
	return decoded, true
}

// decodeSpooled is p base64-decoded; trim skips spaces around it.
func (e *Emulator) decodeSpooled(r *http.Request, p payload, trim bool) (payload, error) {
	sp := e.newSpool(r)
	dec := newBase64Writer(sp, trim)
	if _, err := io.Copy(dec, payloadReader(p)); err != nil {
		return nil, err
	}
	if err := dec.close(); err != nil {
		return nil, err
	}
	return sp.finish(), nil
}

// newSpool starts a spool for a file of r's body; it is removed when the
// request ends, unless kept.
func (e *Emulator) newSpool(r *http.Request) *spool {
	rec, ok := r.Context().Value(recordKey{}).(*record)
	if !ok {
		return e.spools.new(newBudget()) // released with the emulator
	}
	sp := e.spools.new(rec.budget)
	rec.mu.Lock()
	rec.spools = append(rec.spools, sp)
	rec.mu.Unlock()
	return sp
}

// keep makes p, a spool of r, outlive the request (a stored gist file or
// paste, removed with the emulator), on disk unless it is small.
func keep(r *http.Request, p payload) error {
	sp, ok := p.(*spool)
	if !ok {
		return nil
	}
	if rec, ok := r.Context().Value(recordKey{}).(*record); ok {
		rec.mu.Lock()
		for i, s := range rec.spools {
			if s == sp {
				rec.spools = append(rec.spools[:i], rec.spools[i+1:]...)
				break
			}
		}
		rec.mu.Unlock()
	}
	if sp.size > keepInMemory {
		return sp.spill()
	}
	return nil
}

// rawBody spools r's whole body as one file.
func (e *Emulator) rawBody(r *http.Request) (payload, error) {
	sp := e.newSpool(r)
	if _, err := io.Copy(sp, r.Body); err != nil {
		return nil, err
	}
	return sp.finish(), nil
}

// readText is p as a string, at most maxField bytes of it.
func readText(p payload) string {
	b, _ := io.ReadAll(io.LimitReader(payloadReader(p), maxField))
	return string(b)
}

// gistFiles reads the files member of a gist body, {"files": {name:
// {"content": text}}}, each file's content spooled as it arrives.
type gistFiles struct {
	e     *Emulator
	r     *http.Request
	names []string           // in the body's order, each once
	files map[string]*upload // nil: no content, or null
}

func (e *Emulator) newGistFiles(r *http.Request) *gistFiles {
	return &gistFiles{e: e, r: r, files: map[string]*upload{}}
}

// visit is the visitor of the files member.
func (g *gistFiles) visit(path []string, kind jsonstream.Kind, _ []byte) (io.Writer, error) {
	switch len(path) {
	case 1:
		return nil, container(path, kind, jsonstream.Object)
	case 2:
		if err := container(path, kind, jsonstream.Object); err != nil {
			return nil, err
		}
		if _, ok := g.files[path[1]]; !ok {
			if len(g.names) == maxFiles {
				return nil, tooManyFiles
			}
			g.names = append(g.names, path[1])
		}
		g.files[path[1]] = nil
	case 3:
		if path[2] == "content" {
			u, w, err := g.e.newUpload(g.r, path, kind, false)
			g.files[path[1]] = u
			return w, err
		}
	}
	return nil, nil
}

// received is each named file's content, nil for none.
func (g *gistFiles) received() map[string]payload {
	out := make(map[string]payload, len(g.files))
	for name, u := range g.files {
		if u != nil {
			out[name] = u.received()
		}
	}
	return out
}

// joinPayloads is parts one after the other in one spool of r, kept (a
// multipart upload's object); the parts' own spools go.
func (e *Emulator) joinPayloads(r *http.Request, parts []payload) (payload, error) {
	sp := e.newSpool(r)
	for _, p := range parts {
		if _, err := io.Copy(sp, payloadReader(p)); err != nil {
			return nil, err
		}
	}
	joined := sp.finish()
	if err := keep(r, joined); err != nil {
		return nil, err
	}
	for _, p := range parts {
		if part, ok := p.(*spool); ok {
			if err := e.spools.release(part); err != nil {
				return nil, err
			}
		}
	}
	return joined, nil
}
