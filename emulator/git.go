package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gitServer answers git smart-HTTP with the real `git http-backend` over a
// bare repository per (host, repository path). Repositories spring into
// existence on first use: the atomics push to a repository the adversary
// already owns.
type gitServer struct {
	git    string
	root   string
	errLog io.Writer

	mu     sync.Mutex
	locks  map[string]*sync.Mutex
	queues map[string]*commitQueue // the Contents API's writes (commit.go)
	zlib   sync.Pool               // *zlib.Writer, for loose objects
}

var wildcard = regexp.MustCompile(`\{([a-z]+)\}`)

// mount registers the three smart-HTTP endpoints under prefix, a ServeMux
// pattern whose wildcards name the repository path in order.
func (g *gitServer) mount(mux *http.ServeMux, host, prefix string) {
	var names []string
	for _, m := range wildcard.FindAllStringSubmatch(prefix, -1) {
		names = append(names, m[1])
	}
	h := func(w http.ResponseWriter, r *http.Request) { g.serve(w, r, host, names) }
	mux.HandleFunc("GET "+prefix+"/info/refs", h)
	mux.HandleFunc("POST "+prefix+"/git-upload-pack", h)
	mux.HandleFunc("POST "+prefix+"/git-receive-pack", h)
}

// Names as GitHub takes them: a repository name is letters, digits, '.',
// '-' and '_', at most 100 of them; an account (user or organisation) name
// is letters and digits with single hyphens between, at most 39. A name
// starting with '.' or '-' is refused too (stricter than GitHub for '.'),
// so that no name is a hidden folder or reads as an option.
var (
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	accountRE = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)
)

func validSegment(s string) bool {
	return segmentRE.MatchString(s) && !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "-")
}

func validAccount(s string) bool { return len(s) <= 39 && accountRE.MatchString(s) }

func (g *gitServer) serve(w http.ResponseWriter, r *http.Request, host string, names []string) {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = r.PathValue(n)
	}
	dir, ok := g.repoDir(host, parts...)
	if !ok {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	rel, _ := filepath.Rel(filepath.Join(g.root, host), dir)
	rel = filepath.ToSlash(rel)

	suffix := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if suffix == "refs" {
		suffix = "info/refs"
	}
	push := suffix == "git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack"
	user := "anonymous"
	if push {
		if !hasCredential(r) {
			// Like GitHub: a push without credentials is challenged, and
			// git retries with the ones in the URL or its helper.
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "Authentication required to push", http.StatusUnauthorized)
			return
		}
		if u, _, ok := r.BasicAuth(); ok && u != "" {
			user = u
		} else {
			user = "token"
		}
		// An authenticated push creates the repository it names (the
		// adversary's own); nothing else does.
		if err := g.ensureRepo(r.Context(), dir); err != nil {
			fmt.Fprintf(g.errLog, "emulator: %v\n", err)
			http.Error(w, "repository unavailable", http.StatusInternalServerError)
			return
		}
	} else if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}

	inner := r.Clone(r.Context())
	inner.URL.Path = "/" + rel + "/" + suffix
	// git sends a pack past its post buffer (1 MiB) chunked, which
	// net/http/cgi refuses; without CONTENT_LENGTH http-backend reads the
	// body, already de-chunked, to its end.
	inner.TransferEncoding = nil
	backend := &cgi.Handler{
		Path: g.git,
		Args: []string{"http-backend"},
		Dir:  g.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Join(g.root, host),
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + user,
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + g.root,
		},
		Stderr: g.errLog,
	}
	if !(push && suffix == "git-receive-pack") {
		backend.ServeHTTP(w, inner)
		return
	}

	lock := g.repoLock(dir)
	lock.Lock()
	defer lock.Unlock()
	before, err := g.refs(r.Context(), dir)
	if err != nil {
		fmt.Fprintf(g.errLog, "emulator: %v\n", err)
	}
	backend.ServeHTTP(w, inner)
	// The push is over; what landed is read back from the repository itself
	// rather than trusted from the wire.
	files, note := g.pushed(context.WithoutCancel(r.Context()), dir, before)
	noteFiles(r, files...)
	noteText(r, "%s", note)
}

// pushed reads back what a push changed in the repository in dir since
// the refs before: the files of each updated ref's tree, and a note naming
// the refs.
func (g *gitServer) pushed(ctx context.Context, dir string, before map[string]string) ([]File, string) {
	after, err := g.refs(ctx, dir)
	if err != nil {
		return nil, fmt.Sprintf("reading refs after push: %v", err)
	}
	var notes []string
	var out []File
	for ref, sha := range after {
		if before[ref] == sha {
			continue
		}
		notes = append(notes, fmt.Sprintf("push %s %s", ref, sha))
		files, err := g.treeFiles(ctx, dir, sha)
		if err != nil {
			notes = append(notes, err.Error())
			continue
		}
		out = append(out, files...)
	}
	return out, strings.Join(notes, "; ")
}

// repoDir is where the bare repository of host and path parts lives; the
// last part may end in .git. It is false for a part that is not a plain
// name.
func (g *gitServer) repoDir(host string, parts ...string) (string, bool) {
	parts = slices.Clone(parts)
	parts[len(parts)-1] = strings.TrimSuffix(parts[len(parts)-1], ".git")
	for _, p := range parts {
		if !validSegment(p) {
			return "", false
		}
	}
	if (host == "github.com" || host == "gist.github.com") && len(parts) > 1 && !validAccount(parts[0]) {
		return "", false
	}
	return filepath.Join(g.root, host, filepath.FromSlash(strings.Join(parts, "/")+".git")), true
}

