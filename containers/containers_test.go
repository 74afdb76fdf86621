package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/t1567001/harness/internal/reftest"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
)

func TestMain(m *testing.M) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Exit(m.Run())
}

// Images are built once per test binary (and cached by the engine across
// runs).
var (
	baseOnce    sync.Once
	baseTag     string
	baseErr     error
	baseTook    time.Duration
	harnessOnce sync.Once
	harnessTag  string
	harnessBin  string
	harnessErr  error
)

func needDocker(t *testing.T) {
	t.Helper()
	testcontainers.SkipIfProviderIsNotHealthy(t)
}

func testLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return &buf
}

func base(t *testing.T) string {
	t.Helper()
	needDocker(t)
	baseOnce.Do(func() {
		var log bytes.Buffer
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		baseTag, baseErr = BaseImage(ctx, &log)
		baseTook = time.Since(start)
		if baseErr != nil {
			baseErr = fmt.Errorf("%w\n%s", baseErr, log.String())
		}
	})
	require.NoError(t, baseErr)
	return baseTag
}

func harnessImage(t *testing.T) string {
	t.Helper()
	b := base(t)
	harnessOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		var log bytes.Buffer
		bin, err := StaticBinary(ctx, "", reftest.ModuleRoot(t), "./cmd/harness", &log)
		if err != nil {
			harnessErr = fmt.Errorf("%w\n%s", err, log.String())
			return
		}
		harnessBin = bin
		built := time.Now()
		harnessTag, harnessErr = HarnessImage(ctx, b, bin, &log)
		if harnessErr != nil {
			harnessErr = fmt.Errorf("%w\n%s", harnessErr, log.String())
		}
		t.Logf("static go build %s, harness image %s", built.Sub(start).Round(time.Millisecond), time.Since(built).Round(time.Millisecond))
	})
	require.NoError(t, harnessErr)
	return harnessTag
}

func runID(t *testing.T) string {
	return fmt.Sprintf("test-%d-%s", os.Getpid(), randomHex()[:6])
}

func newEnv(t *testing.T) *Env {
	t.Helper()
	needDocker(t)
	env, err := NewEnv(context.Background(), runID(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, env.Close()) })
	return env
}

func startSleeper(t *testing.T, env *Env, spec Spec) *Container {
	t.Helper()
	if spec.Image == "" {
		spec.Image = base(t)
	}
	if spec.Cmd == nil {
		spec.Cmd = []string{"sh", "-c", "echo ready; exec sleep 300"}
		spec.WaitLog = "ready"
	}
	start := time.Now()
	c, err := env.Start(context.Background(), spec)
	require.NoError(t, err)
	t.Logf("started %s in %s", spec.Name, time.Since(start).Round(time.Millisecond))
	return c
}

// run is Exec with captured output.
func run(t *testing.T, ctx context.Context, c *Container, argv ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code, err := c.Exec(ctx, argv, "", nil, &stdout, &stderr)
	require.NoError(t, err, "exec %v", argv)
	return code, stdout.String(), stderr.String()
}

func TestAvailable(t *testing.T) {
	t.Parallel()
	needDocker(t)
	require.NoError(t, Available(context.Background()))
}

func TestBaseImageBuildsOnce(t *testing.T) {
	t.Parallel()
	tag := base(t)
	t.Logf("first BaseImage call: %s (%s)", baseTook.Round(time.Millisecond), tag)
	assert.True(t, strings.HasPrefix(tag, BaseRepo+":"), tag)

	start := time.Now()
	again, err := BaseImage(context.Background(), testLog(t))
	require.NoError(t, err)
	assert.Equal(t, tag, again)
	assert.Less(t, time.Since(start), 5*time.Second, "cached BaseImage should return at once")
}

// TestRecipeKeyNamesThePackages: the base image's key changes with its
// packages, so an image (or a debootstrap tree) made before a package joined
// the recipe, such as openssh-client, is not reused.
func TestRecipeKeyNamesThePackages(t *testing.T) {
	t.Parallel()
	require.Contains(t, basePackages, "openssh-client")
	without := slices.DeleteFunc(slices.Clone(basePackages), func(p string) bool { return p == "openssh-client" })
	assert.Equal(t, baseKey(), recipeKey(basePackages))
	assert.NotEqual(t, baseKey(), recipeKey(without))
	assert.Equal(t, recipeKey(without), recipeKey(slices.Clone(without)), "stable")
}

