package emulator

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// payload is one received file's decoded bytes as the commit path, the
// stored gists and pastes and the ledger take them: readable at any offset,
// held in memory or spooled to disk, with its size and sha256 known once
// the body was read. The commit path reads it as a Blob (payloadReader).
type payload interface {
	io.ReaderAt
	Size() int64
	SHA256() string // hex
}

// payloadReader reads p from its first byte; it is a Blob for the commit
// path.
func payloadReader(p payload) *io.SectionReader { return io.NewSectionReader(p, 0, p.Size()) }

// memPayload is a payload held in memory.
type memPayload struct {
	*bytes.Reader
	sum string
}

func (m memPayload) SHA256() string { return m.sum }

// payloadOf is content as a payload.
func payloadOf(content []byte) payload {
	s := sha256.Sum256(content)
	return memPayload{Reader: bytes.NewReader(content), sum: hex.EncodeToString(s[:])}
}

// fileOf is the ledger's record of p under name.
func fileOf(name string, p payload) File {
	return File{Name: name, Size: p.Size(), SHA256: p.SHA256()}
}

// gitBlobSHAOf is the object id git gives p's content, as GitHub returns it.
func gitBlobSHAOf(p payload) (string, error) {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", p.Size())
	if _, err := io.Copy(h, payloadReader(p)); err != nil {
		return "", fmt.Errorf("hashing blob: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// spillAt is how many bytes of one request's files are held in memory;
// past it, each spool moves to a file. keepInMemory is the most a stored
// file (a gist's, a paste) keeps in memory after its request.
const (
	spillAt      = 1 << 20
	keepInMemory = 64 << 10
)

// errSpool is the mock failing to store what it received.
var errSpool = errors.New("spool")

// budget is the memory a request's spools may still take.
type budget struct{ left atomic.Int64 }

func newBudget() *budget {
	b := &budget{}
	b.left.Store(spillAt)
	return b
}

func (b *budget) take(n int) bool {
	if b.left.Add(-int64(n)) < 0 {
		b.left.Add(int64(n))
		return false
	}
	return true
}

func (b *budget) give(n int) { b.left.Add(int64(n)) }

// spool receives a file's bytes as they arrive, hashing and counting them,
// in memory while its request's budget lasts and in a file of its spools'
// folder beyond. Once finished it is the payload.
type spool struct {
	set    *spools
	budget *budget
	mem    []byte
	f      *os.File
	size   int64
	h      hash.Hash
	sum    string
}

func (s *spool) Write(p []byte) (int, error) {
	if s.sum != "" {
		return 0, fmt.Errorf("%w: write after finish", errSpool)
	}
	if s.f == nil && !s.budget.take(len(p)) {
		if err := s.spill(); err != nil {
			return 0, err
		}
	}
	if s.f != nil {
		if _, err := s.f.Write(p); err != nil {
			return 0, fmt.Errorf("%w: %w", errSpool, err)
		}
	} else {
		s.mem = append(s.mem, p...)
	}
	s.h.Write(p)
	s.size += int64(len(p))
	return len(p), nil
}

// spill moves what the spool holds in memory to a file.
func (s *spool) spill() error {
	if s.f != nil {
		return nil
	}
	f, err := s.set.create()
	if err != nil {
		return err
	}
	if _, err := f.Write(s.mem); err != nil {
		return errors.Join(fmt.Errorf("%w: %w", errSpool, err), f.Close(), os.Remove(f.Name()))
	}
	s.f = f
	s.budget.give(len(s.mem))
	s.mem = nil
	return nil
}

// finish ends the writing and returns the spool as a payload.
func (s *spool) finish() payload {
	if s.sum == "" {
		s.sum = hex.EncodeToString(s.h.Sum(nil))
	}
	return s
}

func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if s.f != nil {
		return s.f.ReadAt(p, off)
	}
	if off >= int64(len(s.mem)) {
		return 0, io.EOF
	}
	n := copy(p, s.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *spool) Size() int64    { return s.size }
func (s *spool) SHA256() string { return s.sum }

// close removes what the spool holds.
func (s *spool) close() error {
	s.budget.give(len(s.mem))
	s.mem = nil
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.f.Close(), os.Remove(s.f.Name()))
	s.f = nil
	return err
}

// spools are the emulator's spools, their files in one folder of the
// run's data directory; whatever is still open when the emulator closes
// goes with the folder.
type spools struct {
	dir string

	mu   sync.Mutex
	live map[*spool]struct{}
}

func newSpools(dir string) *spools {
	return &spools{dir: dir, live: map[*spool]struct{}{}}
}

// new is a spool taking its memory from b.
func (s *spools) new(b *budget) *spool {
	sp := &spool{set: s, budget: b, h: sha256.New()}
	s.mu.Lock()
	s.live[sp] = struct{}{}
	s.mu.Unlock()
	return sp
}

func (s *spools) create() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	f, err := os.CreateTemp(s.dir, "body-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	return f, nil
}

// release closes sp and forgets it.
func (s *spools) release(sp *spool) error {
	s.mu.Lock()
	delete(s.live, sp)
	s.mu.Unlock()
	return sp.close()
}

// closeAll closes every spool still open and removes the folder.
func (s *spools) closeAll() error {
	s.mu.Lock()
	var errs []error
	for sp := range s.live {
		errs = append(errs, sp.close())
	}
	s.live = map[*spool]struct{}{}
	s.mu.Unlock()
	errs = append(errs, os.RemoveAll(s.dir))
	return errors.Join(errs...)
}

// spoolDir is the spools' folder under the data directory (the
// repositories are under host names, which have a dot).
func spoolDir(dataDir string) string { return filepath.Join(dataDir, "spool") }