// Replacing a file needs the blob sha it replaces, as on GitHub.
var (
	errShaMissing  = errors.New("the file exists and no sha was supplied")
	errShaMismatch = errors.New("sha does not match")
)

// validRepoPath reports whether p names a file inside a repository as
// git takes one: no NUL, no "." or ".." part, and no part that is ".git"
// in any case or NTFS spelling (git refuses those: core.protectNTFS is on
// by default).
func validRepoPath(p string) bool {
	if p == "" || p == "." || path.Clean(p) != p || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "../") || p == ".." || strings.ContainsRune(p, 0) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg = strings.TrimRight(seg, ". "); strings.EqualFold(seg, ".git") || strings.EqualFold(seg, "git~1") {
			return false
		}
	}
	return true
}

// validBranch reports whether b, a name validSegment takes, is also one
// git takes for a branch (git check-ref-format): no "..", and no final
// "." or ".lock".
func validBranch(b string) bool {
	return validSegment(b) && !strings.Contains(b, "..") && !strings.HasSuffix(b, ".") && !strings.HasSuffix(b, ".lock")
}

// moveRepo renames the bare repository in from to to, or removes it when
// to is "", under its lock, so that no commit or push is half-way through.
func (g *gitServer) moveRepo(from, to string) error {
	lock := g.repoLock(from)
	lock.Lock()
	defer lock.Unlock()
	if to == "" {
		return os.RemoveAll(from)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.Rename(from, to)
}

func (g *gitServer) repoLock(dir string) *sync.Mutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.locks == nil {
		g.locks = map[string]*sync.Mutex{}
	}
	l, ok := g.locks[dir]
	if !ok {
		l = &sync.Mutex{}
		g.locks[dir] = l
	}
	return l
}

func (g *gitServer) ensureRepo(ctx context.Context, dir string) error {
	// A repository is made in a hidden folder (no valid name starts with
	// '.') and renamed into place whole, so one with a HEAD is ready and
	// most calls need not wait for the lock a commit or push holds.
	head := filepath.Join(dir, "HEAD")
	if _, err := os.Stat(head); err == nil {
		return nil
	}
	lock := g.repoLock(dir)
	lock.Lock()
	defer lock.Unlock()
	return g.ensureRepoLocked(ctx, dir)
}

// ensureRepoLocked is ensureRepo for a caller holding the repository's lock.
func (g *gitServer) ensureRepoLocked(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create repository %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".init-")
	if err != nil {
		return fmt.Errorf("create repository %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	if _, err := g.run(ctx, "", "init", "--bare", "-q", "--initial-branch=main", tmp); err != nil {
		return err
	}
	if _, err := g.run(ctx, tmp, "config", "http.receivepack", "true"); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("create repository %s: %w", dir, err)
	}
	return nil
}

func (g *gitServer) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return g.runWith(ctx, dir, nil, nil, args...)
}

// runWith runs git in dir with extra environment and standard input.
func (g *gitServer) runWith(ctx context.Context, dir string, env []string, stdin io.Reader, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, g.git, args...)
	cmd.Env = append(append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.root), env...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (g *gitServer) refs(ctx context.Context, dir string) (map[string]string, error) {
	out, err := g.run(ctx, dir, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if sha, ref, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs, nil
}

// treeFiles hashes every file in the tree of commit sha.
func (g *gitServer) treeFiles(ctx context.Context, dir, sha string) ([]File, error) {
	out, err := g.run(ctx, dir, "ls-tree", "-r", "-z", "--full-tree", sha)
	if err != nil {
		return nil, err
	}
	var blobs []treeBlob
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		meta, path, ok := strings.Cut(rec, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "blob" {
			continue
		}
		blobs = append(blobs, treeBlob{fields[2], path})
	}
	if len(blobs) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, b := range blobs {
		in.WriteString(b.sha + "\n")
	}
	// Each blob is hashed as git hands it over, none held: a push of any
	// size is read back in constant memory.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, g.git, "-C", dir, "cat-file", "--batch")
	cmd.Stdin = &in
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file in %s: %w", dir, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file in %s: %w", dir, err)
	}
	files, err := readBatch(bufio.NewReader(stdout), blobs)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file in %s: %w", dir, err)
	}
	return files, nil
}

// treeBlob is a file of a tree: its blob and path.
type treeBlob struct{ sha, path string }

// readBatch hashes each blob of `git cat-file --batch`'s output in rd, in
// the order of blobs, as it is read.
func readBatch(rd *bufio.Reader, blobs []treeBlob) ([]File, error) {
	files := make([]File, 0, len(blobs))
	for _, b := range blobs {
		header, err := rd.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("git cat-file header for %s: %w", b.path, err)
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			return nil, fmt.Errorf("git cat-file: unexpected header %q", header)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("git cat-file: size in %q: %w", header, err)
		}
		file, err := hashFile(b.path, io.LimitReader(rd, size))
		if err != nil || file.Size != size {
			return nil, fmt.Errorf("git cat-file content of %s: %d of %d bytes: %v", b.path, file.Size, size, err)
		}
		files = append(files, file)
		_, _ = rd.ReadByte() // the newline after each object
	}
	return files, nil
}