func TestCheckStatic(t *testing.T) {
	t.Parallel()
	err := checkStatic("/bin/ls")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dynamically linked")

	err = checkStatic("/etc/hostname")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a readable ELF file")

	_, err = HarnessImage(context.Background(), "t1567-harness/base:none", "/bin/ls", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CGO_ENABLED=0")
}

func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipped because it builds the whole harness with the go toolchain")
	}
	// The user's cache, shared with the other tests (a cache folder of the
	// test's own would also move GOCACHE and rebuild the world), and a
	// temporary folder of the test's own, where nothing is left.
	userCache, err := os.UserCacheDir()
	require.NoError(t, err)
	cache := filepath.Join(userCache, "t1567-harness", "bin")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()
	bin, err := StaticBinary(ctx, "/bin/ls", reftest.ModuleRoot(t), "./cmd/harness", testLog(t))
	require.NoError(t, err)
	require.NotEqual(t, "/bin/ls", bin)
	require.NoError(t, checkStatic(bin))
	assert.True(t, strings.HasPrefix(bin, cache+"/"), bin)

	// Built once: the second call finds it (same file, not rewritten).
	before, err := os.Stat(bin)
	require.NoError(t, err)
	again, err := StaticBinary(ctx, "/bin/ls", reftest.ModuleRoot(t), "./cmd/harness", testLog(t))
	require.NoError(t, err)
	assert.Equal(t, bin, again)
	after, err := os.Stat(bin)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after) && before.ModTime().Equal(after.ModTime()), "the cached binary is reused")

	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "no litter in the temporary folder")

	// A static exe is used as is.
	same, err := StaticBinary(ctx, bin, "/nonexistent", "./cmd/harness", nil)
	require.NoError(t, err)
	assert.Equal(t, bin, same)
}

func TestSourceKey(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), mode))
	}
	write("go.mod", "module x\n", 0o644)
	write("main.go", "package main\n", 0o644)
	write("atomics/a.yaml", "a: 1\n", 0o644)
	key := func() string {
		k, err := sourceKey(root, "go=1")
		require.NoError(t, err)
		return k
	}
	k0 := key()
	assert.Equal(t, k0, key(), "stable")

	// Not build inputs: tests, test data, hidden folders, executables.
	write("main_test.go", "package main\n", 0o644)
	write("testdata/x.json", "{}", 0o644)
	write(".git/HEAD", "ref", 0o644)
	write("bin/harness", "\x7fELF", 0o755)
	assert.Equal(t, k0, key())

	// Build inputs: code and embedded data, and the toolchain.
	write("atomics/a.yaml", "a: 2\n", 0o644)
	k1 := key()
	assert.NotEqual(t, k0, k1)
	write("cmd/new.go", "package cmd\n", 0o644)
	assert.NotEqual(t, k1, key())
	k2, err := sourceKey(root, "go=2")
	require.NoError(t, err)
	assert.NotEqual(t, key(), k2)
}

func TestPruneCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"old", "older", "oldest", "current"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o755))
		at := now.Add(-time.Duration(i) * time.Hour)
		require.NoError(t, os.Chtimes(filepath.Join(dir, name), at, at))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oldest.lock"), nil, 0o644))
	pruneCache(dir, "current", 2)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"current", "old"}, names)
}

