package sensor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangGuard bounds every traced run; it is not a speed assertion.
const hangGuard = 60 * time.Second

type traceResult struct {
	code   int
	err    error
	obs    []Observation
	stdout string
}

func (r traceResult) kind(k string) []Observation {
	var out []Observation
	for _, o := range r.obs {
		if o.Kind == k {
			out = append(out, o)
		}
	}
	return out
}

func trace(t *testing.T, cfg Config) traceResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var out bytes.Buffer
	if cfg.Stdout == nil {
		cfg.Stdout = &out
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	var r traceResult
	r.code, r.err = Run(ctx, cfg, func(o Observation) { r.obs = append(r.obs, o) })
	r.stdout = out.String()
	require.NoError(t, ctx.Err(), "hang guard expired")
	return r
}

var pythonPath = sync.OnceValues(func() (string, error) {
	// The pyenv shim is a shell script; trace the real interpreter.
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	return strings.TrimSpace(string(out)), err
})

func python(t *testing.T) string {
	t.Helper()
	p, err := pythonPath()
	if err != nil || p == "" {
		t.Skip("python3 not available")
	}
	return p
}

func resolved(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	require.NoError(t, err)
	return r
}

func TestShellExecAndExit(t *testing.T) {
	r := trace(t, Config{Argv: []string{"sh", "-c", "echo hi; true"}})
	require.NoError(t, r.err)
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "hi\n", r.stdout)

	execs := r.kind(KindExec)
	require.Len(t, execs, 1, "only sh execs (echo and true are builtins); the trampoline is not reported: %+v", execs)
	e := execs[0]
	assert.Equal(t, []string{"sh", "-c", "echo hi; true"}, e.Argv)
	assert.Equal(t, resolved(t, "/bin/sh"), e.Exe)
	assert.Equal(t, os.Getpid(), e.PPID)
	wd, _ := os.Getwd()
	assert.Equal(t, wd, e.Cwd)
	require.NotNil(t, e.UID)
	assert.Equal(t, os.Getuid(), *e.UID)
	assert.WithinDuration(t, time.Now(), e.Time, time.Minute)
	assert.Equal(t, time.UTC, e.Time.Location())
	for _, o := range r.obs {
		assert.NotContains(t, o.Argv, trampolineArg)
	}

	exits := r.kind(KindExit)
	require.Len(t, exits, 1)
	assert.Equal(t, e.PID, exits[0].PID)
	require.NotNil(t, exits[0].ExitCode)
	assert.Equal(t, 0, *exits[0].ExitCode)
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		argv       []string
		wantCode   int
		wantSignal string
	}{
		{"true exits at once", []string{"/bin/true"}, 0, ""},
		{"false", []string{"false"}, 1, ""},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"killed by signal", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, "SIGKILL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := trace(t, Config{Argv: tt.argv})
			require.NoError(t, r.err)
			assert.Equal(t, tt.wantCode, r.code)
			require.Len(t, r.kind(KindExec), 1)
			exits := r.kind(KindExit)
			require.Len(t, exits, 1)
			if tt.wantSignal != "" {
				assert.Equal(t, tt.wantSignal, exits[0].Signal)
				assert.Nil(t, exits[0].ExitCode)
			} else {
				require.NotNil(t, exits[0].ExitCode)
				assert.Equal(t, tt.wantCode, *exits[0].ExitCode)
			}
		})
	}
}

func TestCommandNotFound(t *testing.T) {
	r := trace(t, Config{Argv: []string{"no-such-command-for-the-sensor"}, Stderr: &bytes.Buffer{}})
	require.NoError(t, r.err)
	assert.Equal(t, 127, r.code)
	assert.Empty(t, r.kind(KindExec))
}

func TestForkStorm(t *testing.T) {
	const n = 200
	r := trace(t, Config{Argv: []string{"sh", "-c", fmt.Sprintf("for i in $(seq %d); do /bin/true & done; wait", n)}})
	require.NoError(t, r.err)
	assert.Equal(t, 0, r.code)

	execs := r.kind(KindExec)
	require.NotEmpty(t, execs)
	shell := execs[0]
	require.Equal(t, "sh", shell.Argv[0])
	var trues int
	for _, e := range execs {
		if len(e.Argv) == 1 && e.Argv[0] == "/bin/true" {
			trues++
			assert.Equal(t, shell.PID, e.PPID, "parent of /bin/true pid %d", e.PID)
		}
	}
	assert.Equal(t, n, trues)
	// Every process that exec'd also exited.
	exited := map[int]bool{}
	for _, e := range r.kind(KindExit) {
		exited[e.PID] = true
	}
	for _, e := range execs {
		assert.True(t, exited[e.PID], "no exit for %d", e.PID)
	}
}

