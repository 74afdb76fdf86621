package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitCommand is os.Args[1] of the harness binary re-executed as a test's
// first process (see [MaybeInit]).
const InitCommand = "__harness_sandbox_init__"

// ReapCommand is os.Args[1] of the harness binary re-executed as the
// parent of a test's command run without the sandbox (see [Reaped]).
const ReapCommand = "__harness_reap__"

// MaybeInit must be called at the very start of main (and of TestMain in
// tests) of every binary whose tests run in a sandbox or under the reaper.
// In a normal run it returns false at once; re-executed as a sandbox's
// first process it runs [Init], as a reaper [Reap], and exits. It comes
// before any command-line parsing so that a test pays only for the
// binary's start.
func MaybeInit() bool {
	if len(os.Args) < 2 {
		return false
	}
	switch os.Args[1] {
	case InitCommand:
		os.Exit(Init(os.Args[2:], os.Stderr))
	case ReapCommand:
		os.Exit(Reap(os.Args[2:], os.Stderr))
	}
	return false
}

// Exit codes of Init besides the command's own.
const (
	exitUsage = 2
	exitSetup = 125
)

// Config is what every test's sandbox of a run shares.
type Config struct {
	// Table places the served hosts.
	Table *Table
	// Files are the run's resolver, hosts and CA store files.
	Files *Files
	// Hostname is the test's host name (the profile's, e.g. WS-FIN-0142).
	Hostname string
	// Harness is the binary whose main calls [MaybeInit].
	Harness string
}

const waitDelay = 5 * time.Second

// Run runs argv in dir with env inside n and fresh mount, UTS and PID
// namespaces, and returns its exit code; everything it started ends with
// it. It has the signature of executor.Runner.
func (n *Net) Run(ctx context.Context, cfg Config, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
	args := []string{cfg.Harness, InitCommand, "--hostname", cfg.Hostname}
	srcs := make([]string, 0, len(cfg.Files.Binds))
	for src := range cfg.Files.Binds {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		args = append(args, "--bind", src+"="+cfg.Files.Binds[src])
	}
	cmd := command(ctx, cfg.Harness, append(append(args, "--"), argv...), dir, env, stdout, stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
		// The forking thread is the namespace's, which outlives the test;
		// should the harness die, the test's PID namespace dies with it.
		Pdeathsig: syscall.SIGKILL,
	}
	// Killing the namespace's first process kills every process in it.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	return wait(cmd, n.Start, argv[0])
}

// Reaped runs argv in dir with env like [Net.Run] but without namespaces
// (the --no-sandbox way), under a first process of the harness ([Reap])
// that is the child subreaper of everything argv starts: a child that
// left the command's process group and session (`setsid`) is reparented
// to it, not to the system's init, and ends with the command all the
// same. It has the signature of executor.Runner once harness is bound.
func Reaped(ctx context.Context, harness string, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
	cmd := command(ctx, harness, append([]string{harness, ReapCommand, "--"}, argv...), dir, env, stdout, stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Out of the harness's group, so a terminal's Ctrl-C reaches the
		// harness alone, which then ends the test its own way.
		Setpgid: true,
		// Should the harness die, the reaper still ends the whole tree.
		Pdeathsig: syscall.SIGTERM,
	}
	// SIGTERM makes the reaper kill the command and everything under it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	return wait(cmd, (*exec.Cmd).Start, argv[0])
}

// command is the harness binary started as a test's first process.
func command(ctx context.Context, harness string, args []string, dir string, env []string, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, harness)
	cmd.Args = args
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
	cmd.WaitDelay = waitDelay
	return cmd
}

// wait starts cmd with start and returns its exit status as a shell
// reports it (128+N for a signal).
func wait(cmd *exec.Cmd, start func(*exec.Cmd) error, name string) (int, error) {
	if err := start(cmd); err != nil {
		return -1, fmt.Errorf("sandbox: start %s: %w", name, err)
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	default:
		return -1, fmt.Errorf("sandbox: %s: %w", name, err)
	}
}

