package emulator

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Contents API's commit path. A write used to cost eight git
// processes, one after the other under the repository's lock; now the
// request's own goroutine writes the blob as a loose object (hashed and
// compressed as it streams), and a queue per repository turns the writes
// pending at that moment into a chain of commits, one per write as on
// GitHub, written in-process with one ref update for the lot. A git
// process runs only to read a tree or commit the queue has not seen (one
// a push wrote). Objects and refs are written as git writes them (a
// temporary file renamed into place; a ref's .lock file), so that
// http-backend, cat-file and a clone see a write as soon as it is answered.

// Blob is a decoded file as the commit path takes it: Size bytes, read
// once. A body held in memory (*bytes.Reader) and one spooled to a file
// (*io.SectionReader) both are one.
type Blob interface {
	io.Reader
	Size() int64
}

// fileWrite is what a Contents API write asks for.
type fileWrite struct {
	branch, path, message string
	// ifSHA is the blob the write replaces, required when the file exists.
	ifSHA string
}

// committed is the outcome of a write: its commit, the blob of the file,
// and whether the file is new.
type committed struct {
	commit, blob string
	created      bool
}

// errPathConflict: a folder is where the file would go, or a file where a
// folder of its path would go.
var errPathConflict = errors.New("the path conflicts with a file or folder in the repository")

// commitFile commits content at w.path on w.branch of the bare repository
// in dir, as the Contents API does, so that a clone shows what was
// uploaded.
func (g *gitServer) commitFile(ctx context.Context, dir string, w fileWrite, content Blob) (committed, error) {
	if err := g.ensureRepo(ctx, dir); err != nil {
		return committed{}, err
	}
	blob, err := g.writeObject(dir, "blob", content, content.Size())
	if err != nil {
		return committed{}, err
	}
	p := &pendingWrite{fileWrite: w, blob: blob, done: make(chan commitOutcome, 1)}
	q := g.queue(dir)
	q.mu.Lock()
	q.pending = append(q.pending, p)
	if !q.running {
		q.running = true
		go g.drain(context.WithoutCancel(ctx), dir, q)
	}
	q.mu.Unlock()
	select {
	case out := <-p.done:
		return out.committed, out.err
	case <-ctx.Done():
		return committed{}, fmt.Errorf("waiting for the commit of %s: %w", w.path, ctx.Err())
	}
}

// commitQueue is one repository's pending writes and what its commits
// have learnt of the repository's trees.
type commitQueue struct {
	mu      sync.Mutex
	pending []*pendingWrite
	running bool // a goroutine is draining pending

	// Read and written only under the repository's lock.
	objects objectCache
}

type pendingWrite struct {
	fileWrite
	blob string
	done chan commitOutcome
}

type commitOutcome struct {
	committed
	err error
}

func (g *gitServer) queue(dir string) *commitQueue {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.queues == nil {
		g.queues = map[string]*commitQueue{}
	}
	q, ok := g.queues[dir]
	if !ok {
		q = &commitQueue{}
		g.queues[dir] = q
	}
	return q
}

// drain commits q's pending writes, a batch at a time, until none is left.
func (g *gitServer) drain(ctx context.Context, dir string, q *commitQueue) {
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		g.commitBatch(ctx, dir, q, batch)
	}
}

// commitBatch commits a batch of writes, each branch's in the order they
// came, and answers each.
func (g *gitServer) commitBatch(ctx context.Context, dir string, q *commitQueue, batch []*pendingWrite) {
	lock := g.repoLock(dir)
	lock.Lock()
	defer lock.Unlock()
	var branches []string
	byBranch := map[string][]*pendingWrite{}
	for _, p := range batch {
		if _, ok := byBranch[p.branch]; !ok {
			branches = append(branches, p.branch)
		}
		byBranch[p.branch] = append(byBranch[p.branch], p)
	}
	for _, b := range branches {
		writes := byBranch[b]
		outcomes := g.commitChain(ctx, dir, &q.objects, b, writes)
		for i, p := range writes {
			p.done <- outcomes[i]
		}
	}
}

