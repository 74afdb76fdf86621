package emulator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

	mu    sync.Mutex
	locks map[string]*sync.Mutex
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

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func validSegment(s string) bool {
	return segmentRE.MatchString(s) && s != "." && s != ".." && !strings.HasPrefix(s, ".")
}

func (g *gitServer) serve(w http.ResponseWriter, r *http.Request, host string, names []string) {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = r.PathValue(n)
	}
	parts[len(parts)-1] = strings.TrimSuffix(parts[len(parts)-1], ".git")
	for _, p := range parts {
		if !validSegment(p) {
			http.Error(w, "Repository not found.", http.StatusNotFound)
			return
		}
	}
	rel := strings.Join(parts, "/") + ".git"
	dir := filepath.Join(g.root, host, filepath.FromSlash(rel))
	if err := g.ensureRepo(r.Context(), dir); err != nil {
		fmt.Fprintf(g.errLog, "emulator: %v\n", err)
		http.Error(w, "repository unavailable", http.StatusInternalServerError)
		return
	}

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
	}

	inner := r.Clone(r.Context())
	inner.URL.Path = "/" + rel + "/" + suffix
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
	ctx := context.WithoutCancel(r.Context())
	after, err := g.refs(ctx, dir)
	if err != nil {
		noteText(r, "reading refs after push: %v", err)
		return
	}
	var notes []string
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
		noteFiles(r, files...)
	}
	noteText(r, "%s", strings.Join(notes, "; "))
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
	lock := g.repoLock(dir)
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return nil
	}
	if _, err := g.run(ctx, "", "init", "--bare", "-q", "--initial-branch=main", dir); err != nil {
		return err
	}
	_, err := g.run(ctx, dir, "config", "http.receivepack", "true")
	return err
}

func (g *gitServer) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, g.git, args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.root)
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
	type blob struct{ sha, path string }
	var blobs []blob
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		meta, path, ok := strings.Cut(rec, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "blob" {
			continue
		}
		blobs = append(blobs, blob{fields[2], path})
	}
	if len(blobs) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, b := range blobs {
		in.WriteString(b.sha + "\n")
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, g.git, "-C", dir, "cat-file", "--batch")
	cmd.Stdin = &in
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file in %s: %w", dir, err)
	}
	rd := bufio.NewReader(bytes.NewReader(raw))
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
		content := make([]byte, size)
		if _, err := io.ReadFull(rd, content); err != nil {
			return nil, fmt.Errorf("git cat-file content of %s: %w", b.path, err)
		}
		_, _ = rd.ReadByte() // the newline after each object
		files = append(files, NewFile(b.path, content))
	}
	return files, nil
}