type bindList []string

func (b *bindList) String() string     { return strings.Join(*b, ",") }
func (b *bindList) Set(v string) error { *b = append(*b, v); return nil }

// Init is the first process of a test's PID namespace (args exclude the
// program name). It names the host, makes its mounts private, mounts a
// /proc of the namespace, binds the run's files over the system's, then
// runs the command as its child, passing on SIGINT and SIGTERM, reaping
// orphans, and exits with the command's status: its exit ends every
// process left in the namespace. With --probe it runs no command: it
// sets up the network as [NewNet] does, then exits 0, or with a one-line
// reason on stderr, so that a user namespace's sandbox is tried once
// before a run relies on it.
func Init(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(InitCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	hostname := fs.String("hostname", "", "host name inside the sandbox")
	probe := fs.Bool("probe", false, "set up the namespaces and their network, then exit")
	var binds bindList
	fs.Var(&binds, "bind", "bind-mount SRC over DST (SRC=DST; repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	argv := fs.Args()
	if (len(argv) == 0) != *probe || os.Getpid() != 1 {
		fmt.Fprintln(stderr, "sandbox-init: want a command (or --probe), as the first process of a PID namespace")
		return exitUsage
	}
	if err := setup(*hostname, binds); err != nil {
		fmt.Fprintf(stderr, "sandbox-init: %v\n", err)
		return exitSetup
	}
	if *probe {
		if err := probeNet(); err != nil {
			fmt.Fprintf(stderr, "sandbox-init: %v\n", err)
			return exitSetup
		}
		return 0
	}
	return supervise("sandbox-init", argv, stderr, func(proc *os.Process, s os.Signal) { _ = proc.Signal(s) })
}

// Reap runs the command (args exclude the program name; "--" then argv)
// as the child subreaper of its whole tree, and once the command has
// exited kills and reaps every process it left, wherever in the tree. On
// SIGINT or SIGTERM it kills the command at once, then the rest.
func Reap(args []string, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(stderr, "reap: want -- and a command")
		return exitUsage
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(stderr, "reap: child subreaper: %v\n", err)
		return exitSetup
	}
	code := supervise("reap", args[1:], stderr, func(proc *os.Process, _ os.Signal) { _ = proc.Kill() })
	endDescendants()
	return code
}

// supervise runs argv as a child, hands each SIGINT and SIGTERM this
// process gets to onSignal with the child, reaps every other child that
// ends meanwhile (an orphan of the command, reparented here), and returns
// the command's exit status. Its messages start with name.
func supervise(name string, argv []string, stderr io.Writer, onSignal func(*os.Process, os.Signal)) int {
	path, err := exec.LookPath(argv[0])
	if err != nil && !errors.Is(err, exec.ErrDot) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 127
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{Env: os.Environ(), Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 126
	}
	go func() {
		for s := range sigs {
			onSignal(proc, s)
		}
	}()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: wait: %v\n", name, err)
			return exitSetup
		}
		if pid != proc.Pid {
			continue // an orphan of the test, reaped
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// endDescendants kills every process under this one and reaps it. It
// kills this process's children; as each dies its own children are
// reparented here (this process is their subreaper) and killed in the
// next round, until none is left.
func endDescendants() {
	self := os.Getpid()
	for {
		for _, pid := range childrenOf(self) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		_, err := unix.Wait4(-1, nil, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // ECHILD: nothing is left
		}
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

func setup(hostname string, binds []string) error {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("host name: %w", err)
		}
	}
	// Nothing mounted here may show on the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	// A /proc of this PID namespace: the sensor reads its tracees there.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, b := range binds {
		src, dst, ok := strings.Cut(b, "=")
		if !ok {
			return fmt.Errorf("--bind %q: want SRC=DST", b)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", src, dst, err)
		}
	}
	return nil
}
