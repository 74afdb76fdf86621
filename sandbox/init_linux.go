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
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitCommand is os.Args[1] of the harness binary re-executed as a test's
// first process (see [MaybeInit]).
const InitCommand = "__harness_sandbox_init__"

// MaybeInit must be called at the very start of main (and of TestMain in
// tests) of every binary whose tests run in a sandbox. In a normal run it
// returns false at once; re-executed as a sandbox's first process it runs
// [Init] and exits. It comes before any command-line parsing so that a
// test pays only for the binary's start.
func MaybeInit() bool {
	if len(os.Args) < 2 || os.Args[1] != InitCommand {
		return false
	}
	os.Exit(Init(os.Args[2:], os.Stderr))
	return true
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
	args = append(append(args, "--"), argv...)
	cmd := exec.CommandContext(ctx, cfg.Harness)
	cmd.Args = args
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
		// The forking thread is the namespace's, which outlives the test;
		// should the harness die, the test's PID namespace dies with it.
		Pdeathsig: syscall.SIGKILL,
	}
	// Killing the namespace's first process kills every process in it.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = waitDelay
	if err := n.Start(cmd); err != nil {
		return -1, fmt.Errorf("sandbox: start %s: %w", argv[0], err)
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
		return -1, fmt.Errorf("sandbox: %s: %w", argv[0], err)
	}
}

type bindList []string

func (b *bindList) String() string     { return strings.Join(*b, ",") }
func (b *bindList) Set(v string) error { *b = append(*b, v); return nil }

// Init is the first process of a test's PID namespace (args exclude the
// program name). It names the
// host, makes its mounts private, mounts a /proc of the namespace, binds
// the run's files over the system's, then runs the command as its child,
// passing on SIGINT and SIGTERM, reaping orphans, and exits with the
// command's status: its exit ends every process left in the namespace.
func Init(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(InitCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	hostname := fs.String("hostname", "", "host name inside the sandbox")
	var binds bindList
	fs.Var(&binds, "bind", "bind-mount SRC over DST (SRC=DST; repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 || os.Getpid() != 1 {
		fmt.Fprintln(stderr, "sandbox-init: want a command, as the first process of a PID namespace")
		return exitUsage
	}
	if err := setup(*hostname, binds); err != nil {
		fmt.Fprintf(stderr, "sandbox-init: %v\n", err)
		return exitSetup
	}
	path, err := exec.LookPath(argv[0])
	if err != nil && !errors.Is(err, exec.ErrDot) {
		fmt.Fprintf(stderr, "sandbox-init: %v\n", err)
		return 127
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{Env: os.Environ(), Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		fmt.Fprintf(stderr, "sandbox-init: %v\n", err)
		return 126
	}
	go func() {
		for s := range sigs {
			_ = proc.Signal(s)
		}
	}()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "sandbox-init: wait: %v\n", err)
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