// TestUnknownPIDTrap forces every child to report its initial stop before
// its parent's fork event is processed, the ordering that makes tracers
// which skip unknown pids hang.
func TestUnknownPIDTrap(t *testing.T) {
	const n = 50
	tests := []struct {
		name string
		mode reorderMode
	}{
		{"resolved by the parent's event", reorderResolve},
		{"adopted from /proc when idle", reorderAdopt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := &testHooks{reorder: tt.mode}
			r := trace(t, Config{
				Argv:  []string{"sh", "-c", fmt.Sprintf("for i in $(seq %d); do /bin/true & done; wait", n)},
				hooks: hooks,
			})
			require.NoError(t, r.err)
			assert.Equal(t, 0, r.code)
			execs := r.kind(KindExec)
			require.NotEmpty(t, execs)
			var trues int
			for _, e := range execs {
				if e.Argv[0] == "/bin/true" {
					trues++
					assert.Equal(t, execs[0].PID, e.PPID)
				}
			}
			assert.Equal(t, n, trues)
			assert.GreaterOrEqual(t, hooks.orphans, n+1, "children reported before their parent's event")
			if tt.mode == reorderAdopt {
				assert.Equal(t, hooks.orphans, hooks.adopted)
			} else {
				assert.Zero(t, hooks.adopted)
			}
		})
	}
}

func TestThreadedExec(t *testing.T) {
	// Python starts a thread that forks and execs; the exec'ing process and
	// every observation name processes, never thread ids.
	py := python(t)
	script := `
import os, threading
def run():
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/true", ["/bin/true"])
    os.waitpid(pid, 0)
t = threading.Thread(target=run); t.start(); t.join()
`
	r := trace(t, Config{Argv: []string{py, "-c", script}})
	require.NoError(t, r.err)
	assert.Equal(t, 0, r.code)
	execs := r.kind(KindExec)
	require.Len(t, execs, 2)
	assert.Equal(t, execs[0].PID, execs[1].PPID)
	assert.Len(t, r.kind(KindExit), 2)
}

func TestSignals(t *testing.T) {
	py := python(t)
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{
			// A signal that is not a ptrace stop must reach the tracee.
			"handler runs", []string{"sh", "-c", `trap "echo got" USR1; kill -USR1 $$; echo done`}, "got\ndone\n",
		},
		{
			// Group-stop must really stop the child (its parent sees it
			// with WUNTRACED) and SIGCONT must resume it.
			"job control stop", []string{py, "-c", `
import os, signal
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(7)
_, st = os.waitpid(pid, os.WUNTRACED)
print("stopped" if os.WIFSTOPPED(st) else "not stopped", flush=True)
os.kill(pid, signal.SIGCONT)
_, st = os.waitpid(pid, 0)
print("exit", os.WEXITSTATUS(st))
`}, "stopped\nexit 7\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := trace(t, Config{Argv: tt.argv})
			require.NoError(t, r.err)
			assert.Equal(t, 0, r.code)
			assert.Equal(t, tt.want, r.stdout)
		})
	}
}

