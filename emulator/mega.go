package emulator

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// MEGA as rclone's mega backend (github.com/t3rm1n4l/go-mega) calls it, for
// ART's T1567.002 Mega test: the JSON-RPC API on g.api.mega.co.nz
// (/cs?id=N&sid=S, an array of commands in, an array of results out, a
// failure a negative number), uploads of AES-CTR chunks to a
// *.userstorage.mega.co.nz URL, and the server-to-client event poll (/sc,
// then a wait on /wsc). Accounts are data (mega_accounts.yaml): a login
// proves the password as MEGA's v2 accounts do, and a wrong one fails with
// -9. MEGA's server never sees a key; the mock, which made the account's
// master key, opens what the client stores with it as the account's own
// clients would: each file put (p) is decrypted with the key it is put
// with, its chunk MACs and meta-MAC checked as a MEGA client checks a
// download (a mismatch is refused with EKEY), and the plaintext's name,
// folder, size and sha256 go in the ledger.

// The served names: the API, and the storage hosts' wildcard.
const (
	megaAPIHost       = "g.api.mega.co.nz"
	megaStorageDomain = "userstorage.mega.co.nz"
	// megaStorageHost is the storage host the mock's upload and download
	// URLs name, as MEGA names one of its own.
	megaStorageHost = "gfs270n406." + megaStorageDomain
	// megaWaitMax is the longest a wait (/wsc) is held with nothing to
	// tell; the client then polls again.
	megaWaitMax = 50 * time.Second
)

// megaError is a MEGA API error code, sent as a bare negative number.
type megaError int

const (
	megaEINTERNAL megaError = -1
	megaEARGS     megaError = -2
	megaERANGE    megaError = -7
	megaENOENT    megaError = -9
	megaECIRCULAR megaError = -10
	megaEACCESS   megaError = -11
	megaEKEY      megaError = -14
	megaESID      megaError = -15
)

var megaErrorNames = map[megaError]string{
	megaEINTERNAL: "EINTERNAL", megaEARGS: "EARGS", megaERANGE: "ERANGE", megaENOENT: "ENOENT",
	megaECIRCULAR: "ECIRCULAR", megaEACCESS: "EACCESS", megaEKEY: "EKEY", megaESID: "ESID",
}

func (c megaError) String() string { return fmt.Sprintf("%s (%d)", megaErrorNames[c], int(c)) }

// Node types.
const (
	megaFile = iota
	megaFolder
	megaRoot
	megaInbox
	megaTrash
)

//go:embed mega_accounts.yaml
var megaAccountsFile []byte

type megaAccountSpec struct {
	Password string `yaml:"password"`
	Name     string `yaml:"name"`
}

