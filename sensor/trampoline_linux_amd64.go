package sensor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// trampolineArg is os.Args[1] of the re-executed host binary.
const (
	trampolineArg = "__harness_sensor_trampoline__"
	// trampolineReadsArg asks for a filter that also stops read-only opens.
	trampolineReadsArg = "__harness_sensor_trampoline_reads__"
)

// File descriptors the tracer hands to the trampoline (exec.Cmd.ExtraFiles).
const (
	trampolineTidFD = 3 // trampoline writes its thread id, then closes
	trampolineGoFD  = 4 // tracer writes one byte once the thread is seized
)

// MaybeTrampoline must be called at the very start of main (and of TestMain
// in tests) of every binary that uses [Run] or [Main]. In a normal run it
// returns false at once. When the binary was re-executed by the tracer as
// the seccomp trampoline it never returns: it execs the traced command, or
// exits with 126/127 if that is impossible.
func MaybeTrampoline() bool {
	if len(os.Args) < 2 || os.Args[1] != trampolineArg && os.Args[1] != trampolineReadsArg {
		return false
	}
	os.Exit(runTrampoline(os.Args[2:], os.Args[1] == trampolineReadsArg))
	return true
}

func runTrampoline(argv []string, reads bool) int {
	// The tracer seizes one thread; the filter and the execve must both
	// happen on it.
	runtime.LockOSThread()
	if err := trampolineHandshake(); err != nil {
		fmt.Fprintf(os.Stderr, "sensor trampoline: %v\n", err)
		return 126
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "sensor trampoline: no command")
		return 127
	}
	path, err := exec.LookPath(argv[0])
	if err != nil && !errors.Is(err, exec.ErrDot) { // a shell would run ./x found via PATH=.
		fmt.Fprintf(os.Stderr, "sensor: %v\n", err)
		return 127
	}
	if err := installFilter(reads); err != nil {
		fmt.Fprintf(os.Stderr, "sensor trampoline: %v\n", err)
		return 126
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "sensor: exec %s: %v\n", argv[0], err)
	if errors.Is(err, syscall.ENOENT) {
		return 127
	}
	return 126
}

func trampolineHandshake() error {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	if _, err := unix.Write(trampolineTidFD, tid); err != nil {
		return fmt.Errorf("report thread id: %w", err)
	}
	unix.Close(trampolineTidFD)
	// The descriptor may have inherited O_NONBLOCK from the tracer's pipe.
	if err := unix.SetNonblock(trampolineGoFD, false); err != nil {
		return fmt.Errorf("wait for tracer: %w", err)
	}
	var b [1]byte
	for {
		n, err := unix.Read(trampolineGoFD, b[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		unix.Close(trampolineGoFD)
		if err != nil {
			return fmt.Errorf("wait for tracer: %w", err)
		}
		if n != 1 {
			return errors.New("tracer did not attach")
		}
		return nil
	}
}

// Offsets into struct seccomp_data.
const (
	seccompNR   = 0
	seccompArch = 4
)

func seccompArg(i int) uint32 { return uint32(16 + 8*i) } // low 32 bits on little endian

// openWriteMask selects opens that can modify a file. Read-only opens are
// by far the most frequent syscall of builds and must not stop.
const openWriteMask = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT

// buildFilter returns the BPF program: SECCOMP_RET_TRACE for the syscalls
// the sensor reports, SECCOMP_RET_ALLOW for everything else. With reads,
// every open stops, not only those that can write.
func buildFilter(reads bool) []unix.SockFilter {
	always := []uint32{
		unix.SYS_CONNECT, unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_SENDMMSG,
		unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_CREAT,
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	// Layout (jumps are forward-only and relative):
	//   0 ld arch; 1 jeq x86_64 else ALLOW; 2 ld nr; 3 jset x32 bit -> ALLOW
	//   4 jeq open -> OPEN; 5 jeq openat -> OPENAT; 6.. jeq always[i] -> TRACE
	//   ret ALLOW; OPEN: ld arg1, jset mask; OPENAT: ld arg2, jset mask
	//   TRACE: ret trace; ALLOW: ret allow
	first := 6
	open := first + len(always) + 1
	openat := open + 2
	trace := openat + 2
	allow := trace + 1
	rel := func(from, to int) uint8 { return uint8(to - from - 1) }

	p := make([]unix.SockFilter, allow+1)
	p[0] = stmt(ldAbs, seccompArch)
	p[1] = unix.SockFilter{Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jf: rel(1, allow)}
	p[2] = stmt(ldAbs, seccompNR)
	// x32 syscalls carry bit 30; they are not the x86_64 numbers below.
	p[3] = unix.SockFilter{Code: jset, K: 0x40000000, Jt: rel(3, allow)}
	p[4] = unix.SockFilter{Code: jeq, K: unix.SYS_OPEN, Jt: rel(4, open)}
	p[5] = unix.SockFilter{Code: jeq, K: unix.SYS_OPENAT, Jt: rel(5, openat)}
	for i, nr := range always {
		at := first + i
		p[at] = unix.SockFilter{Code: jeq, K: nr, Jt: rel(at, trace)}
	}
	p[open-1] = stmt(ret, unix.SECCOMP_RET_ALLOW)
	p[open] = stmt(ldAbs, seccompArg(1))
	p[open+1] = unix.SockFilter{Code: jset, K: openWriteMask, Jt: rel(open+1, trace), Jf: rel(open+1, allow)}
	p[openat] = stmt(ldAbs, seccompArg(2))
	p[openat+1] = unix.SockFilter{Code: jset, K: openWriteMask, Jt: rel(openat+1, trace), Jf: rel(openat+1, allow)}
	if reads {
		p[4].Jt, p[5].Jt = rel(4, trace), rel(5, trace)
	}
	p[trace] = stmt(ret, unix.SECCOMP_RET_TRACE)
	p[allow] = stmt(ret, unix.SECCOMP_RET_ALLOW)
	return p
}

func installFilter(reads bool) error {
	// Without CAP_SYS_ADMIN the kernel only accepts a filter from a thread
	// that can never gain privileges.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	prog := buildFilter(reads)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	return nil
}
