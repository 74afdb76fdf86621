package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitIn runs git in the bare repository dir and returns its output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return string(out)
}

func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	git, err := exec.LookPath("git")
	require.NoError(t, err, "git is needed")
	return &gitServer{git: git, root: t.TempDir(), errLog: os.Stderr}
}

// TestConcurrentCommitsLoseNothing sends many writes at once to a few
// repositories, in nested folders, and checks that each got a commit of
// its own, that the branch holds every file with its content, and that git
// itself finds the repositories sound.
func TestConcurrentCommitsLoseNothing(t *testing.T) {
	g := newGitServer(t)
	const repos, writes = 3, 120
	var wg sync.WaitGroup
	results := make([]committed, writes)
	errs := make([]error, writes)
	content := func(i int) []byte {
		if i%7 == 0 { // some over the packed limit: written loose
			return bytes.Repeat([]byte{byte(i)}, maxPackedBlob+1+i)
		}
		return fmt.Appendf(nil, "file %d\n", i)
	}
	name := func(i int) string { return fmt.Sprintf("d%d/sub%d/f%d.txt", i%4, i%3, i) }
	for i := range writes {
		wg.Go(func() {
			dir := filepath.Join(g.root, fmt.Sprintf("o/r%d.git", i%repos))
			c := content(i)
			results[i], errs[i] = g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: name(i), message: fmt.Sprintf("write %d", i)}, bytes.NewReader(c))
		})
	}
	wg.Wait()
	commits := map[string]bool{}
	for i := range writes {
		require.NoError(t, errs[i], "write %d", i)
		assert.True(t, results[i].created)
		assert.Equal(t, gitBlobSHA(content(i)), results[i].blob)
		assert.False(t, commits[results[i].commit], "write %d shares its commit", i)
		commits[results[i].commit] = true
	}
	for r := range repos {
		dir := filepath.Join(g.root, fmt.Sprintf("o/r%d.git", r))
		gitIn(t, dir, "fsck", "--strict", "--no-dangling")
		log := strings.Fields(gitIn(t, dir, "log", "--format=%H", "main"))
		assert.Len(t, log, writes/repos, "one commit per write, in one line of history")
		for i := r; i < writes; i += repos {
			assert.Contains(t, log, results[i].commit)
			assert.Equal(t, string(content(i)), gitIn(t, dir, "cat-file", "blob", results[i].commit+":"+name(i)), "write %d's own commit holds it", i)
			assert.Equal(t, string(content(i)), gitIn(t, dir, "cat-file", "blob", "main:"+name(i)))
		}
	}
}

// TestCommitTreesMatchGit writes paths whose order in a tree is easy to
// get wrong (a folder sorts as if its name ended in '/') and checks that
// the tree is the one git's own index writes for the same files.
func TestCommitTreesMatchGit(t *testing.T) {
	g := newGitServer(t)
	dir := filepath.Join(g.root, "o/r.git")
	paths := []string{"a.txt", "a-b/c", "a/b", "a0", "A", "ab/c/d", "a b", "a/b.c", "a/b-c/d", "z"}
	var last committed
	for i, p := range paths {
		var err error
		last, err = g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: p, message: "m"}, strings.NewReader(fmt.Sprint(i)))
		require.NoError(t, err, p)
	}
	index := filepath.Join(t.TempDir(), "index")
	for i, p := range paths {
		cmd := exec.Command("git", "-C", dir, "hash-object", "-w", "--stdin")
		cmd.Stdin = strings.NewReader(fmt.Sprint(i))
		out, err := cmd.Output()
		require.NoError(t, err)
		cmd = exec.Command("git", "-C", dir, "update-index", "--add", "--cacheinfo", "100644,"+strings.TrimSpace(string(out))+","+p)
		cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+index)
		out, err = cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	cmd := exec.Command("git", "-C", dir, "write-tree")
	cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+index)
	want, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), strings.TrimSpace(gitIn(t, dir, "rev-parse", last.commit+"^{tree}")))
	gitIn(t, dir, "fsck", "--strict", "--no-dangling")
}

