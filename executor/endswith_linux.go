package executor

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// endsWith waits, without reaping it, for the group leader pid to exit,
// then kills what is left of its process group, before the caller's Wait
// would wait for background children holding its output pipes.
func endsWith(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