func TestHarnessImageAndNetwork(t *testing.T) {
	t.Parallel()
	img := harnessImage(t)
	assert.True(t, strings.HasPrefix(img, HarnessRepo+":"), img)
	ctx := context.Background()

	// Cached: same base and binary, same tag, no build.
	start := time.Now()
	again, err := HarnessImage(ctx, base(t), harnessBin, nil)
	require.NoError(t, err)
	assert.Equal(t, img, again)
	assert.Less(t, time.Since(start), 5*time.Second)
	t.Logf("cached HarnessImage: %s", time.Since(start).Round(time.Millisecond))

	env := newEnv(t)
	list, err := env.Start(ctx, Spec{Name: "list", Image: img, Cmd: []string{"/usr/local/bin/harness", "list"}})
	require.NoError(t, err)
	code, err := list.Wait(ctx)
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	require.NoError(t, list.Logs(ctx, &out, &errOut))
	require.Equal(t, 0, code, "harness list: %s%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "T1567.001")

	gh := startSleeper(t, env, Spec{Name: "github", Aliases: []string{"github.com"}})
	require.NotEmpty(t, gh.IP())
	hostDir := t.TempDir()
	runner := startSleeper(t, env, Spec{
		Name:   "runner",
		Image:  img,
		Mounts: []Mount{{Path: hostDir}},
		CapAdd: []string{"SYS_PTRACE"},
		Env:    map[string]string{"RUN_MARK": "x1"},
	})
	assert.NotEqual(t, gh.IP(), runner.IP())

	// The alias resolves to the first container.
	code, stdout, stderr := run(t, ctx, runner, "getent", "hosts", "github.com")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, gh.IP(), strings.Fields(stdout)[0])

	// No route out: a connection fails at once (the default route's gateway
	// does not exist).
	start = time.Now()
	code, _, stderr = run(t, ctx, runner, "curl", "-sS", "--max-time", "5", "http://192.0.2.1/")
	took := time.Since(start)
	assert.NotEqual(t, 0, code)
	assert.NotEqual(t, 28, code, "curl timed out instead of failing at once: %s", stderr)
	assert.Regexp(t, `(?i)unreachable|no route|couldn't connect|failed to connect`, stderr)
	t.Logf("curl to 192.0.2.1: exit %d in %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(stderr))
	// Same from Python, which shows the errno.
	code, stdout, _ = run(t, ctx, runner, "python3", "-c", `import socket
try:
    socket.create_connection(("192.0.2.1", 443), timeout=5)
except OSError as e:
    print(e.errno, e)`)
	require.Equal(t, 0, code)
	assert.Regexp(t, `^113 .*No route to host`, stdout)

	// Bind mount, working directory and environment.
	var o, e bytes.Buffer
	code, err = runner.Exec(ctx, []string{"sh", "-c", `pwd; echo "$RUN_MARK $EXTRA" > out.txt`}, hostDir, []string{"EXTRA=y2"}, &o, &e)
	require.NoError(t, err)
	require.Equal(t, 0, code, e.String())
	assert.Equal(t, hostDir+"\n", o.String())
	b, err := os.ReadFile(filepath.Join(hostDir, "out.txt"))
	require.NoError(t, err)
	assert.Equal(t, "x1 y2\n", string(b))

	// The capability is there (CapEff bit 19 is CAP_SYS_PTRACE).
	code, stdout, _ = run(t, ctx, runner, "grep", "CapEff", "/proc/self/status")
	require.Equal(t, 0, code)
	var capEff uint64
	_, err = fmt.Sscanf(strings.Fields(stdout)[1], "%x", &capEff)
	require.NoError(t, err)
	assert.NotZero(t, capEff&(1<<19), "CAP_SYS_PTRACE missing: %s", stdout)
}

func TestExec(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	c := startSleeper(t, env, Spec{Name: "exec"})
	ctx := context.Background()

	code, stdout, stderr := run(t, ctx, c, "sh", "-c", "echo out; echo err >&2; exit 3")
	assert.Equal(t, 3, code)
	assert.Equal(t, "out\n", stdout)
	assert.Equal(t, "err\n", stderr)

	code, _, _ = run(t, ctx, c, "no-such-command")
	assert.Equal(t, 127, code)

	_, err := c.Exec(ctx, nil, "", nil, nil, nil)
	require.Error(t, err)

	// Cancelled: returns quickly and kills the command.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	code, err = c.Exec(cctx, []string{"sleep", "31"}, "", nil, nil, nil)
	took := time.Since(start)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, -1, code)
	assert.Less(t, took, 5*time.Second)
	t.Logf("cancelled exec returned after %s", took.Round(time.Millisecond))
	assertNoLeftovers(t, c)

	// Deadline: same.
	dctx, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	start = time.Now()
	_, err = c.Exec(dctx, []string{"sh", "-c", "sleep 32; echo never"}, "", nil, nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 6*time.Second)
	assertNoLeftovers(t, c)

	// A command that finishes within its deadline is unaffected.
	fctx, cancel3 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel3()
	code, stdout, _ = run(t, fctx, c, "echo", "fine")
	assert.Equal(t, 0, code)
	assert.Equal(t, "fine\n", stdout)
}