func TestCommitReplaceAndConflicts(t *testing.T) {
	g := newGitServer(t)
	dir := filepath.Join(g.root, "o/r.git")
	put := func(path, content, ifSHA string) (committed, error) {
		return g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: path, message: "m", ifSHA: ifSHA}, strings.NewReader(content))
	}
	first, err := put("d/f", "one", "")
	require.NoError(t, err)
	_, err = put("d/f", "two", "")
	assert.ErrorIs(t, err, errShaMissing)
	_, err = put("d/f", "two", gitBlobSHA([]byte("nope")))
	assert.ErrorIs(t, err, errShaMismatch)
	second, err := put("d/f", "two", first.blob)
	require.NoError(t, err)
	assert.False(t, second.created)
	_, err = put("d", "a folder is there", "")
	assert.ErrorIs(t, err, errPathConflict)
	_, err = put("d/f/g", "a file is in the way", "")
	assert.ErrorIs(t, err, errPathConflict)
	assert.Equal(t, strings.TrimSpace(gitIn(t, dir, "rev-parse", "main")), second.commit, "failed writes leave the branch alone")
	assert.Equal(t, first.commit, strings.TrimSpace(gitIn(t, dir, "rev-parse", "main^")))
	assert.Equal(t, "two", gitIn(t, dir, "cat-file", "blob", "main:d/f"))

	short := io.NewSectionReader(strings.NewReader("abc"), 0, 3)
	_, err = g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "s", message: "m"}, shortBlob{short, 10})
	assert.ErrorIs(t, err, io.EOF, "a body shorter than its size is refused")
	assert.Equal(t, second.commit, strings.TrimSpace(gitIn(t, dir, "rev-parse", "main")))

	for _, bad := range []fileWrite{{branch: "x.lock", path: "f"}, {branch: "a..b", path: "f"}, {branch: "main", path: "a/.GIT/config"},
		{branch: "main", path: "a\x00b"}, {branch: "main", path: "git~1/x"}, {branch: "main", path: "."}} {
		bad.message = "m"
		_, err = g.commitFile(context.Background(), dir, bad, strings.NewReader("x"))
		assert.ErrorIs(t, err, errInvalidName, "%+v", bad)
	}

	other, err := g.commitFile(context.Background(), dir, fileWrite{branch: "dev", path: "d/f", message: "on dev"}, strings.NewReader("dev"))
	require.NoError(t, err)
	assert.True(t, other.created, "a new branch starts empty")
	assert.Equal(t, "dev", gitIn(t, dir, "cat-file", "blob", "dev:d/f"))
	assert.Equal(t, "two", gitIn(t, dir, "cat-file", "blob", "main:d/f"))
	gitIn(t, dir, "fsck", "--strict", "--no-dangling")
}

// shortBlob claims more bytes than it holds.
type shortBlob struct {
	io.Reader
	size int64
}

func (s shortBlob) Size() int64 { return s.size }

// TestCommitsFollowAPush interleaves API writes with pushes: a write
// after a push builds on what was pushed (whose trees only git can read),
// keeps an executable file executable, and a push after writes sees them.
func TestCommitsFollowAPush(t *testing.T) {
	g := newGitServer(t)
	dir := filepath.Join(g.root, "o/r.git")
	_, err := g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "api/one", message: "api one"}, strings.NewReader("1"))
	require.NoError(t, err)

	work := t.TempDir()
	gitIn(t, work, "clone", "-q", dir, "w")
	clone := filepath.Join(work, "w")
	require.NoError(t, os.MkdirAll(filepath.Join(clone, "pushed"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(clone, "pushed", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	gitIn(t, clone, "add", "-A")
	gitIn(t, clone, "-c", "user.name=x", "-c", "user.email=x@example.invalid", "commit", "-qm", "pushed")
	gitIn(t, clone, "push", "-q", "origin", "HEAD:main")
	gitIn(t, dir, "pack-refs", "--all") // the branch now lives in packed-refs only

	pushed := strings.TrimSpace(gitIn(t, dir, "rev-parse", "main"))
	next, err := g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "pushed/run.sh", message: "api two", ifSHA: gitBlobSHA([]byte("#!/bin/sh\n"))}, strings.NewReader("#!/bin/sh\necho hi\n"))
	require.NoError(t, err)
	assert.Equal(t, pushed, strings.TrimSpace(gitIn(t, dir, "rev-parse", next.commit+"^")), "the write builds on the push")
	assert.Equal(t, "1", gitIn(t, dir, "cat-file", "blob", "main:api/one"))
	assert.Contains(t, gitIn(t, dir, "ls-tree", "main", "pushed/run.sh"), "100755 blob", "replacing keeps the mode")

	gitIn(t, clone, "pull", "-q", "--ff-only", "origin", "main")
	out, err := os.ReadFile(filepath.Join(clone, "pushed", "run.sh"))
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\necho hi\n", string(out), "a fetch sees the API's write")
	gitIn(t, dir, "fsck", "--strict", "--no-dangling")
}

// TestManySmallBatchesAreFolded: one write at a time makes a pack each;
// past repackAfter git folds them, and nothing is lost.
func TestManySmallBatchesAreFolded(t *testing.T) {
	g := newGitServer(t)
	dir := filepath.Join(g.root, "o/r.git")
	n := repackAfter + 5
	for i := range n {
		_, err := g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: fmt.Sprintf("f%d", i), message: "m"}, strings.NewReader(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	packs, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	require.NoError(t, err)
	assert.Less(t, len(packs), 10, "the packs were folded together")
	assert.Len(t, strings.Fields(gitIn(t, dir, "ls-tree", "--name-only", "main")), n)
	assert.Len(t, strings.Fields(gitIn(t, dir, "log", "--format=%H", "main")), n)
	gitIn(t, dir, "fsck", "--strict", "--no-dangling")
}

// TestContentsWritesReadBackAtOnce: every upload of a flood is there for
// the reads that follow its answer, through the API, the raw host and a
// clone over smart HTTP.
func TestContentsWritesReadBackAtOnce(t *testing.T) {
	p := startProxy(t)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			content := fmt.Sprintf("secret %d\n", i)
			path := fmt.Sprintf("loot/%d/f.txt", i%5) + strings.Repeat("x", i)
			w := do(t, p.e, "PUT", "api.github.com", "/repos/exfil-operator/loot/contents/"+path,
				`{"message":"m","content":"`+base64.StdEncoding.EncodeToString([]byte(content))+`"}`)
			if !assert.Equal(t, 201, w.Code, w.Body.String()) {
				return
			}
			// In a goroutine: assert, not require.
			var put struct{ Commit struct{ SHA string } }
			assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &put))
			w = do(t, p.e, "GET", "api.github.com", "/repos/exfil-operator/loot/contents/"+path+"?ref="+put.Commit.SHA, "")
			var got struct{ Content string }
			assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(got.Content, "\n", ""))
			assert.NoError(t, err)
			assert.Equal(t, content, string(data), "GET contents at the answered commit")
			assert.Equal(t, content, do(t, p.e, "GET", "raw.githubusercontent.com", "/exfil-operator/loot/main/"+path, "").Body.String(), "raw at the branch")
		})
	}
	wg.Wait()
	work := t.TempDir()
	out, err := p.run(t, work, "git", "clone", "-q", "https://github.com/exfil-operator/loot.git", "back")
	require.NoError(t, err, out)
	for i := range n {
		data, err := os.ReadFile(filepath.Join(work, "back", fmt.Sprintf("loot/%d/f.txt", i%5)+strings.Repeat("x", i)))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("secret %d\n", i), string(data))
	}
}