// parseMegaAccounts reads the accounts file, keyed by lower-case e-mail.
func parseMegaAccounts(data []byte) (map[string]megaAccountSpec, error) {
	var f struct {
		Accounts map[string]megaAccountSpec `yaml:"accounts"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("mega accounts: %w", err)
	}
	out := map[string]megaAccountSpec{}
	for email, spec := range f.Accounts {
		if spec.Password == "" {
			return nil, fmt.Errorf("mega accounts: %s has no password", email)
		}
		out[strings.ToLower(email)] = spec
	}
	return out, nil
}

// megaAccount is one account: its secrets, made at its first prelogin,
// and (under the store's lock) its nodes and event log.
type megaAccount struct {
	email string
	spec  megaAccountSpec

	once    sync.Once
	err     error
	salt    []byte
	authKey []byte
	master  []byte
	rsa     *rsa.PrivateKey
	handle  string // the user handle, 11 characters
	k       string // the master key encrypted with the password key
	privk   string
	wait    string // the token of its wait URL

	nodes  map[string]*megaNode
	root   string
	inbox  string
	trash  string
	events []json.RawMessage // the sequence number is the index
	wake   chan struct{}     // closed when an event is logged
}

// setup makes the account's keys: a random salt, master key and RSA key,
// and the master key encrypted with the key its password derives.
func (a *megaAccount) setup() error {
	a.once.Do(func() {
		rnd := func(n int) []byte {
			b := make([]byte, n)
			_, _ = rand.Read(b)
			return b
		}
		a.salt, a.master = rnd(32), rnd(16)
		passKey, authKey := megaDerive(a.spec.Password, a.salt)
		a.authKey = authKey
		k, err := megaECB(passKey, a.master, false)
		if err != nil {
			a.err = err
			return
		}
		a.k = megaB64(k)
		if a.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			a.err = fmt.Errorf("mega account %s: %w", a.email, err)
			return
		}
		if a.privk, err = megaPrivK(a.rsa, a.master); err != nil {
			a.err = err
			return
		}
		a.handle, a.wait = megaB64(rnd(8)), megaB64(rnd(24))
		a.nodes = map[string]*megaNode{}
		now := time.Now().Unix()
		for _, t := range []int{megaRoot, megaInbox, megaTrash} {
			n := &megaNode{h: megaHandle(), t: t, ts: now}
			a.nodes[n.h] = n
			switch t {
			case megaRoot:
				a.root = n.h
			case megaInbox:
				a.inbox = n.h
			case megaTrash:
				a.trash = n.h
			}
		}
		a.wake = make(chan struct{})
	})
	return a.err
}

// megaNode is a node as the client put it, with what the mock opened.
type megaNode struct {
	h, parent string
	t         int
	a, k      string // attributes and key as sent (k without "owner:")
	key       []byte // the AES key that opens a
	name      string
	size      int64
	ts        int64
	data      payload // a file's ciphertext, for downloads
}

// megaNodeJSON is a node as MEGA lists it ("f") and announces it ("t").
type megaNodeJSON struct {
	H  string `json:"h"`
	P  string `json:"p"`
	U  string `json:"u"`
	T  int    `json:"t"`
	A  string `json:"a"`
	K  string `json:"k"`
	S  *int64 `json:"s,omitempty"`
	TS int64  `json:"ts"`
}

func (n *megaNode) json(owner string) megaNodeJSON {
	j := megaNodeJSON{H: n.h, P: n.parent, U: owner, T: n.t, A: n.a, TS: n.ts}
	if n.t == megaFile || n.t == megaFolder {
		j.K = owner + ":" + n.k
	}
	if n.t == megaFile {
		size := n.size
		j.S = &size
	}
	return j
}

// megaUpload is an upload target (u) and the ciphertext sent to it.
type megaUpload struct {
	account *megaAccount
	size    int64
	chunks  map[int64]payload // by offset
	handle  string            // the completion handle, once every byte is in
}

// megaStore is the mock's MEGA: the accounts, sessions and transfers.
type megaStore struct {
	specs map[string]megaAccountSpec

	mu        sync.Mutex
	accounts  map[string]*megaAccount
	sessions  map[string]*megaAccount // by sid
	waits     map[string]*megaAccount // by the wait URL's token
	uploads   map[string]*megaUpload  // by the upload URL's token
	completed map[string]*megaUpload  // by completion handle
	downloads map[string]*megaNode    // by the download URL's token
}

func newMegaStore() (*megaStore, error) {
	specs, err := parseMegaAccounts(megaAccountsFile)
	if err != nil {
		return nil, err
	}
	return &megaStore{specs: specs, accounts: map[string]*megaAccount{}, sessions: map[string]*megaAccount{}, waits: map[string]*megaAccount{},
		uploads: map[string]*megaUpload{}, completed: map[string]*megaUpload{}, downloads: map[string]*megaNode{}}, nil
}

// account is the account of email, its keys made, or nil for none.
func (s *megaStore) account(email string) (*megaAccount, error) {
	s.mu.Lock()
	a := s.accounts[email]
	if a == nil {
		spec, ok := s.specs[email]
		if !ok {
			s.mu.Unlock()
			return nil, nil
		}
		a = &megaAccount{email: email, spec: spec}
		s.accounts[email] = a
	}
	s.mu.Unlock()
	if err := a.setup(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.waits[a.wait] = a
	s.mu.Unlock()
	return a, nil
}

func (s *megaStore) session(sid string) *megaAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

// logEvent appends an action packet to a's log and wakes its waits; the
// caller holds the store's lock.
func (a *megaAccount) logEvent(ev any) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	a.events = append(a.events, b)
	close(a.wake)
	a.wake = make(chan struct{})
}

// megaSN is a position in an event log as MEGA writes it: 8 bytes, base64.
func megaSN(n int) string { return megaB64(binary.BigEndian.AppendUint64(nil, uint64(n))) }

func parseMegaSN(s string) (int, bool) {
	b, err := megaUnB64(s)
	if err != nil || len(b) != 8 || binary.BigEndian.Uint64(b) > 1<<31 {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(b)), true
}

// megaHandle is a new node handle: 6 random bytes, 8 characters.
func megaHandle() string { return megaToken(6) }

func megaToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return megaB64(b)
}

func (e *Emulator) megaRoutes(routes map[string]http.Handler) {
	notFound := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "", http.StatusNotFound) }
	api := http.NewServeMux()
	api.HandleFunc("POST /cs", e.megaAPI)
	api.HandleFunc("POST /sc", e.megaPoll)
	api.HandleFunc("GET /wsc/{token}", e.megaWait)
	api.HandleFunc("/", notFound)
	routes[megaAPIHost] = api
	storage := http.NewServeMux()
	storage.HandleFunc("POST /ul/{token}/{offset}", e.megaUploadChunk)
	storage.HandleFunc("GET /dl/{token}/{range}", e.megaDownload)
	storage.HandleFunc("/", notFound)
	routes["*."+megaStorageDomain] = storage
}

func megaReply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(strconv.Itoa(int(megaEINTERNAL)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}

// megaAPI answers /cs: each command of the array in turn, an error as its
// code in the array; a request that is not an array, or names a session
// that does not exist, is answered with a bare code.
func (e *Emulator) megaAPI(w http.ResponseWriter, r *http.Request) {
	var cmds []json.RawMessage
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	if err != nil || len(body) > maxSmallBody || json.Unmarshal(body, &cmds) != nil || len(cmds) == 0 {
		noteText(r, "not a MEGA API request (a JSON array of commands): %v", megaEARGS)
		megaReply(w, megaEARGS)
		return
	}
	var a *megaAccount
	if sid := r.URL.Query().Get("sid"); sid != "" {
		if a = e.mega.session(sid); a == nil {
			noteText(r, "no such session: %v", megaESID)
			megaReply(w, megaESID)
			return
		}
	}
	results := make([]any, len(cmds))
	notes := make([]string, len(cmds))
	for i, raw := range cmds {
		results[i], notes[i] = e.megaCommand(r, a, raw)
	}
	noteText(r, "%s", strings.Join(notes, "; "))
	megaReply(w, results)
}

// megaCommand runs one command of account a's session (nil before login)
// and returns its result and what the ledger says of it.
func (e *Emulator) megaCommand(r *http.Request, a *megaAccount, raw json.RawMessage) (any, string) {
	var cmd struct {
		A string `json:"a"`
	}
	if err := json.Unmarshal(raw, &cmd); err != nil {
		return megaEARGS, fmt.Sprintf("a command that is not an object: %v", megaEARGS)
	}
	switch cmd.A {
	case "us0":
		return e.megaPrelogin(raw)
	case "us":
		return e.megaLogin(raw)
	}
	if a == nil {
		return megaEACCESS, fmt.Sprintf("%s without a session: %v", cmd.A, megaEACCESS)
	}
	switch cmd.A {
	case "ug":
		return map[string]any{"u": a.handle, "s": 1, "email": a.email, "name": a.spec.Name, "k": a.k, "c": 0,
			"pubk": megaPubK(&a.rsa.PublicKey), "privk": a.privk}, "ug: user " + a.email
	case "uq":
		return e.megaQuota(a), "uq: quota of " + a.email
	case "f":
		return e.megaFiles(a)
	case "u":
		return e.megaUploadTarget(a, raw)
	case "p":
		return e.megaPut(r, a, raw)
	case "m", "d", "a":
		return e.megaChange(a, cmd.A, raw)
	case "g":
		return e.megaDownloadURL(a, raw)
	}
	return megaEARGS, fmt.Sprintf("%q is not a command this mock serves: %v", cmd.A, megaEARGS)
}

func (e *Emulator) megaPrelogin(raw json.RawMessage) (any, string) {
	var req struct {
		User string `json:"user"`
	}
	_ = json.Unmarshal(raw, &req)
	email := strings.ToLower(req.User)
	a, err := e.mega.account(email)
	switch {
	case err != nil:
		return megaEINTERNAL, fmt.Sprintf("us0 %s: %v: %v", email, err, megaEINTERNAL)
	case a == nil:
		return megaENOENT, fmt.Sprintf("us0 %s: no such account: %v", email, megaENOENT)
	}
	return map[string]any{"v": 2, "s": megaB64(a.salt)}, fmt.Sprintf("us0 %s: account version 2, salt sent", email)
}

// megaLogin checks the authentication key the client derived from the
// password and answers the master key, the RSA key and the session id
// encrypted to it, as MEGA does.
func (e *Emulator) megaLogin(raw json.RawMessage) (any, string) {
	var req struct {
		User string `json:"user"`
		UH   string `json:"uh"`
	}
	_ = json.Unmarshal(raw, &req)
	email := strings.ToLower(req.User)
	a, err := e.mega.account(email)
	if err != nil {
		return megaEINTERNAL, fmt.Sprintf("us %s: %v: %v", email, err, megaEINTERNAL)
	}
	uh, _ := megaUnB64(req.UH)
	if a == nil || subtle.ConstantTimeCompare(uh, a.authKey) != 1 {
		return megaENOENT, fmt.Sprintf("us %s: login refused, wrong e-mail or password: %v", email, megaENOENT)
	}
	sid := make([]byte, 43)
	filler := make([]byte, 2048/8-1-len(sid)) // under the modulus
	_, _ = rand.Read(sid)
	_, _ = rand.Read(filler)
	sid[0] |= 1 // the client reads the number's bytes: no leading zero
	e.mega.mu.Lock()
	e.mega.sessions[megaB64(sid)] = a
	e.mega.mu.Unlock()
	return map[string]any{"csid": megaCSID(&a.rsa.PublicKey, sid, filler), "privk": a.privk, "k": a.k, "u": a.handle, "ach": 1},
		fmt.Sprintf("us %s: logged in, session opened", email)
}

func (e *Emulator) megaQuota(a *megaAccount) any {
	e.mega.mu.Lock()
	defer e.mega.mu.Unlock()
	var used int64
	per := map[string][]int64{}
	for _, top := range []string{a.root, a.inbox, a.trash} {
		u := []int64{0, 0, 0, 0, 0}
		for _, n := range a.nodes {
			if n.t <= megaFolder && a.under(n.h, top) {
				if n.t == megaFile {
					u[0] += n.size
					u[1]++
				} else {
					u[2]++
				}
			}
		}
		per[top] = u
		used += u[0]
	}
	return map[string]any{"mstrg": int64(20 << 30), "cstrg": used, "cstrgn": per}
}

// under reports whether node h is top or in it; the store's lock is held.
func (a *megaAccount) under(h, top string) bool {
	for range len(a.nodes) + 1 {
		if h == top {
			return true
		}
		n := a.nodes[h]
		if n == nil {
			return false
		}
		h = n.parent
	}
	return false
}

// path is where node h is, as "test/finance_q3.csv" under the Cloud
// Drive, or under "Rubbish Bin/" or "Inbox/"; the store's lock is held.
func (a *megaAccount) path(h string) string {
	var parts []string
	for range len(a.nodes) + 1 {
		n := a.nodes[h]
		if n == nil {
			break
		}
		switch n.t {
		case megaTrash:
			parts = append(parts, "Rubbish Bin")
		case megaInbox:
			parts = append(parts, "Inbox")
		case megaFile, megaFolder:
			parts = append(parts, n.name)
		}
		if n.t >= megaRoot {
			break
		}
		h = n.parent
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}

// megaFiles answers "f": every node, parents before children, and the
// event log's position.
func (e *Emulator) megaFiles(a *megaAccount) (any, string) {
	e.mega.mu.Lock()
	defer e.mega.mu.Unlock()
	depth := func(n *megaNode) int {
		d := 0
		for p := n; p != nil && p.parent != ""; p = a.nodes[p.parent] {
			d++
			if d > len(a.nodes) {
				break
			}
		}
		return d
	}
	nodes := make([]*megaNode, 0, len(a.nodes))
	for _, n := range a.nodes {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(x, y *megaNode) int {
		if c := depth(x) - depth(y); c != 0 {
			return c
		}
		return strings.Compare(x.h, y.h)
	})
	list := make([]megaNodeJSON, len(nodes))
	for i, n := range nodes {
		list[i] = n.json(a.handle)
	}
	return map[string]any{"f": list, "ok": []any{}, "s": []any{}, "u": []any{map[string]any{"u": a.handle, "c": 2, "m": a.email}},
		"sn": megaSN(len(a.events))}, fmt.Sprintf("f: %d node(s) of %s", len(list), a.email)
}

// megaStorageURL is the storage host's URL as MEGA gives it: plain HTTP
// unless the client asks for TLS ("ssl"), as the bytes are encrypted
// already (rclone 1.60's go-mega never asks).
func megaStorageURL(ssl int) string {
	if ssl > 0 {
		return "https://" + megaStorageHost
	}
	return "http://" + megaStorageHost
}

func (e *Emulator) megaUploadTarget(a *megaAccount, raw json.RawMessage) (any, string) {
	var req struct {
		S   int64 `json:"s"`
		SSL int   `json:"ssl"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.S < 0 {
		return megaEARGS, fmt.Sprintf("u: no size: %v", megaEARGS)
	}
	token := megaToken(30)
	e.mega.mu.Lock()
	e.mega.uploads[token] = &megaUpload{account: a, size: req.S, chunks: map[int64]payload{}}
	e.mega.mu.Unlock()
	url := megaStorageURL(req.SSL) + "/ul/" + token
	return map[string]any{"p": url}, fmt.Sprintf("u: upload target for %d bytes: %s", req.S, url[:strings.Index(url, "/ul/")])
}

// megaUploadChunk takes one chunk of ciphertext at its offset. Once every
// byte of the announced size is in, the answer is the completion handle
// (the client puts the file with it); before, it is empty.
func (e *Emulator) megaUploadChunk(w http.ResponseWriter, r *http.Request) {
	fail := func(code megaError) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strconv.Itoa(int(code)))
	}
	off, err := strconv.ParseInt(r.PathValue("offset"), 10, 64)
	e.mega.mu.Lock()
	up := e.mega.uploads[r.PathValue("token")]
	e.mega.mu.Unlock()
	switch {
	case up == nil:
		noteText(r, "chunk for no upload target: %v", megaENOENT)
		fail(megaENOENT)
		return
	case err != nil:
		noteText(r, "chunk offset %q: %v", r.PathValue("offset"), megaERANGE)
		fail(megaERANGE)
		return
	}
	body, err := e.rawBody(r)
	if err != nil {
		bodyFailed(w, r, err, func(code int, _ string) { w.WriteHeader(code); fail(megaEINTERNAL) })
		return
	}
	if off < 0 || off+body.Size() > up.size || (body.Size() == 0 && up.size != 0) {
		noteText(r, "chunk of %d bytes at %d, out of the upload's %d: %v", body.Size(), off, up.size, megaERANGE)
		fail(megaERANGE)
		return
	}
	if err := keep(r, body); err != nil {
		noteText(r, "chunk: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		fail(megaEINTERNAL)
		return
	}
	e.mega.mu.Lock()
	if old, ok := up.chunks[off]; ok && old != body {
		e.releasePayload(old)
	}
	up.chunks[off] = body
	var received int64
	complete := up.handle == ""
	next := int64(0)
	for _, o := range slices.Sorted(maps.Keys(up.chunks)) {
		received += up.chunks[o].Size()
		if o != next {
			complete = false
		}
		next = o + up.chunks[o].Size()
	}
	complete = complete && next == up.size && received == up.size
	if complete {
		up.handle = megaToken(27)
		e.mega.completed[up.handle] = up
	}
	handle := up.handle
	e.mega.mu.Unlock()
	noteText(r, "chunk at %d: %d encrypted bytes (%d of %d received)", off, body.Size(), received, up.size)
	w.Header().Set("Content-Type", "text/plain")
	if handle != "" {
		_, _ = io.WriteString(w, handle)
	}
}

