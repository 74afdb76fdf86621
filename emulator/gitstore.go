package emulator

// Git's storage, written as git writes it: objects compressed and hashed
// (loose, or gathered into a pack with its version 2 index), trees in
// git's order, and refs through their .lock files. Each file is renamed
// into place whole, so a git process reading the repository meanwhile
// sees it before or after, never half-written.

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
	"time"
)

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
	err = os.MkdirAll(filepath.Dir(final), 0o755)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
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
	name := filepath.Join(packDir, "pack-"+hex.EncodeToString(sum))
	idx, err := writeTemp(packDir, "tmp_idx_", func(w io.Writer) error {
		_, err := w.Write(packIndex(entries, sum))
		return err
	})
	if err == nil {
		if err = os.Rename(tmp, name+".pack"); err != nil {
			os.Remove(idx)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("write pack in %s: %w", packDir, err)
	}
	if err := os.Rename(idx, name+".idx"); err != nil {
		os.Remove(idx)
		os.Remove(name + ".pack")
		return false, fmt.Errorf("write pack index in %s: %w", packDir, err)
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
		// Only while it is still ours: once renamed, the name may be
		// another writer's lock.
		os.Remove(lockPath)
		return fmt.Errorf("update %s: %w", ref, err)
	}
	return nil
}