// commitChain commits writes on branch one after the other and moves the
// branch once to the last of them.
func (g *gitServer) commitChain(ctx context.Context, dir string, objects *objectCache, branch string, writes []*pendingWrite) []commitOutcome {
	out := make([]commitOutcome, len(writes))
	ref := "refs/heads/" + branch
	tip, err := readRef(dir, ref)
	root := ""
	if err == nil && tip != "" {
		root, err = objects.commitTree(ctx, g, dir, tip)
	}
	if err != nil {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	head := tip
	var landed []int
	now := time.Now()
	for i, p := range writes {
		if _, err := os.Stat(objectPath(dir, p.blob)); err != nil {
			out[i].err = fmt.Errorf("blob %s of %s: %w", p.blob, p.path, err)
			continue
		}
		newRoot, old, err := objects.put(ctx, g, dir, root, strings.Split(p.path, "/"), p.blob)
		switch {
		case err != nil:
		case old != "" && p.ifSHA == "":
			err = errShaMissing
		case old != "" && p.ifSHA != old:
			err = errShaMismatch
		}
		if err != nil {
			out[i].err = err
			continue
		}
		commit, err := g.writeCommit(dir, newRoot, head, p.message, now)
		if err != nil {
			out[i].err = err
			continue
		}
		head, root = commit, newRoot
		out[i].committed = committed{commit: commit, blob: p.blob, created: old == ""}
		landed = append(landed, i)
	}
	if head == tip {
		return out
	}
	if err := updateRef(ctx, dir, ref, head, tip); err != nil {
		for _, i := range landed {
			out[i] = commitOutcome{err: err}
		}
	}
	return out
}

// Loose objects.

// writeObject writes size bytes from r as a loose object of kind (blob,
// tree, commit) in the bare repository in dir and returns its id. Like
// git, it compresses at zlib's best speed and renames a finished
// temporary file into place, so that no reader sees half an object.
func (g *gitServer) writeObject(dir, kind string, r io.Reader, size int64) (string, error) {
	objects := filepath.Join(dir, "objects")
	tmp, err := os.CreateTemp(objects, "tmp_obj_")
	if err != nil {
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once it is renamed
	zw, _ := g.zlib.Get().(*zlib.Writer)
	if zw == nil {
		zw, _ = zlib.NewWriterLevel(tmp, zlib.BestSpeed)
	} else {
		zw.Reset(tmp)
	}
	defer g.zlib.Put(zw)
	h := sha1.New()
	w := io.MultiWriter(h, zw)
	_, err = fmt.Fprintf(w, "%s %d\x00", kind, size)
	if err == nil {
		_, err = io.CopyN(w, r, size)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s object of %d bytes: %w", kind, size, err)
	}
	id := hex.EncodeToString(h.Sum(nil))
	final := objectPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	return id, nil
}

func objectPath(dir, id string) string {
	return filepath.Join(dir, "objects", id[:2], id[2:])
}

// writeCommit writes a commit of tree on parent ("" for a first commit) by
// the Contents API's author and committer.
func (g *gitServer) writeCommit(dir, tree, parent, message string, when time.Time) (string, error) {
	var b bytes.Buffer
	b.WriteString("tree " + tree + "\n")
	if parent != "" {
		b.WriteString("parent " + parent + "\n")
	}
	stamp := strconv.FormatInt(when.Unix(), 10) + " +0000"
	b.WriteString("author " + fakeLogin + " <" + fakeLogin + "@users.noreply.github.com> " + stamp + "\n")
	b.WriteString("committer GitHub <noreply@github.com> " + stamp + "\n\n")
	// What git commit-tree -m would store: up to a NUL (an argument cannot
	// hold one), with a final newline.
	message, _, _ = strings.Cut(message, "\x00")
	b.WriteString(message)
	if !strings.HasSuffix(message, "\n") {
		b.WriteByte('\n')
	}
	return g.writeObject(dir, "commit", &b, int64(b.Len()))
}

// Trees.

// treeEntry is one line of a tree object.
type treeEntry struct {
	mode string // as git writes it: 100644, 100755, 120000, 40000 (a tree), 160000
	name string
	id   string // hex
}

func (e treeEntry) isTree() bool { return e.mode == "40000" }

// sortKey orders entries as git does: a tree's name compares as if it
// ended in '/'.
func (e treeEntry) sortKey() string {
	if e.isTree() {
		return e.name + "/"
	}
	return e.name
}

func encodeTree(entries []treeEntry) ([]byte, error) {
	var b bytes.Buffer
	for _, e := range entries {
		id, err := hex.DecodeString(e.id)
		if err != nil || len(id) != sha1.Size {
			return nil, fmt.Errorf("tree entry %s: bad object id %q", e.name, e.id)
		}
		b.WriteString(e.mode + " " + e.name + "\x00")
		b.Write(id)
	}
	return b.Bytes(), nil
}

func parseTree(raw []byte) ([]treeEntry, error) {
	var out []treeEntry
	for len(raw) > 0 {
		sp := bytes.IndexByte(raw, ' ')
		nul := bytes.IndexByte(raw, 0)
		if sp < 0 || nul < sp || len(raw) < nul+1+sha1.Size {
			return nil, errors.New("malformed tree object")
		}
		out = append(out, treeEntry{mode: string(raw[:sp]), name: string(raw[sp+1 : nul]), id: hex.EncodeToString(raw[nul+1 : nul+1+sha1.Size])})
		raw = raw[nul+1+sha1.Size:]
	}
	return out, nil
}

// objectCache holds the trees the queue wrote or read, and which tree each
// commit has. Objects never change, so an entry is never stale; the cache
// is only bounded.
type objectCache struct {
	trees   map[string][]treeEntry
	commits map[string]string
}

// maxCached bounds each map of the cache: past it, the map starts again
// empty, and the next write reads its trees back from the repository.
const maxCached = 4096

func (c *objectCache) rememberTree(id string, entries []treeEntry) {
	if c.trees == nil || len(c.trees) >= maxCached {
		c.trees = map[string][]treeEntry{}
	}
	c.trees[id] = entries
}

// tree is the entries of tree id ("" for the empty tree).
func (c *objectCache) tree(ctx context.Context, g *gitServer, dir, id string) ([]treeEntry, error) {
	if id == "" {
		return nil, nil
	}
	if t, ok := c.trees[id]; ok {
		return t, nil
	}
	raw, err := g.run(ctx, dir, "cat-file", "tree", id)
	if err != nil {
		return nil, err
	}
	t, err := parseTree(raw)
	if err != nil {
		return nil, fmt.Errorf("tree %s in %s: %w", id, dir, err)
	}
	c.rememberTree(id, t)
	return t, nil
}

// commitTree is the tree of commit id.
func (c *objectCache) commitTree(ctx context.Context, g *gitServer, dir, id string) (string, error) {
	if t, ok := c.commits[id]; ok {
		return t, nil
	}
	raw, err := g.run(ctx, dir, "cat-file", "commit", id)
	if err != nil {
		return "", err
	}
	header, _, _ := bytes.Cut(raw, []byte("\n"))
	tree, ok := bytes.CutPrefix(header, []byte("tree "))
	if !ok {
		return "", fmt.Errorf("commit %s in %s: no tree", id, dir)
	}
	if c.commits == nil || len(c.commits) >= maxCached {
		c.commits = map[string]string{}
	}
	c.commits[id] = string(tree)
	return string(tree), nil
}

// put writes the trees of tree with blob at the path parts, and returns
// the new tree and the blob the path held before ("" for none).
func (c *objectCache) put(ctx context.Context, g *gitServer, dir, tree string, parts []string, blob string) (newTree, old string, err error) {
	current, err := c.tree(ctx, g, dir, tree)
	if err != nil {
		return "", "", err
	}
	entries := slices.Clone(current)
	i := slices.IndexFunc(entries, func(e treeEntry) bool { return e.name == parts[0] })
	var entry treeEntry
	if len(parts) == 1 {
		entry = treeEntry{mode: "100644", name: parts[0], id: blob}
		if i >= 0 {
			switch entries[i].mode {
			case "100755":
				entry.mode = "100755" // replacing keeps an executable file executable
			case "100644", "120000":
			default:
				return "", "", fmt.Errorf("%s: %w", parts[0], errPathConflict)
			}
			old = entries[i].id
		}
	} else {
		sub := ""
		if i >= 0 {
			if !entries[i].isTree() {
				return "", "", fmt.Errorf("%s: %w", parts[0], errPathConflict)
			}
			sub = entries[i].id
		}
		id, prev, err := c.put(ctx, g, dir, sub, parts[1:], blob)
		if err != nil {
			return "", "", err
		}
		entry, old = treeEntry{mode: "40000", name: parts[0], id: id}, prev
	}
	if i >= 0 {
		entries[i] = entry
	} else {
		entries = append(entries, entry)
		slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.sortKey(), b.sortKey()) })
	}
	raw, err := encodeTree(entries)
	if err != nil {
		return "", "", err
	}
	id, err := g.writeObject(dir, "tree", bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return "", "", err
	}
	c.rememberTree(id, entries)
	return id, old, nil
}