// releasePayload drops a stored spool.
func (e *Emulator) releasePayload(p payload) {
	if sp, ok := p.(*spool); ok {
		if err := e.spools.release(sp); err != nil {
			fmt.Fprintf(e.cfg.ErrorLog, "emulator: %v\n", err)
		}
	}
}

type megaPutNode struct {
	H string `json:"h"`
	T int    `json:"t"`
	A string `json:"a"`
	K string `json:"k"`
}

// megaPut answers "p": new folders, and files whose upload completed.
// Each is opened with the key it is put with: the attributes must decrypt
// to a name, and a file's bytes must decrypt to the MAC its key holds;
// the plaintext of each file goes in the ledger under its folder path.
func (e *Emulator) megaPut(r *http.Request, a *megaAccount, raw json.RawMessage) (any, string) {
	var req struct {
		T string        `json:"t"`
		N []megaPutNode `json:"n"`
		I string        `json:"i"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || len(req.N) == 0 {
		return megaEARGS, fmt.Sprintf("p: no nodes: %v", megaEARGS)
	}
	e.mega.mu.Lock()
	parent := a.nodes[req.T]
	var folder string
	if parent != nil {
		folder = a.path(parent.h)
	}
	ups := make([]*megaUpload, len(req.N))
	for i, n := range req.N {
		if n.T == megaFile {
			if up := e.mega.completed[n.H]; up != nil && up.account == a {
				ups[i] = up
			}
		}
	}
	e.mega.mu.Unlock()
	switch {
	case parent == nil:
		return megaENOENT, fmt.Sprintf("p: no parent node %q: %v", req.T, megaENOENT)
	case parent.t == megaFile:
		return megaEACCESS, fmt.Sprintf("p: parent %s is a file: %v", folder, megaEACCESS)
	}
	now := time.Now().Unix()
	var nodes []*megaNode
	var notes []string
	for i, pn := range req.N {
		n, note, code := e.megaOpenNode(r, a, pn, ups[i], folder)
		if code != 0 {
			return code, "p: " + note + ": " + code.String()
		}
		n.h, n.parent, n.ts = megaHandle(), req.T, now
		nodes, notes = append(nodes, n), append(notes, note)
	}
	e.mega.mu.Lock()
	if a.nodes[req.T] == nil {
		e.mega.mu.Unlock()
		return megaENOENT, fmt.Sprintf("p: parent %s went away: %v", folder, megaENOENT)
	}
	list := make([]megaNodeJSON, len(nodes))
	for i, n := range nodes {
		a.nodes[n.h] = n
		list[i] = n.json(a.handle)
		if up := ups[i]; up != nil {
			for tok, u := range e.mega.uploads {
				if u == up {
					delete(e.mega.uploads, tok)
				}
			}
			delete(e.mega.completed, up.handle)
		}
	}
	a.logEvent(map[string]any{"a": "t", "t": map[string]any{"f": list}, "ou": a.handle, "i": req.I})
	e.mega.mu.Unlock()
	return map[string]any{"f": list}, "p: " + strings.Join(notes, "; ")
}

// megaOpenNode opens one node of a put: its key, its attributes and, for a
// file, the bytes of its upload, which it joins for downloads.
func (e *Emulator) megaOpenNode(r *http.Request, a *megaAccount, pn megaPutNode, up *megaUpload, folder string) (*megaNode, string, megaError) {
	where := "/" + folder
	switch pn.T {
	case megaFolder:
		k, err := parseMegaNodeKey(a.master, pn.K, false)
		if err != nil {
			return nil, fmt.Sprintf("folder in %s: %v", where, err), megaEARGS
		}
		attrs, err := megaAttrs(k.aes, pn.A)
		if err != nil {
			return nil, fmt.Sprintf("folder in %s: %v", where, err), megaEKEY
		}
		name := attrs["n"].(string)
		return &megaNode{t: megaFolder, a: pn.A, k: pn.K, key: k.aes, name: name},
			fmt.Sprintf("folder %s created", strings.TrimSuffix(where, "/")+"/"+name), 0
	case megaFile:
	default:
		return nil, fmt.Sprintf("node type %d", pn.T), megaEARGS
	}
	if up == nil {
		return nil, fmt.Sprintf("file in %s: no completed upload %q", where, pn.H), megaENOENT
	}
	k, err := parseMegaNodeKey(a.master, pn.K, true)
	if err != nil {
		return nil, fmt.Sprintf("file in %s: %v", where, err), megaEARGS
	}
	attrs, err := megaAttrs(k.aes, pn.A)
	if err != nil {
		return nil, fmt.Sprintf("file in %s: %v", where, err), megaEKEY
	}
	name := attrs["n"].(string)
	path := strings.TrimPrefix(folder+"/"+name, "/")
	e.mega.mu.Lock()
	offsets := slices.Sorted(maps.Keys(up.chunks))
	parts := make([]payload, len(offsets))
	readers := make([]io.Reader, len(offsets))
	for i, o := range offsets {
		parts[i] = up.chunks[o]
		readers[i] = payloadReader(parts[i])
	}
	e.mega.mu.Unlock()
	plain := e.newSpool(r)
	if err := megaDecrypt(plain, io.MultiReader(readers...), up.size, k); err != nil {
		if errors.Is(err, errMegaMAC) {
			return nil, fmt.Sprintf("file %s: its bytes do not give the MAC its key holds (chunk MACs and meta-MAC checked as a MEGA client checks a download)", path), megaEKEY
		}
		return nil, fmt.Sprintf("file %s: %v", path, err), megaEINTERNAL
	}
	data, err := e.joinPayloads(r, parts)
	if err != nil {
		return nil, fmt.Sprintf("file %s: %v", path, err), megaEINTERNAL
	}
	p := plain.finish()
	noteFiles(r, uploaded(path, p)...)
	check := "chunk MACs and meta-MAC check out"
	if up.size == 0 {
		check = "empty, no MAC to check"
	}
	return &megaNode{t: megaFile, a: pn.A, k: pn.K, key: k.aes, name: name, size: up.size, data: data},
		fmt.Sprintf("file %s stored in %s: %d bytes decrypted, sha256 %s, %s", name, where, p.Size(), p.SHA256(), check), 0
}

// megaChange answers m (move), d (delete) and a (new attributes), and logs
// the action packet MEGA sends every session of the account.
func (e *Emulator) megaChange(a *megaAccount, op string, raw json.RawMessage) (any, string) {
	var req struct {
		N    string `json:"n"`
		T    string `json:"t"`
		Attr string `json:"attr"`
		I    string `json:"i"`
	}
	_ = json.Unmarshal(raw, &req)
	e.mega.mu.Lock()
	defer e.mega.mu.Unlock()
	n := a.nodes[req.N]
	if n == nil {
		return megaENOENT, fmt.Sprintf("%s: no node %q: %v", op, req.N, megaENOENT)
	}
	from := a.path(n.h)
	if n.t >= megaRoot {
		return megaEACCESS, fmt.Sprintf("%s: %q is a top folder: %v", op, from, megaEACCESS)
	}
	switch op {
	case "m":
		t := a.nodes[req.T]
		switch {
		case t == nil:
			return megaENOENT, fmt.Sprintf("m %s: no target %q: %v", from, req.T, megaENOENT)
		case t.t == megaFile:
			return megaEACCESS, fmt.Sprintf("m %s: target is a file: %v", from, megaEACCESS)
		case a.under(t.h, n.h):
			return megaECIRCULAR, fmt.Sprintf("m %s: into itself: %v", from, megaECIRCULAR)
		}
		n.parent = t.h
		a.logEvent(map[string]any{"a": "t", "t": map[string]any{"f": []megaNodeJSON{n.json(a.handle)}}, "ou": a.handle, "i": req.I})
		return 0, fmt.Sprintf("m: %s moved to %s", from, a.path(n.h))
	case "d":
		gone := 0
		for h, c := range a.nodes {
			if h != n.h && a.under(h, n.h) {
				e.forgetMegaNode(a, c)
				gone++
			}
		}
		e.forgetMegaNode(a, n)
		a.logEvent(map[string]any{"a": "d", "n": n.h, "i": req.I})
		return 0, fmt.Sprintf("d: %s deleted, with %d node(s) in it", from, gone)
	}
	attrs, err := megaAttrs(n.key, req.Attr)
	if err != nil {
		return megaEKEY, fmt.Sprintf("a %s: %v: %v", from, err, megaEKEY)
	}
	n.a, n.name = req.Attr, attrs["n"].(string)
	a.logEvent(map[string]any{"a": "u", "n": n.h, "u": a.handle, "at": n.a, "ts": time.Now().Unix(), "i": req.I})
	return 0, fmt.Sprintf("a: %s renamed %s", from, n.name)
}

// forgetMegaNode removes n and its bytes; the store's lock is held.
func (e *Emulator) forgetMegaNode(a *megaAccount, n *megaNode) {
	delete(a.nodes, n.h)
	for tok, d := range e.mega.downloads {
		if d == n {
			delete(e.mega.downloads, tok)
		}
	}
	if n.data != nil {
		e.releasePayload(n.data)
	}
}

func (e *Emulator) megaDownloadURL(a *megaAccount, raw json.RawMessage) (any, string) {
	var req struct {
		N   string `json:"n"`
		SSL int    `json:"ssl"`
	}
	_ = json.Unmarshal(raw, &req)
	e.mega.mu.Lock()
	defer e.mega.mu.Unlock()
	n := a.nodes[req.N]
	if n == nil || n.t != megaFile {
		return megaENOENT, fmt.Sprintf("g: no file %q: %v", req.N, megaENOENT)
	}
	token := megaToken(30)
	e.mega.downloads[token] = n
	return map[string]any{"s": n.size, "at": n.a, "g": megaStorageURL(req.SSL) + "/dl/" + token, "msd": 1, "tl": 0},
		fmt.Sprintf("g: download of %s", a.path(n.h))
}

// megaDownload serves a range "start-end" (inclusive) of a file's
// ciphertext.
func (e *Emulator) megaDownload(w http.ResponseWriter, r *http.Request) {
	e.mega.mu.Lock()
	n := e.mega.downloads[r.PathValue("token")]
	e.mega.mu.Unlock()
	from, to, ok := strings.Cut(r.PathValue("range"), "-")
	start, err1 := strconv.ParseInt(from, 10, 64)
	end, err2 := strconv.ParseInt(to, 10, 64)
	switch {
	case n == nil:
		http.Error(w, "", http.StatusNotFound)
		return
	case !ok || err1 != nil || err2 != nil || start < 0 || end < start || end >= n.size:
		noteText(r, "download range %q of %d bytes", r.PathValue("range"), n.size)
		http.Error(w, "", http.StatusRequestedRangeNotSatisfiable)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	_, _ = io.Copy(w, io.NewSectionReader(n.data, start, end-start+1))
	noteText(r, "download: %d encrypted bytes at %d", end-start+1, start)
}

// megaPoll answers /sc: the action packets since the client's position, or,
// when there are none, the URL of a wait that ends when there are.
func (e *Emulator) megaPoll(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a := e.mega.session(q.Get("sid"))
	if a == nil {
		noteText(r, "sc: no such session: %v", megaESID)
		megaReply(w, megaESID)
		return
	}
	sn, ok := parseMegaSN(q.Get("sn"))
	e.mega.mu.Lock()
	events := slices.Clone(a.events)
	e.mega.mu.Unlock()
	switch {
	case !ok || sn > len(events):
		noteText(r, "sc: bad sequence number %q: %v", q.Get("sn"), megaEARGS)
		megaReply(w, megaEARGS)
	case sn < len(events):
		noteText(r, "sc: %d action packet(s)", len(events)-sn)
		megaReply(w, map[string]any{"a": events[sn:], "sn": megaSN(len(events))})
	default:
		noteText(r, "sc: up to date, wait URL sent")
		megaReply(w, map[string]any{"w": "https://" + megaAPIHost + "/wsc/" + a.wait + "?sn=" + megaSN(sn), "sn": megaSN(sn)})
	}
}

// megaWait holds a wait until the account has news, the client goes, or
// megaWaitMax passes: a client polling in a loop waits here, not spins.
func (e *Emulator) megaWait(w http.ResponseWriter, r *http.Request) {
	e.mega.mu.Lock()
	a := e.mega.waits[r.PathValue("token")]
	var wake chan struct{}
	var news bool
	if a != nil {
		sn, _ := parseMegaSN(r.URL.Query().Get("sn"))
		wake, news = a.wake, sn < len(a.events)
	}
	e.mega.mu.Unlock()
	if a == nil {
		http.Error(w, "", http.StatusNotFound)
		return
	}
	start := time.Now()
	if !news {
		ctx, cancel := context.WithTimeout(r.Context(), megaWaitMax)
		defer cancel()
		select {
		case <-wake:
		case <-ctx.Done():
		}
	}
	noteText(r, "wsc: held %s", time.Since(start).Round(time.Millisecond))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
