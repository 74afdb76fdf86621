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
// # Reporting
//
// Threads are traced too but every observation names the thread group (the
// process). Observations are delivered synchronously from the tracer thread
// to the emit callback of [Run], or streamed as JSON lines by [Main] and read
// back with [Decode].
package sensor