func TestConnect(t *testing.T) {
	py := python(t)
	tests := []struct {
		name       string
		script     string
		wantResult string
	}{
		{"blocking", "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); s.close()", ResultOK},
		{"non-blocking", `
import socket,sys,select
s=socket.socket(); s.setblocking(False)
r=s.connect_ex(('127.0.0.1', int(sys.argv[1])))
assert r==115, r  # EINPROGRESS
select.select([],[s],[],5); s.close()`, ResultAttempted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			peer := make(chan int, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(peer)
					return
				}
				peer <- c.RemoteAddr().(*net.TCPAddr).Port
				c.Close()
			}()

			r := trace(t, Config{Argv: []string{py, "-c", tt.script, strconv.Itoa(port)}})
			require.NoError(t, r.err)
			require.Equal(t, 0, r.code)

			var conns []Observation
			for _, o := range r.kind(KindConnect) {
				if o.RemotePort == port {
					conns = append(conns, o)
				}
			}
			require.Len(t, conns, 1, "%+v", r.kind(KindConnect))
			c := conns[0]
			assert.Equal(t, "127.0.0.1", c.RemoteIP)
			assert.Equal(t, tt.wantResult, c.Result)
			assert.Equal(t, "tcp", c.Proto)
			assert.Equal(t, "127.0.0.1", c.LocalIP)
			assert.Equal(t, r.kind(KindExec)[0].PID, c.PID)
			select {
			case p := <-peer:
				assert.Equal(t, p, c.LocalPort, "local port must equal the port the server saw")
			case <-time.After(10 * time.Second):
				t.Fatal("listener saw no connection")
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := trace(t, Config{Argv: []string{python(t), "-c", "import socket,sys; socket.socket().connect_ex(('127.0.0.1', int(sys.argv[1])))", strconv.Itoa(port)}})
	require.NoError(t, r.err)
	conns := r.kind(KindConnect)
	require.Len(t, conns, 1)
	assert.Equal(t, "ECONNREFUSED", conns[0].Result)
}

func TestFileWrites(t *testing.T) {
	watched, other := t.TempDir(), t.TempDir()
	script := `echo x > out.txt; echo y >> out.txt; echo z > "$1/elsewhere.txt"; cat out.txt > /dev/null; mkdir sub; cd sub; : > inner.txt`
	r := trace(t, Config{
		Argv:      []string{"sh", "-c", script, "sh", other},
		Dir:       watched,
		WatchDirs: []string{watched},
	})
	require.NoError(t, r.err)
	require.Equal(t, 0, r.code)

	files := r.kind(KindFile)
	require.Len(t, files, 3, "%+v", files)
	out := filepath.Join(resolved(t, watched), "out.txt")
	tests := []struct {
		path    string
		created bool
		flags   string
	}{
		{out, true, "O_WRONLY|O_CREAT|O_TRUNC"},
		{out, false, "O_WRONLY|O_CREAT|O_APPEND"},
		{filepath.Join(resolved(t, watched), "sub", "inner.txt"), true, "O_WRONLY|O_CREAT|O_TRUNC"},
	}
	for i, tt := range tests {
		f := files[i]
		assert.Equal(t, tt.path, f.Path)
		assert.Equal(t, tt.created, f.Created, f.Path)
		assert.Equal(t, tt.flags, f.Flags)
		assert.Equal(t, ResultOK, f.Result)
		assert.Equal(t, r.kind(KindExec)[0].PID, f.PID)
	}
}

func TestDNS(t *testing.T) {
	py := python(t)
	query := "def q(name):\n" +
		"    import struct\n" +
		"    m = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)\n" +
		"    for l in name.split('.'): m += bytes([len(l)]) + l.encode()\n" +
		"    return m + b'\\0' + struct.pack('>HH', 1, 1)\n" +
		"import socket, sys, os\n" +
		"addr = ('127.0.0.1', int(sys.argv[1]))\n" +
		"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	tests := []struct {
		name string
		send string
	}{
		{"sendto", "s.sendto(q('api.github.com'), addr)"},
		{"connect+send", "s.connect(addr); s.send(q('api.github.com'))"},
		{"sendmsg", "s.sendmsg([q('api.github.com')[:5], q('api.github.com')[5:]], [], 0, addr)"},
		{"connect+write", "s.connect(addr); os.write(s.fileno(), q('api.github.com'))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := net.ListenPacket("udp", "127.0.0.1:0")
			require.NoError(t, err)
			defer srv.Close()
			port := srv.LocalAddr().(*net.UDPAddr).Port

			r := trace(t, Config{Argv: []string{py, "-c", query + tt.send, strconv.Itoa(port)}, DNSPort: port})
			require.NoError(t, r.err)
			require.Equal(t, 0, r.code)

			dns := r.kind(KindDNS)
			require.Len(t, dns, 1, "%+v", r.obs)
			assert.Equal(t, "api.github.com", dns[0].DNSName)
			assert.Equal(t, "A", dns[0].DNSType)
			assert.Equal(t, "127.0.0.1", dns[0].RemoteIP)
			assert.Equal(t, port, dns[0].RemotePort)
			assert.Equal(t, r.kind(KindExec)[0].PID, dns[0].PID)
		})
	}
}