func assertNoLeftovers(t *testing.T, c *Container) {
	t.Helper()
	code, stdout, _ := run(t, context.Background(), c, "ps", "-eo", "pid,stat,args")
	require.Equal(t, 0, code)
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "ps -eo") {
			continue // this check itself
		}
		assert.NotRegexp(t, `sleep 3[12]|timeout|t1567-exec|defunct`, line, "exec'd process left running:\n%s", stdout)
	}
}

func listLabelled(t *testing.T, label string) (ctrs, nets []string) {
	t.Helper()
	ctx := context.Background()
	cli, err := dockerClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	cl, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	require.NoError(t, err)
	for _, c := range cl.Items {
		ctrs = append(ctrs, c.ID)
	}
	nl, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", label)})
	require.NoError(t, err)
	for _, n := range nl.Items {
		nets = append(nets, n.Name)
	}
	return ctrs, nets
}

func TestCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	startSleeper(t, env, Spec{Name: "a"})
	startSleeper(t, env, Spec{Name: "b", Cmd: []string{"sleep", "300"}}) // ignores SIGTERM as pid 1
	label := LabelRun + "=" + env.RunID()
	ctrs, nets := listLabelled(t, label)
	require.Len(t, ctrs, 2)
	require.Equal(t, []string{env.Network()}, nets)

	start := time.Now()
	require.NoError(t, env.Close())
	t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
	ctrs, nets = listLabelled(t, label)
	assert.Empty(t, ctrs)
	assert.Empty(t, nets)

	require.NoError(t, env.Close(), "Close is idempotent")
	_, err := env.Start(context.Background(), Spec{Name: "late", Image: base(t), Cmd: []string{"true"}})
	require.Error(t, err)
}

func TestCleanRemovesLeftovers(t *testing.T) {
	needDocker(t)
	ctx := context.Background()
	// A run that crashes: never closed.
	env, err := NewEnv(ctx, runID(t))
	require.NoError(t, err)
	c := startSleeper(t, env, Spec{Name: "crashed"})
	name := "t1567-" + env.RunID() + "-crashed"

	// Only this run: other packages' tests may have runs going on.
	removed, err := Clean(ctx, env.RunID())
	require.NoError(t, err)
	assert.Contains(t, removed, "container "+name)
	assert.Contains(t, removed, "network "+env.Network())
	ctrs, nets := listLabelled(t, LabelRun+"="+env.RunID())
	assert.Empty(t, ctrs)
	assert.Empty(t, nets)
	_ = c

	// Closing after Clean is harmless.
	require.NoError(t, env.Close())
}

func TestStartFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err := env.Start(context.Background(), Spec{Name: "bad", Image: "t1567-harness/none:missing", Cmd: []string{"true"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "never pulled")
	_, err = env.Start(context.Background(), Spec{Name: "rel", Image: base(t), Mounts: []Mount{{Path: "relative"}}})
	require.Error(t, err)
	ctrs, _ := listLabelled(t, LabelRun+"="+env.RunID())
	assert.Empty(t, ctrs)
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "a b c", oneLine(errors.New("a\n  b\tc\n")))
}

func TestRootfsIsCachedByRecipe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cachedRootfs runs debootstrap, which needs root")
	}
	// A stand-in debootstrap: counts its runs, makes a tiny tree at its
	// target (the 4th argument), or fails when told to.
	bin, cache := t.TempDir(), t.TempDir()
	count := filepath.Join(bin, "count")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "debootstrap"), []byte(`#!/bin/sh
echo run >>"`+count+`"
[ -e "`+bin+`/fail" ] && { echo "I: failing as told"; exit 1; }
mkdir -p "$4/etc" && echo debian >"$4/etc/os-release"
echo "I: Base system installed successfully."
`), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "run")
	}
	ctx := context.Background()

	// A failed build leaves nothing behind.
	require.NoError(t, os.WriteFile(filepath.Join(bin, "fail"), nil, 0o644))
	_, err := cachedRootfs(ctx, cache, "k1", testLog(t))
	require.Error(t, err)
	left, err := os.ReadDir(cache)
	require.NoError(t, err)
	assert.Empty(t, left)
	require.NoError(t, os.Remove(filepath.Join(bin, "fail")))

	var log bytes.Buffer
	rootfs, err := cachedRootfs(ctx, cache, "k1", &log)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "k1", "rootfs"), rootfs)
	assert.FileExists(t, filepath.Join(rootfs, "etc", "os-release"))
	assert.Contains(t, log.String(), "Base system installed", "the build shows its progress")
	assert.Equal(t, 2, runs())

	// Built once per recipe: the same key is reused, another is built and
	// replaces it.
	again, err := cachedRootfs(ctx, cache, "k1", testLog(t))
	require.NoError(t, err)
	assert.Equal(t, rootfs, again)
	assert.Equal(t, 2, runs())
	_, err = cachedRootfs(ctx, cache, "k2", testLog(t))
	require.NoError(t, err)
	assert.Equal(t, 3, runs())
	assert.NoDirExists(t, filepath.Join(cache, "k1"), "the older recipe's tree is pruned")
}

