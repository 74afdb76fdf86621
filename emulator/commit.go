package emulator

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
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
// processes, one after the other under the repository's lock; now it
// costs none. The request's own goroutine hashes and compresses the blob
// (a large one straight into a loose object as it streams), and a queue
// per repository turns the writes pending at that moment into a chain of
// commits, one per write as on GitHub, written in-process as one pack,
// with one ref update per branch for the lot. Creating a file is what
// costs here (about 0.2 ms of kernel time on this machine's ext4), so a
// batch of any size creates three: the pack, its index and the ref's
// lock. A git process runs only to read a tree or commit the queue has
// not seen (one a push wrote), and now and then to fold the small packs
// together. Pack, index and ref are each renamed into place whole, in
// that order, as git writes them, so http-backend, cat-file and a clone
// see a write as soon as it is answered.

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

// errInvalidName: a branch or path git would not take.
var errInvalidName = errors.New("not a name git takes")

// errPathConflict: a folder is where the file would go, or a file where a
// folder of its path would go.
var errPathConflict = errors.New("the path conflicts with a file or folder in the repository")

const (
	// maxPackedBlob is the largest blob held in memory, compressed, until
	// its batch's pack is written; a larger one is written loose as it
	// streams in.
	maxPackedBlob = 64 << 10
	// maxBatch bounds the writes committed together, and so a pack's size.
	maxBatch = 256
	// repackAfter is how many packs a queue writes before git folds them
	// together (geometrically, which is cheap when they are small).
	repackAfter = 50
)

// commitFile commits content at w.path on w.branch of the bare repository
// in dir, as the Contents API does, so that a clone shows what was
// uploaded.
func (g *gitServer) commitFile(ctx context.Context, dir string, w fileWrite, content Blob) (committed, error) {
	if !validBranch(w.branch) || !validRepoPath(w.path) {
		return committed{}, fmt.Errorf("commit %s on %s: %w", w.path, w.branch, errInvalidName)
	}
	if err := g.ensureRepo(ctx, dir); err != nil {
		return committed{}, err
	}
	p := &pendingWrite{fileWrite: w, done: make(chan commitOutcome, 1)}
	var err error
	if size := content.Size(); size <= maxPackedBlob {
		if p.packed, err = g.packObject(objBlob, content, size); err == nil {
			p.blob = p.packed.id
		}
	} else {
		p.blob, err = g.writeLoose(dir, objBlob, content, size)
	}
	if err != nil {
		return committed{}, err
	}
	q := g.queue(dir)
	q.mu.Lock()
	q.pending = append(q.pending, p)
	if !q.running {
		q.running = true
		go g.drain(context.WithoutCancel(ctx), dir, q)
	}
	q.mu.Unlock()
	// Waited for even when the client has gone: the commit may land all
	// the same, and the ledger is to say what the repository holds. A
	// batch is short, and its git processes have their own time limits.
	out := <-p.done
	return out.committed, out.err
}

// commitQueue is one repository's pending writes and what its commits
// have learnt of the repository.
type commitQueue struct {
	mu      sync.Mutex
	pending []*pendingWrite
	running bool // a goroutine is draining pending

	// Used only under the repository's lock.
	objects objectCache
	packs   int // written since git last folded them together
}

