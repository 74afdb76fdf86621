package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
