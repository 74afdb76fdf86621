package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// NeedsUserNamespace says whether this process must run inside a user
// namespace of its own to make sandboxes: it is not root. The kernel lets
// an ordinary user create a user namespace where that user is root, and
// with it network, mount, UTS and PID namespaces; a Go process cannot
// enter one once its threads run, so the harness starts itself again
// inside one ([RunInUserNamespace]).
func NeedsUserNamespace() bool { return os.Geteuid() != 0 }

// userNamespace is the attributes of a child that is root of a new user
// namespace mapping root to this process's own user and group (setgroups
// denied, as the kernel requires of a mapping made without privilege),
// and of the namespaces in flags, which that user namespace owns.
func userNamespace(flags uintptr) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | flags,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
}

// ProbeUserNamespace says why this user cannot make sandboxes in a user
// namespace of its own, in one line, or returns nil when it can: it starts
// harness (a binary whose main calls [MaybeInit]) as a sandbox's first
// process in a new user namespace, which names the host, mounts /proc,
// brings up the network and listens on the served ports, as a test's
// sandbox will.
func ProbeUserNamespace(ctx context.Context, harness string) error {
	cmd := exec.CommandContext(ctx, harness, InitCommand, "--probe", "--hostname", "probe")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = userNamespace(syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	what := err.Error()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		what = strings.TrimPrefix(firstLine(stderr.String()), "sandbox-init: ")
		if what == "" {
			what = err.Error()
		}
	}
	return fmt.Errorf("as uid %d the network sandbox needs a user namespace of its own, and %s; run as root or pass --no-sandbox",
		os.Geteuid(), whyNoUserNamespace(os.DirFS("/proc/sys"), what, err))
}

// whyNoUserNamespace names what keeps this user from its user namespace:
// a setting of the kernel (read from sys, /proc/sys) where one says so,
// else what failed (what, err).
func whyNoUserNamespace(sys fs.FS, what string, err error) string {
	read := func(name string) string {
		b, _ := fs.ReadFile(sys, name)
		return strings.TrimSpace(string(b))
	}
	switch {
	case read("user/max_user_namespaces") == "0":
		return "user namespaces are off (user.max_user_namespaces is 0)"
	case read("kernel/unprivileged_userns_clone") == "0":
		return "unprivileged user namespaces are off (kernel.unprivileged_userns_clone is 0)"
	case read("kernel/apparmor_restrict_unprivileged_userns") == "1":
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1): " + what
	case errors.Is(err, syscall.EPERM):
		return "creating one is not permitted (a seccomp filter, such as a container's, may forbid it): " + what
	case errors.Is(err, syscall.ENOSPC):
		return "the limit of user namespaces is reached (user.max_user_namespaces): " + what
	case errors.Is(err, syscall.EINVAL):
		return "the kernel has no user namespaces: " + what
	}
	return "making one failed: " + what
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// RunInUserNamespace runs harness with args as root of a new user
// namespace of this user's own, with this process's environment and the
// given standard streams, and returns its exit status (128+N for a
// signal). When ctx ends the harness inside gets SIGTERM, and stops and
// cleans up as on SIGINT; should this process die, it gets SIGTERM too.
func RunInUserNamespace(ctx context.Context, harness string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, harness, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = userNamespace(0)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	return wait(cmd, (*exec.Cmd).Start, harness)
}