type pendingWrite struct {
	fileWrite
	blob   string
	packed *packedObject // the blob, unless it was written loose
	done   chan commitOutcome
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
		n := min(len(q.pending), maxBatch)
		if n == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.pending[:n])
		q.pending = slices.Delete(q.pending, 0, n)
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
	// The repository may have moved or gone since the writes were queued:
	// then they make it anew, as they would have had they come later.
	if err := g.ensureRepoLocked(ctx, dir); err != nil {
		for _, p := range batch {
			p.done <- commitOutcome{err: err}
		}
		return
	}
	pack := &packBuilder{g: g}
	chains := make([]chain, len(branches))
	for i, b := range branches {
		chains[i] = g.commitChain(ctx, dir, &q.objects, pack, b, byBranch[b])
	}
	wrote, packErr := pack.write(dir)
	for i, b := range branches {
		c, err := chains[i], packErr
		if err == nil && c.head != c.tip {
			err = updateRef(ctx, dir, "refs/heads/"+b, c.head, c.tip)
		}
		if err != nil {
			for _, j := range c.landed {
				c.outcomes[j] = commitOutcome{err: err}
			}
		}
		for j, p := range byBranch[b] {
			p.done <- c.outcomes[j]
		}
	}
	if wrote {
		q.packs++
	}
	if q.packs >= repackAfter {
		q.packs = 0
		if _, err := g.run(ctx, dir, "repack", "-d", "-q", "--geometric=2"); err != nil {
			fmt.Fprintf(g.errLog, "emulator: %v\n", err)
		}
	}
}

// chain is a branch's commits in a batch: the branch is to move from tip
// to head; landed are the writes committed, outcomes every write's.
type chain struct {
	tip, head string
	landed    []int
	outcomes  []commitOutcome
}

// commitChain commits writes on branch one after the other into pack.
func (g *gitServer) commitChain(ctx context.Context, dir string, objects *objectCache, pack *packBuilder, branch string, writes []*pendingWrite) chain {
	c := chain{outcomes: make([]commitOutcome, len(writes))}
	tip, err := readRef(dir, "refs/heads/"+branch)
	root := ""
	if err == nil && tip != "" {
		root, err = objects.commitTree(ctx, g, dir, tip)
	}
	if err != nil {
		for i := range c.outcomes {
			c.outcomes[i].err = err
		}
		return c
	}
	c.tip, c.head = tip, tip
	now := time.Now()
	for i, p := range writes {
		if p.packed == nil {
			// Written loose before it was queued: into this repository
			// only if it is still the one it was then.
			if _, err := os.Stat(filepath.Join(dir, "objects", p.blob[:2], p.blob[2:])); err != nil {
				c.outcomes[i].err = fmt.Errorf("blob of %s: %w", p.path, err)
				continue
			}
		}
		newRoot, old, err := objects.put(ctx, g, dir, pack, root, strings.Split(p.path, "/"), p.blob)
		switch {
		case err != nil:
		case old != "" && p.ifSHA == "":
			err = errShaMissing
		case old != "" && p.ifSHA != old:
			err = errShaMismatch
		}
		if err != nil {
			c.outcomes[i].err = err
			continue
		}
		if p.packed != nil {
			pack.add(*p.packed)
		}
		commit, err := pack.addRaw(objCommit, commitObject(newRoot, c.head, p.message, now))
		if err != nil {
			c.outcomes[i].err = err
			continue
		}
		c.head, root = commit, newRoot
		c.outcomes[i].committed = committed{commit: commit, blob: p.blob, created: old == ""}
		c.landed = append(c.landed, i)
	}
	return c
}

// commitObject is a commit of tree on parent ("" for a first commit) by
// the Contents API's author and committer.
func commitObject(tree, parent, message string, when time.Time) []byte {
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
	return b.Bytes()
}

// Objects.

// objectKind is an object's type as a pack numbers it.
type objectKind int

const (
	objCommit objectKind = 1
	objTree   objectKind = 2
	objBlob   objectKind = 3
)

func (k objectKind) String() string {
	switch k {
	case objCommit:
		return "commit"
	case objTree:
		return "tree"
	}
	return "blob"
}