// TestMoveDuringWritesLosesNothing moves a repository away while writes
// pour in: every write answered as committed is in the history of the
// repository, where it moved or where a later write made it anew.
func TestMoveDuringWritesLosesNothing(t *testing.T) {
	g := newGitServer(t)
	from, to := filepath.Join(g.root, "o/r.git"), filepath.Join(g.root, "p/r.git")
	_, err := g.commitFile(context.Background(), from, fileWrite{branch: "main", path: "first", message: "m"}, strings.NewReader("x"))
	require.NoError(t, err)
	const n = 60
	results := make([]committed, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			content := fmt.Sprint(i)
			if i%5 == 0 { // written loose, before it is queued
				content = strings.Repeat(content, maxPackedBlob)
			}
			results[i], errs[i] = g.commitFile(context.Background(), from, fileWrite{branch: "main", path: fmt.Sprintf("f%d", i), message: "m"}, strings.NewReader(content))
		})
		if i == n/2 {
			require.NoError(t, g.moveRepo(from, to))
		}
	}
	wg.Wait()
	history := map[string]bool{}
	for _, dir := range []string{from, to} {
		if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
			continue
		}
		gitIn(t, dir, "fsck", "--strict", "--no-dangling")
		for _, c := range strings.Fields(gitIn(t, dir, "log", "--format=%H", "main")) {
			history[c] = true
		}
	}
	for i := range n {
		if errs[i] == nil {
			assert.True(t, history[results[i].commit], "write %d was answered as committed but is in no history", i)
		}
	}
}

// TestObjectCacheIsBounded: the versions of a large folder do not pile up.
func TestObjectCacheIsBounded(t *testing.T) {
	var c objectCache
	big := make([]treeEntry, maxCachedEntries/3)
	for i := range 10 {
		c.rememberTree(fmt.Sprint(i), big)
		assert.LessOrEqual(t, c.entries, maxCachedEntries)
		assert.Contains(t, c.trees, fmt.Sprint(i), "the tree just written is kept")
	}
	assert.Less(t, len(c.trees), 4)
}

// TestLockedRefFailsTheWrites: while another git holds the branch's lock
// the writes fail, and say so, rather than land beside it; then they land.
func TestLockedRefFailsTheWrites(t *testing.T) {
	g := newGitServer(t)
	dir := filepath.Join(g.root, "o/r.git")
	first, err := g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "a", message: "m"}, strings.NewReader("a"))
	require.NoError(t, err)
	lock := filepath.Join(dir, "refs", "heads", "main.lock")
	require.NoError(t, os.WriteFile(lock, []byte("held\n"), 0o644))
	_, err = g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "b", message: "m"}, strings.NewReader("b"))
	require.ErrorContains(t, err, "lock")
	assert.FileExists(t, lock, "another's lock is left alone")
	assert.Equal(t, first.commit, strings.TrimSpace(gitIn(t, dir, "rev-parse", "main")))

	require.NoError(t, os.Remove(lock))
	next, err := g.commitFile(context.Background(), dir, fileWrite{branch: "main", path: "b", message: "m"}, strings.NewReader("b"))
	require.NoError(t, err)
	assert.Equal(t, first.commit, strings.TrimSpace(gitIn(t, dir, "rev-parse", next.commit+"^")))
	gitIn(t, dir, "fsck", "--strict")
}