// TestFileSumIsCachedByIdentity: a file's sha256 is remembered under its
// path, size and modification time, and made again when any changes.
func TestFileSumIsCachedByIdentity(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	path := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.WriteFile(path, []byte("one"), 0o644))
	sum, err := fileSum(path)
	require.NoError(t, err)
	assert.Equal(t, "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed", sum, "sha256 of \"one\"")

	// Same identity, other bytes: the remembered sum (this is the cache).
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("two"), 0o644))
	require.NoError(t, os.Chtimes(path, info.ModTime(), info.ModTime()))
	again, err := fileSum(path)
	require.NoError(t, err)
	assert.Equal(t, sum, again)

	// A new modification time: hashed again.
	later := info.ModTime().Add(time.Second)
	require.NoError(t, os.Chtimes(path, later, later))
	changed, err := fileSum(path)
	require.NoError(t, err)
	assert.Equal(t, "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3", changed, "sha256 of \"two\"")
}

// TestSharedIsolatedNetwork: an isolated container has loopback only, a
// container started with NetworkOf shares it (a server on one's loopback
// answers the other), and neither makes the env's network.
func TestSharedIsolatedNetwork(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	owner := startSleeper(t, env, Spec{Name: "owner", Isolated: true, Cmd: []string{"sh", "-c",
		`python3 -c 'import socket; s = socket.create_server(("127.0.0.1", 8111)); print("listening", flush=True); c, _ = s.accept(); c.sendall(b"shared\n")'; exec sleep 300`},
		WaitLog: "listening"})
	guest := startSleeper(t, env, Spec{Name: "guest", NetworkOf: owner})
	for _, c := range []*Container{owner, guest} {
		code, stdout, stderr := run(t, ctx, c, "ls", "/sys/class/net")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, "lo\n", stdout, "%s has loopback only", c.Name())
	}
	code, stdout, stderr := run(t, ctx, guest, "python3", "-c", `import socket; print(socket.create_connection(("127.0.0.1", 8111), timeout=5).recv(64).decode(), end="")`)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "shared\n", stdout)
	_, nets := listLabelled(t, LabelRun+"="+env.RunID())
	assert.Empty(t, nets, "no network is made for containers that join none")

	_, err := env.Start(ctx, Spec{Name: "both", Image: base(t), Cmd: []string{"true"}, Isolated: true, NetworkOf: owner})
	require.Error(t, err)
}

// TestImageToolsAsksOncePerImage: a tool is looked up once per image; later
// calls are answered from the cache, and only new tools are asked about.
func TestImageToolsAsksOncePerImage(t *testing.T) {
	img := base(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ctx := context.Background()
	var asked [][]string
	lookup := func(tools []string) map[string]bool {
		asked = append(asked, tools)
		found := map[string]bool{}
		for _, tool := range tools {
			found[tool] = tool == "sh"
		}
		return found
	}
	for _, tc := range []struct {
		tools []string
		asked []string
	}{
		{[]string{"sh", "pwsh"}, []string{"sh", "pwsh"}},
		{[]string{"pwsh", "sh"}, nil},
		{[]string{"sh", "git"}, []string{"git"}},
	} {
		asked = nil
		found, err := ImageTools(ctx, img, tc.tools, lookup)
		require.NoError(t, err)
		want := map[string]bool{}
		for _, tool := range tc.tools {
			want[tool] = tool == "sh"
		}
		assert.Equal(t, want, found)
		if tc.asked == nil {
			assert.Empty(t, asked, "answered from the cache")
		} else {
			assert.Equal(t, [][]string{tc.asked}, asked)
		}
	}
	_, err := ImageTools(ctx, img, []string{"curl"}, func([]string) map[string]bool { return nil })
	require.Error(t, err, "a lookup that failed is no answer")
}