// encodeObject reads an object of kind and size from r, writes it to dst
// compressed (at zlib's best speed, as git compresses), with its header
// for a loose object or without for a pack's entry, and returns its id.
func (g *gitServer) encodeObject(dst io.Writer, kind objectKind, r io.Reader, size int64, loose bool) (string, error) {
	zw, _ := g.zlib.Get().(*zlib.Writer)
	if zw == nil {
		zw, _ = zlib.NewWriterLevel(dst, zlib.BestSpeed)
	} else {
		zw.Reset(dst)
	}
	defer g.zlib.Put(zw)
	header := kind.String() + " " + strconv.FormatInt(size, 10) + "\x00"
	h := sha1.New()
	h.Write([]byte(header))
	if loose {
		if _, err := io.WriteString(zw, header); err != nil {
			return "", fmt.Errorf("%s object: %w", kind, err)
		}
	}
	if _, err := io.CopyN(io.MultiWriter(h, zw), r, size); err != nil {
		return "", fmt.Errorf("%s object of %d bytes: %w", kind, size, err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("%s object: %w", kind, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeLoose writes an object loose into the bare repository in dir.
func (g *gitServer) writeLoose(dir string, kind objectKind, r io.Reader, size int64) (string, error) {
	objects := filepath.Join(dir, "objects")
	var id string
	tmp, err := writeTemp(objects, "tmp_obj_", func(w io.Writer) (err error) {
		id, err = g.encodeObject(w, kind, r, size, true)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("write %s: %w", objects, err)
	}
	final := filepath.Join(objects, id[:2], id[2:])
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s object: %w", kind, err)
	}
	return id, nil
}

// writeTemp writes a new read-only file in dir through fill and returns
// its name, for the caller to rename into place once it is whole.
func writeTemp(dir, pattern string, fill func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriter(f)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o444)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// packedObject is an object ready for a pack: compressed, without header.
type packedObject struct {
	id   string
	kind objectKind
	size int64
	data []byte
}

func (g *gitServer) packObject(kind objectKind, r io.Reader, size int64) (*packedObject, error) {
	var b bytes.Buffer
	id, err := g.encodeObject(&b, kind, r, size, false)
	if err != nil {
		return nil, err
	}
	return &packedObject{id: id, kind: kind, size: size, data: b.Bytes()}, nil
}

// packBuilder gathers a batch's objects and writes them as one pack.
type packBuilder struct {
	g       *gitServer
	objects []packedObject
	seen    map[string]bool
}

func (b *packBuilder) add(o packedObject) {
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if !b.seen[o.id] {
		b.seen[o.id] = true
		b.objects = append(b.objects, o)
	}
}

// addRaw adds the object of kind with content raw and returns its id.
func (b *packBuilder) addRaw(kind objectKind, raw []byte) (string, error) {
	o, err := b.g.packObject(kind, bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return "", err
	}
	b.add(*o)
	return o.id, nil
}

// packIndexEntry is an object's line in a pack's index.
type packIndexEntry struct {
	id     []byte
	crc    uint32
	offset uint32
}

// write writes the pack and its index (version 2) into the bare
// repository in dir, the index last, as it is what makes git see the
// pack. It reports whether there was anything to write.
func (b *packBuilder) write(dir string) (bool, error) {
	if len(b.objects) == 0 {
		return false, nil
	}
	packDir := filepath.Join(dir, "objects", "pack")
	if err := os.MkdirAll(packDir, 0o755); err != nil {
		return false, fmt.Errorf("write pack: %w", err)
	}
	entries := make([]packIndexEntry, len(b.objects))
	var sum []byte
	tmp, err := writeTemp(packDir, "tmp_pack_", func(w io.Writer) error {
		h := sha1.New()
		mw := io.MultiWriter(w, h)
		head := binary.BigEndian.AppendUint32([]byte("PACK"), 2)
		head = binary.BigEndian.AppendUint32(head, uint32(len(b.objects)))
		if _, err := mw.Write(head); err != nil {
			return err
		}
		offset := int64(len(head))
		for i, o := range b.objects {
			if offset >= 1<<31 {
				return fmt.Errorf("%d bytes is more than a batch's pack may hold", offset)
			}
			id, _ := hex.DecodeString(o.id)
			hdr := packEntryHeader(o.kind, o.size)
			entries[i] = packIndexEntry{id: id, crc: crc32.Update(crc32.ChecksumIEEE(hdr), crc32.IEEETable, o.data), offset: uint32(offset)}
			if _, err := mw.Write(hdr); err != nil {
				return err
			}
			if _, err := mw.Write(o.data); err != nil {
				return err
			}
			offset += int64(len(hdr) + len(o.data))
		}
		sum = h.Sum(nil)
		_, err := w.Write(sum)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("write pack in %s: %w", packDir, err)
	}
	defer os.Remove(tmp) // a no-op once it is renamed
	name := filepath.Join(packDir, "pack-"+hex.EncodeToString(sum))
	idx, err := writeTemp(packDir, "tmp_idx_", func(w io.Writer) error {
		_, err := w.Write(packIndex(entries, sum))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("write pack index in %s: %w", packDir, err)
	}
	defer os.Remove(idx)
	if err := os.Rename(tmp, name+".pack"); err != nil {
		return false, fmt.Errorf("write pack: %w", err)
	}
	if err := os.Rename(idx, name+".idx"); err != nil {
		return false, fmt.Errorf("write pack index: %w", err)
	}
	return true, nil
}

// packEntryHeader is an entry's type and size as a pack encodes them:
// the type in bits 4-6 of the first byte, the size in its low four bits
// and seven bits of each byte after, the high bit saying another follows.
func packEntryHeader(kind objectKind, size int64) []byte {
	c := byte(kind)<<4 | byte(size&0x0f)
	size >>= 4
	var out []byte
	for size > 0 {
		out = append(out, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(out, c)
}

// packIndex is the version 2 index of a pack whose checksum is packSum:
// magic and version, the fan-out table, the sorted ids, their CRC32s and
// offsets, and the two checksums.
func packIndex(entries []packIndexEntry, packSum []byte) []byte {
	slices.SortFunc(entries, func(a, b packIndexEntry) int { return bytes.Compare(a.id, b.id) })
	idx := []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}
	var fanout [256]uint32
	for _, e := range entries {
		fanout[e.id[0]]++
	}
	var total uint32
	for _, n := range fanout {
		total += n
		idx = binary.BigEndian.AppendUint32(idx, total)
	}
	for _, e := range entries {
		idx = append(idx, e.id...)
	}
	for _, e := range entries {
		idx = binary.BigEndian.AppendUint32(idx, e.crc)
	}
	for _, e := range entries {
		idx = binary.BigEndian.AppendUint32(idx, e.offset)
	}
	idx = append(idx, packSum...)
	idxSum := sha1.Sum(idx)
	return append(idx, idxSum[:]...)
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
	entries int // in trees, which a large folder's versions would fill
	commits map[string]string
}

// Bounds on the cache: past one, that map starts again empty, and the
// next write reads its trees back from the repository.
const (
	maxCachedEntries = 1 << 16
	maxCachedCommits = 1 << 12
)

func (c *objectCache) rememberTree(id string, entries []treeEntry) {
	if c.trees == nil || c.entries+len(entries) > maxCachedEntries {
		c.trees, c.entries = map[string][]treeEntry{}, 0
	}
	c.trees[id] = entries
	c.entries += len(entries)
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
	if c.commits == nil || len(c.commits) >= maxCachedCommits {
		c.commits = map[string]string{}
	}
	c.commits[id] = string(tree)
	return string(tree), nil
}

// put adds to pack the trees of tree with blob at the path parts, and
// returns the new tree and the blob the path held before ("" for none).
func (c *objectCache) put(ctx context.Context, g *gitServer, dir string, pack *packBuilder, tree string, parts []string, blob string) (newTree, old string, err error) {
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
		id, prev, err := c.put(ctx, g, dir, pack, sub, parts[1:], blob)
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
	id, err := pack.addRaw(objTree, raw)
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