// procStat returns the state and start time of pid from /proc/pid/stat.
func procStat(pid int) (state, start string, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true // fields 3 and 22
}

func TestCancelKillsTree(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu     sync.Mutex
		starts = map[int]string{} // pid -> start time, to tell a recycled pid
		sleeps int
	)
	ready := make(chan struct{})
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(ctx, Config{Argv: []string{"sh", "-c", "sleep 30 & sleep 30 & wait"}}, func(o Observation) {
			if o.Kind != KindExec {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			// The tracee is stopped while emit runs: its stat is stable.
			_, start, _ := procStat(o.PID)
			starts[o.PID] = start
			if o.Argv[0] == "sleep" {
				if sleeps++; sleeps == 2 {
					close(ready)
				}
			}
		})
		done <- result{code, err}
	}()
	select {
	case <-ready:
	case <-time.After(hangGuard):
		t.Fatal("sleeps never exec'd")
	}
	start := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.ErrorIs(t, r.err, context.Canceled)
	t.Logf("Run returned %v after cancel", time.Since(start))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, starts, 3)
	// gone reports whether pid no longer names the traced process (pid_max
	// may be small enough for the number to be recycled meanwhile).
	gone := func(pid int, zombieOK bool) bool {
		state, st, ok := procStat(pid)
		return !ok || st != starts[pid] || (zombieOK && state == "Z")
	}
	// Nothing of the tree may still run once Run has returned.
	for pid := range starts {
		assert.True(t, gone(pid, true), "pid %d still runs", pid)
	}
	// Run has reaped every tracee, but a tracee that is not the tracer's
	// own child stays a zombie until its real parent (or init, after
	// reparenting) reaps it too; allow a bounded time for that.
	for pid := range starts {
		assert.Eventually(t, func() bool { return gone(pid, false) },
			5*time.Second, 10*time.Millisecond, "pid %d still exists", pid)
	}
	t.Logf("tree gone %v after cancel", time.Since(start))
}

func TestMainStreamsJSON(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "obs.jsonl")
	var stdout bytes.Buffer
	code := Main([]string{"-o", out, "-C", dir, "--", "sh", "-c", "exit 7"}, &stdout)
	assert.Equal(t, 7, code)
	assert.Empty(t, stdout.String())

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var kinds []string
	require.NoError(t, Decode(f, func(o Observation) { kinds = append(kinds, o.Kind) }))
	assert.Equal(t, []string{KindExec, KindExit}, kinds)

	stdout.Reset()
	code = Main([]string{"--", "/bin/true"}, &stdout)
	assert.Equal(t, 0, code)
	var got []Observation
	require.NoError(t, Decode(&stdout, func(o Observation) { got = append(got, o) }))
	require.Len(t, got, 2)
	assert.Equal(t, []string{"/bin/true"}, got[0].Argv)

	assert.Equal(t, 2, Main(nil, &stdout), "usage error")
	assert.Equal(t, 2, Main([]string{"-nope"}, &stdout), "usage error")
}

func TestFileReads(t *testing.T) {
	watched, other := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(watched, "secret.csv"), []byte("a,b\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(other, "elsewhere.txt"), []byte("x\n"), 0o600))
	script := `cat secret.csv > /dev/null; cat "$1/elsewhere.txt" > /dev/null; ls > /dev/null`
	cfg := Config{Argv: []string{"sh", "-c", script, "sh", other}, Dir: watched, WatchDirs: []string{watched}}

	r := trace(t, cfg)
	require.NoError(t, r.err)
	assert.Empty(t, r.kind(KindFile), "read-only opens are not reported unless asked for")

	cfg.WatchReads = true
	r = trace(t, cfg)
	require.NoError(t, r.err)
	require.Equal(t, 0, r.code)
	files := r.kind(KindFile)
	require.Len(t, files, 1, "only the watched file, not the other folder's nor ls's directory: %+v", files)
	f := files[0]
	assert.Equal(t, filepath.Join(resolved(t, watched), "secret.csv"), f.Path)
	assert.True(t, strings.HasPrefix(f.Flags, "O_RDONLY"), f.Flags)
	assert.False(t, f.Created)
	assert.Equal(t, ResultOK, f.Result)
	cat := r.kind(KindExec)[1]
	assert.Equal(t, "cat", filepath.Base(cat.Exe))
	assert.Equal(t, cat.PID, f.PID, "the read belongs to cat")
}
