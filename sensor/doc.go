// Package sensor runs a command under ptrace and reports what its whole
// process tree really did: every exec and exit, every AF_INET/AF_INET6
// connect (with the local address of the socket, the join key with network
// telemetry), every file opened for writing under a set of watched
// directories, and every DNS query sent over UDP.
//
// # Design
//
// Tracing every syscall with PTRACE_SYSCALL costs two context switches per
// syscall and makes builds crawl. Instead the traced command runs under a
// seccomp BPF filter that returns SECCOMP_RET_TRACE only for the syscalls the
// sensor cares about (connect, sendto, sendmsg, sendmmsg, execve, execveat,
// creat, and open/openat when the flags ask for write access or creation);
// every other syscall runs at full speed without waking the tracer. The
// tracer sets PTRACE_O_TRACESECCOMP so those syscalls stop in
// PTRACE_EVENT_SECCOMP; when the result matters (connect, open*) the tracee is
// resumed once with PTRACE_SYSCALL to catch the syscall-exit stop, otherwise
// with PTRACE_CONT.
//
// Installing a seccomp filter requires PR_SET_NO_NEW_PRIVS in the child
// before the exec of the real command. Go cannot run code between fork and
// exec, so the host binary re-executes itself as a trampoline (see
// [MaybeTrampoline], which every host binary and TestMain must call first).
// The trampoline locks its goroutine to a thread, reports that thread id to
// the tracer over a pipe and waits; the tracer PTRACE_SEIZEs exactly that
// thread (so group-stops are reported as PTRACE_EVENT_STOP and can be left in
// place with PTRACE_LISTEN, which PTRACE_TRACEME cannot do); the trampoline
// then sets no_new_privs, installs the filter and execve's the command. Its
// own re-exec happens before the seize and is never reported. Because the
// execve may come from a non-leader thread, the first exec event can arrive
// for a pid the tracer has never seen; PTRACE_GETEVENTMSG gives the former
// thread id.
//
// All ptrace requests are issued from one goroutine locked to one OS thread,
// which also forks the trampoline: ptrace relationships belong to a thread,
// not a process. The loop waits with wait4(-1, __WALL|__WNOTHREAD) so it
// only ever reaps its own tracees, never children of other goroutines.
//
// # The unknown-pid trap
//
// A new child can report its initial stop before its parent's
// PTRACE_EVENT_FORK/VFORK/CLONE reaches the tracer. Tracers that skip such
// pids leave them stopped forever and hang the tree. Here the child is kept
// as an orphan (still stopped) until the parent's event names it, at which
// point it gets its parent and is resumed. If the tracer runs out of queued
// events while orphans are still waiting, it adopts them from
// /proc/<tid>/status (Tgid, PPid) instead of waiting, so no interleaving can
// hang the loop.
//
// # What is reported, and how reliably
//
//   - exec: from PTRACE_EVENT_EXEC, so only successful execs; exe, argv and
//     cwd are read from /proc after the exec, while the tracee is stopped.
//   - exit: one per process (thread group), never per thread.
//   - connect: AF_INET/AF_INET6 only. The local address is read at the
//     syscall-exit stop by duplicating the socket into the tracer with
//     pidfd_getfd (Linux 5.6+) and calling getsockname; /proc/<pid>/net is
//     the fallback. A connect interrupted and restarted by the kernel is
//     reported once, when it really returns.
//   - file: open, openat and creat with O_WRONLY, O_RDWR or O_CREAT whose
//     path, resolved lexically against the cwd or dirfd, lies under a
//     watched directory. On success Path is what the kernel opened
//     (/proc/<pid>/fd/<ret>). Created is true when O_CREAT succeeded and
//     either O_EXCL was set or the tracer's stat at syscall entry found no
//     file; a concurrent process creating the same name in between makes
//     it wrong. openat2, rename, link, truncate, mkdir and io_uring opens
//     are not reported.
//   - dns: UDP payloads to the DNS port sent with sendto/sendmsg/sendmmsg
//     (glibc, musl) are always seen. write/writev on a connected UDP socket
//     (Go's resolver) is caught by single-stepping syscalls of the thread
//     that connected, for at most 64 syscalls: a query written later or
//     from another thread is missed. DNS over TCP, DoT and DoH are not
//     reported.
//
// # Side effects on the traced tree
//
// PR_SET_NO_NEW_PRIVS is inherited: setuid/setgid bits and file
// capabilities are ignored in the traced tree (sudo fails). The tree cannot
// be ptraced by anything else (gdb, strace inside it fail with EPERM).
// Syscalls made through the i386 or x32 ABI bypass the filter unreported.
// Every stop costs two context switches; in the VM this was developed on
// that is about 45µs per stop, so write-heavy workloads on tmpfs slow down
// markedly (see BenchmarkGitCommit300).
//
// # Reporting
//
// Threads are traced too but every observation names the thread group (the
// process). Observations are delivered synchronously from the tracer thread
// to the emit callback of [Run], or streamed as JSON lines by [Main] and read
// back with [Decode].
package sensor