// Refs.

// readRef is the object id ref names in the bare repository in dir, ""
// when there is no such ref: its loose file, else its line of packed-refs.
func readRef(dir, ref string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ref)))
	if err == nil {
		id := strings.TrimSpace(string(raw))
		if !isObjectID(id) {
			return "", fmt.Errorf("ref %s in %s: not an object id: %q", ref, dir, id)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("ref %s: %w", ref, err)
	}
	packed, err := os.ReadFile(filepath.Join(dir, "packed-refs"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ref %s: %w", ref, err)
	}
	for _, line := range strings.Split(string(packed), "\n") {
		if id, name, ok := strings.Cut(line, " "); ok && name == ref && isObjectID(id) {
			return id, nil
		}
	}
	return "", nil
}

func isObjectID(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 2*sha1.Size
}

// refLockWait is how long updateRef waits for a ref another git process
// has locked (git's own default is 100 ms).
const refLockWait = time.Second

// updateRef moves ref from old ("" for a new ref) to id as git does: it
// holds ref.lock, checks the ref still is old, writes the lock and renames
// it over the ref.
func updateRef(ctx context.Context, dir, ref, id, old string) error {
	path := filepath.Join(dir, filepath.FromSlash(ref))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("update %s: %w", ref, err)
	}
	lockPath := path + ".lock"
	deadline := time.Now().Add(refLockWait)
	var lock *os.File
	for {
		var err error
		lock, err = os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || time.Now().After(deadline) {
			return fmt.Errorf("update %s: lock: %w", ref, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("update %s: %w", ref, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer os.Remove(lockPath) // a no-op once it is renamed
	current, err := readRef(dir, ref)
	if err == nil && current != old {
		err = fmt.Errorf("update %s: it moved from %s to %s", ref, old, current)
	}
	if err == nil {
		_, err = lock.WriteString(id + "\n")
	}
	if cerr := lock.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lockPath, path)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", ref, err)
	}
	return nil
}
