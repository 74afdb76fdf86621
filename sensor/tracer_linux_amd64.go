package sensor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEEXEC |
		unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
		unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_EXITKILL

	syscallStopSig = unix.SIGTRAP | 0x80 // PTRACE_O_TRACESYSGOOD

	maxPayload = 4096 // bytes of a send buffer inspected for a DNS question
	maxIov     = 16   // iovecs (and sendmmsg messages) inspected
	pageSize   = 4096

	// dnsStepBudget is how many syscalls a thread is single-stepped with
	// PTRACE_SYSCALL after connecting a UDP socket to the DNS port, to see
	// a write()/writev() of the query (Go's resolver does this). write is
	// far too hot to put in the seccomp filter.
	dnsStepBudget = 64
)

// Run runs cfg.Argv under trace, calling emit for every observation, and
// returns the command's exit code (128+signal when it was killed by a
// signal) once every traced process has exited. Processes that outlive the
// command keep Run waiting, as with strace -f; cancel ctx to stop: every
// traced process is then sent SIGKILL, and Run returns ctx.Err() after all
// have been reaped.
//
// emit is called from the tracer's locked OS thread, one call at a time,
// while the reporting tracee is stopped: keep it fast. The host binary must
// call [MaybeTrampoline] first thing in main.
func Run(ctx context.Context, cfg Config, emit func(Observation)) (int, error) {
	if len(cfg.Argv) == 0 {
		return -1, errors.New("sensor: empty command")
	}
	if emit == nil {
		emit = func(Observation) {}
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Every ptrace request must come from the thread that attached.
		// The goroutine exits without unlocking so that the thread dies
		// with it: should anything still be traced, PTRACE_O_EXITKILL
		// kills it rather than leaving it stopped forever.
		runtime.LockOSThread()
		code, err := runTracer(ctx, cfg, emit)
		done <- result{code, err}
	}()
	r := <-done
	return r.code, r.err
}

// thread is one traced task.
type thread struct {
	tid, tgid int
	// started is false until the task's initial attach stop was seen and
	// resumed.
	started bool
	// inSyscall tells syscall-entry from syscall-exit stops; it is only
	// meaningful while the task is resumed with PTRACE_SYSCALL.
	inSyscall bool
	// pending is the syscall whose exit stop is awaited.
	pending *pendingCall
	// step counts down syscalls left to step through (see dnsStepBudget).
	step int
}

// process is one traced thread group.
type process struct {
	ppid int
	// dnsSocks maps fds of UDP sockets connected to the DNS port.
	dnsSocks map[int]dnsSock
}

type dnsSock struct {
	inode  string // tells a reused fd number from the connected socket
	remote netip.AddrPort
}

type pendingCall struct {
	obs     Observation
	fd      int  // connect
	open    bool // open*, else connect
	flags   int
	existed bool
}

// liveSet is the only state shared with the cancellation goroutine.
type liveSet struct {
	mu     sync.Mutex
	tids   map[int]struct{}
	killed bool
}

func (l *liveSet) add(tid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tids[tid] = struct{}{}
	if l.killed { // born after cancellation: kill it too
		unix.Kill(tid, unix.SIGKILL)
	}
}

// remove is called right after wait4 reaped the task. Between the two a
// cancellation could in theory signal a recycled pid; that needs the pid
// space to wrap within microseconds, which Linux's cyclic allocation makes
// practically impossible.
func (l *liveSet) remove(tid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.tids, tid)
}

func (l *liveSet) killAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killed = true
	for tid := range l.tids {
		// kill(2) with a thread id signals its whole thread group.
		unix.Kill(tid, unix.SIGKILL)
	}
}

type tracer struct {
	emit     func(Observation)
	watch    []string
	reads    bool
	dnsPort  int
	selfPID  int
	rootPID  int
	threads  map[int]*thread
	procs    map[int]*process
	orphans  map[int]syscall.Signal // first stop came before the parent's event; value: stop signal
	live     *liveSet
	rootDone bool
	rootWS   unix.WaitStatus
	// restKilled: what the root left behind was killed once it exited.
	restKilled bool
	regs       unix.PtraceRegs
	scratch    []byte
	hooks      *testHooks
	// held maps a child tid to its parent's fork event, held back under
	// testHooks.reorder.
	held map[int]heldEvent
}

type heldEvent struct {
	parent *thread
	event  int
}

func runTracer(ctx context.Context, cfg Config, emit func(Observation)) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	t := &tracer{
		emit:    emit,
		reads:   cfg.WatchReads,
		dnsPort: cfg.DNSPort,
		selfPID: os.Getpid(),
		threads: make(map[int]*thread),
		procs:   make(map[int]*process),
		orphans: make(map[int]syscall.Signal),
		live:    &liveSet{tids: make(map[int]struct{})},
		scratch: make([]byte, maxPayload),
		hooks:   cfg.hooks,
		held:    make(map[int]heldEvent),
	}
	if t.dnsPort == 0 {
		t.dnsPort = 53
	}
	var err error
	if t.watch, err = watchDirs(cfg); err != nil {
		return -1, err
	}

	cmd, err := t.start(cfg)
	if err != nil {
		return -1, err
	}

	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			t.live.killAll()
		case <-stopWatch:
		}
	}()

	loopErr := t.loop()
	close(stopWatch)
	<-watchDone
	// Joins exec.Cmd's I/O copying goroutines. The root was already reaped
	// by the loop, so the wait status part fails with ECHILD; ignore it.
	_ = cmd.Wait()

	if loopErr != nil {
		return -1, loopErr
	}
	code := -1
	if t.rootDone {
		if t.rootWS.Exited() {
			code = t.rootWS.ExitStatus()
		} else if t.rootWS.Signaled() {
			code = 128 + int(t.rootWS.Signal())
		}
	}
	if err := ctx.Err(); err != nil {
		return code, err
	}
	if !t.rootDone {
		return -1, errors.New("sensor: lost track of the traced command")
	}
	return code, nil
}

// watchDirs returns the cleaned, symlink-resolved watch directories: paths
// the tracer computes come from /proc links and are already resolved.
func watchDirs(cfg Config) ([]string, error) {
	dirs := cfg.WatchDirs
	if dirs == nil {
		wd := cfg.Dir
		if wd == "" {
			var err error
			if wd, err = os.Getwd(); err != nil {
				return nil, fmt.Errorf("sensor: working directory: %w", err)
			}
		}
		dirs = []string{wd, os.TempDir()}
	}
	var out []string
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("sensor: watch dir %q: %w", d, err)
		}
		out = append(out, abs)
		if r, err := filepath.EvalSymlinks(abs); err == nil && r != abs {
			out = append(out, r)
		}
	}
	return out, nil
}

// start forks the trampoline from the locked thread, seizes the thread it
// reports and lets it exec the command.
func (t *tracer) start(cfg Config) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sensor: locate own executable for the trampoline: %w", err)
	}
	tidR, tidW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sensor: trampoline pipe: %w", err)
	}
	defer tidR.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		tidW.Close()
		return nil, fmt.Errorf("sensor: trampoline pipe: %w", err)
	}
	defer goW.Close()

	cmd := &exec.Cmd{
		Path:       self,
		Args:       append([]string{self, trampolineFor(cfg.WatchReads)}, cfg.Argv...),
		Dir:        cfg.Dir,
		Env:        cfg.Env,
		Stdin:      cfg.Stdin,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
		ExtraFiles: []*os.File{tidW, goR},
		// A Stdin reader that never returns must not block Run forever.
		WaitDelay: time.Second,
	}
	err = cmd.Start()
	tidW.Close()
	goR.Close()
	if err != nil {
		return nil, fmt.Errorf("sensor: start trampoline: %w", err)
	}
	t.rootPID = cmd.Process.Pid

	fail := func(err error) (*exec.Cmd, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	msg, err := io.ReadAll(io.LimitReader(tidR, 32))
	if err != nil {
		return fail(fmt.Errorf("sensor: read trampoline thread id: %w", err))
	}
	tid, err := strconv.Atoi(string(msg))
	if err != nil {
		return fail(fmt.Errorf("sensor: trampoline did not report its thread id (host binary must call sensor.MaybeTrampoline first): %q", msg))
	}
	if err := ptrace(unix.PTRACE_SEIZE, tid, 0, ptraceOptions); err != nil {
		return fail(fmt.Errorf("sensor: PTRACE_SEIZE %d: %w", tid, err))
	}
	t.procs[t.rootPID] = &process{ppid: t.selfPID}
	t.addThread(&thread{tid: tid, tgid: t.rootPID, started: true})
	t.live.add(t.rootPID)
	if _, err := goW.Write([]byte{1}); err != nil {
		// The trampoline died; the loop will reap it and report its exit.
		return cmd, nil
	}
	return cmd, nil
}

func ptrace(req, pid int, addr, data uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (t *tracer) addThread(th *thread) {
	t.threads[th.tid] = th
	t.live.add(th.tid)
}

// loop dispatches wait4 results until the root was reaped and no traced
// task is left.
func (t *tracer) loop() error {
	for !t.rootDone || len(t.threads) > 0 || len(t.orphans) > 0 {
		flags := unix.WALL | unix.WNOTHREAD
		if len(t.orphans) > 0 {
			flags |= unix.WNOHANG
		}
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, flags, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			return nil // nothing left to wait for
		case err != nil:
			return fmt.Errorf("sensor: wait4: %w", err)
		case tid == 0:
			// No event is queued, yet orphans still wait for their
			// parent's fork event: adopt them from /proc rather than
			// risk waiting forever.
			t.adoptOrphans()
			continue
		}
		t.handle(tid, ws)
		if t.rootDone && !t.restKilled {
			t.restKilled = true
			// The test is over when its command is: background children
			// it left (`sleep 300 &`, nohup) end with it, as in a sandbox.
			t.live.killAll()
		}
	}
	return nil
}

func (t *tracer) handle(tid int, ws unix.WaitStatus) {
	if ws.Exited() || ws.Signaled() {
		t.reap(tid, ws)
		return
	}
	if !ws.Stopped() {
		return
	}
	sig := ws.StopSignal()
	event := int(uint32(ws) >> 16)
	if event == unix.PTRACE_EVENT_EXEC {
		t.onExec(tid)
		return
	}
	th := t.threads[tid]
	if th == nil {
		if event == unix.PTRACE_EVENT_STOP {
			// The unknown-pid trap: a new task whose parent's fork
			// event has not arrived yet. Keep it stopped until it does.
			t.orphans[tid] = sig
			t.live.add(tid)
			if t.hooks != nil {
				t.hooks.orphans++
				if t.hooks.reorder == reorderResolve {
					t.releaseHeld(tid)
				}
			}
			return
		}
		// Should not happen; adopt it rather than leave it stopped.
		th = t.adopt(tid)
	}
	switch {
	case sig == syscallStopSig:
		t.onSyscallStop(th)
	case event == unix.PTRACE_EVENT_SECCOMP:
		t.onSeccomp(th)
	case event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE:
		t.onNewTask(th, event)
	case event == unix.PTRACE_EVENT_STOP:
		th.started = true
		t.resumeStop(th, sig)
	case event != 0:
		t.resume(th, 0)
	default:
		// Signal-delivery-stop: deliver the signal.
		t.resume(th, sig)
	}
}

func isStopSignal(sig syscall.Signal) bool {
	return sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

// resumeStop resumes from a PTRACE_EVENT_STOP. With a stop signal it is a
// group-stop: PTRACE_LISTEN leaves the task stopped (job control keeps
// working) while still reporting SIGCONT and new events.
func (t *tracer) resumeStop(th *thread, sig syscall.Signal) {
	if isStopSignal(sig) {
		ptrace(unix.PTRACE_LISTEN, th.tid, 0, 0)
		return
	}
	t.resume(th, 0)
}

// resume continues a stopped task, with PTRACE_SYSCALL while a syscall exit
// or DNS write is awaited and PTRACE_CONT otherwise. Errors mean the task
// died meanwhile (SIGKILL); its exit is reported by wait4.
func (t *tracer) resume(th *thread, sig syscall.Signal) {
	if th.pending != nil || th.step > 0 {
		unix.PtraceSyscall(th.tid, int(sig))
		return
	}
	th.inSyscall = false
	unix.PtraceCont(th.tid, int(sig))
}

func (t *tracer) reap(tid int, ws unix.WaitStatus) {
	t.live.remove(tid)
	delete(t.orphans, tid)
	t.releaseHeld(tid)
	th := t.threads[tid]
	delete(t.threads, tid)
	if th != nil && th.tid != th.tgid {
		return // a thread, not a process
	}
	p, ok := t.procs[tid]
	if !ok {
		return
	}
	delete(t.procs, tid)
	o := Observation{Kind: KindExit, Time: now(), PID: tid, PPID: p.ppid}
	if ws.Exited() {
		code := ws.ExitStatus()
		o.ExitCode = &code
	} else {
		o.Signal = unix.SignalName(ws.Signal())
	}
	if tid == t.rootPID {
		t.rootDone, t.rootWS = true, ws
	}
	t.emit(o)
}

// onNewTask handles PTRACE_EVENT_FORK/VFORK/CLONE in the parent.
func (t *tracer) onNewTask(parent *thread, event int) {
	msg, err := unix.PtraceGetEventMsg(parent.tid)
	child := int(msg)
	if t.hooks != nil && t.hooks.reorder != reorderNone && err == nil && child > 0 {
		if _, seen := t.orphans[child]; !seen {
			if _, known := t.threads[child]; !known {
				t.held[child] = heldEvent{parent, event}
				return // parent stays stopped until releaseHeld
			}
		}
	}
	if err == nil && child > 0 {
		if _, known := t.threads[child]; !known {
			tgid := child
			if event == unix.PTRACE_EVENT_CLONE {
				// Fork-like clones are reported as FORK/VFORK, so a
				// CLONE event is nearly always a thread; /proc says
				// for sure.
				tgid = parent.tgid
				if st, err := readProcStatus(child); err == nil {
					tgid = st.Tgid
				}
			}
			if tgid == child {
				t.procs[child] = &process{ppid: parent.tgid}
			}
			th := &thread{tid: child, tgid: tgid}
			t.addThread(th)
			if sig, orphan := t.orphans[child]; orphan {
				delete(t.orphans, child)
				th.started = true
				t.resumeStop(th, sig)
			}
		}
	}
	t.resume(parent, 0)
}

// adopt registers a task the tracer has no fork event for, from /proc.
func (t *tracer) adopt(tid int) *thread {
	th := &thread{tid: tid, tgid: tid, started: true}
	ppid := 0
	if st, err := readProcStatus(tid); err == nil {
		th.tgid, ppid = st.Tgid, st.PPid
	}
	if th.tgid == tid {
		if _, ok := t.procs[tid]; !ok {
			t.procs[tid] = &process{ppid: ppid}
		}
	}
	t.addThread(th)
	return th
}

func (t *tracer) adoptOrphans() {
	for tid, sig := range t.orphans {
		delete(t.orphans, tid)
		t.resumeStop(t.adopt(tid), sig)
		if t.hooks != nil {
			t.hooks.adopted++
		}
		t.releaseHeld(tid)
	}
}

// releaseHeld processes a parent's fork event held back for child (tests).
func (t *tracer) releaseHeld(child int) {
	h, ok := t.held[child]
	if !ok {
		return
	}
	delete(t.held, child)
	if _, alive := t.threads[h.parent.tid]; alive {
		t.onNewTask(h.parent, h.event)
	}
}

// onExec handles PTRACE_EVENT_EXEC. tid is the thread group id: if a
// non-leader thread exec'd, it took over the leader's id and the event
// message holds its former tid.
func (t *tracer) onExec(tid int) {
	if msg, err := unix.PtraceGetEventMsg(tid); err == nil && int(msg) != tid {
		if _, ok := t.threads[int(msg)]; ok {
			delete(t.threads, int(msg))
			t.live.remove(int(msg))
		}
	}
	// The exec replaced the whole thread state; start afresh.
	th := &thread{tid: tid, tgid: tid, started: true}
	if _, ok := t.threads[tid]; !ok {
		t.addThread(th)
	} else {
		t.threads[tid] = th
	}
	p, ok := t.procs[tid]
	if !ok {
		p = &process{}
		if st, err := readProcStatus(tid); err == nil {
			p.ppid = st.PPid
		}
		t.procs[tid] = p
	}

	dir := "/proc/" + strconv.Itoa(tid)
	o := Observation{Kind: KindExec, Time: now(), PID: tid, PPID: p.ppid}
	o.Exe, _ = os.Readlink(dir + "/exe")
	o.Cwd, _ = os.Readlink(dir + "/cwd")
	if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil {
		o.Argv = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	}
	if st, err := readProcStatus(tid); err == nil {
		uid := st.UID
		o.UID = &uid
	}
	t.emit(o)
	t.resume(th, 0)
}

func (t *tracer) getRegs(th *thread) bool {
	return unix.PtraceGetRegs(th.tid, &t.regs) == nil
}

func (t *tracer) onSeccomp(th *thread) {
	th.inSyscall = true
	if !t.getRegs(th) {
		t.resume(th, 0)
		return
	}
	r := &t.regs
	switch r.Orig_rax {
	case unix.SYS_CONNECT:
		t.connectEntry(th, int(int32(r.Rdi)), r.Rsi, r.Rdx)
	case unix.SYS_OPENAT:
		t.openEntry(th, int(int32(r.Rdi)), r.Rsi, int(int32(r.Rdx)))
	case unix.SYS_OPEN:
		t.openEntry(th, unix.AT_FDCWD, r.Rdi, int(int32(r.Rsi)))
	case unix.SYS_CREAT:
		t.openEntry(th, unix.AT_FDCWD, r.Rdi, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC)
	case unix.SYS_SENDTO:
		t.sendto(th, int(int32(r.Rdi)), r.Rsi, r.Rdx, r.R8, r.R9)
	case unix.SYS_SENDMSG:
		t.sendmsg(th, int(int32(r.Rdi)), r.Rsi)
	case unix.SYS_SENDMMSG:
		fd, vec, n := int(int32(r.Rdi)), r.Rsi, min(r.Rdx, maxIov)
		for i := range n {
			t.sendmsg(th, fd, vec+i*64) // sizeof(struct mmsghdr)
		}
	}
	// execve/execveat: the PTRACE_EVENT_EXEC that follows a successful
	// exec carries everything reported.
	t.resume(th, 0)
}

func (t *tracer) onSyscallStop(th *thread) {
	if !th.inSyscall { // entry; only seen while stepping for DNS
		th.inSyscall = true
		if th.step > 0 && t.getRegs(th) {
			t.stepEntry(th)
		}
		t.resume(th, 0)
		return
	}
	th.inSyscall = false
	if p := th.pending; p != nil {
		th.pending = nil
		if t.getRegs(th) {
			t.finish(th, p, int64(t.regs.Rax))
		}
	} else if th.step > 0 {
		th.step--
	}
	t.resume(th, 0)
}

// stepEntry catches a DNS query written with write/writev to a connected
// UDP socket; send* calls are seen through seccomp already.
func (t *tracer) stepEntry(th *thread) {
	r := &t.regs
	fd := int(int32(r.Rdi))
	switch r.Orig_rax {
	case unix.SYS_WRITE:
		if remote := t.dnsSockOf(th.tgid, fd); remote != nil {
			t.emitDNS(th, fd, t.readBuf(th.tid, r.Rsi, r.Rdx), remote)
			th.step = 0 // one query per connected socket is the norm
		}
	case unix.SYS_WRITEV:
		if remote := t.dnsSockOf(th.tgid, fd); remote != nil {
			t.emitDNS(th, fd, t.readIov(th.tid, r.Rsi, r.Rdx), remote)
			th.step = 0
		}
	}
}

// isRestart reports the kernel-internal errnos of an interrupted syscall
// that will be restarted (and trapped again).
func isRestart(ret int64) bool { return ret <= -512 && ret >= -516 }

func errnoResult(ret int64) string {
	switch {
	case ret >= 0:
		return ResultOK
	case ret == -int64(unix.EINPROGRESS):
		return ResultAttempted
	}
	if name := unix.ErrnoName(unix.Errno(-ret)); name != "" {
		return name
	}
	return "errno " + strconv.FormatInt(-ret, 10)
}

func (t *tracer) finish(th *thread, p *pendingCall, ret int64) {
	if isRestart(ret) {
		return
	}
	o := p.obs
	o.Time = now()
	o.Result = errnoResult(ret)
	if p.open {
		if ret >= 0 {
			o.Created = p.flags&unix.O_CREAT != 0 && (!p.existed || p.flags&unix.O_EXCL != 0)
			// The descriptor names the file the kernel really opened.
			if real, err := os.Readlink("/proc/" + strconv.Itoa(th.tid) + "/fd/" + strconv.FormatInt(ret, 10)); err == nil && filepath.IsAbs(real) {
				o.Path = real
			}
		}
		t.emit(o)
		return
	}
	// connect: the socket is bound now, even after EINPROGRESS.
	local, port, proto, err := sockLocal(th.tgid, p.fd)
	if err == nil {
		o.LocalIP, o.LocalPort, o.Proto = local.String(), port, proto
	}
	if proto == "udp" && ret == 0 && o.RemotePort == t.dnsPort {
		if ino, err := socketInode(th.tgid, p.fd); err == nil {
			proc := t.procs[th.tgid]
			if proc != nil {
				if proc.dnsSocks == nil {
					proc.dnsSocks = make(map[int]dnsSock)
				}
				remote, _ := netip.ParseAddr(o.RemoteIP)
				proc.dnsSocks[p.fd] = dnsSock{inode: ino, remote: netip.AddrPortFrom(remote, uint16(o.RemotePort))}
				th.step = dnsStepBudget
			}
		}
	}
	t.emit(o)
}

// sockLocal returns the local address of a tracee's socket: pidfd_getfd
// duplicates it into the tracer for getsockname (Linux 5.6+), /proc/net is
// the fallback.
func sockLocal(pid, fd int) (netip.Addr, int, string, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		dup, err := unix.PidfdGetfd(pidfd, fd, 0)
		unix.Close(pidfd)
		if err == nil {
			defer unix.Close(dup)
			sa, err := unix.Getsockname(dup)
			if err == nil {
				proto := ""
				if typ, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE); err == nil {
					switch typ {
					case unix.SOCK_STREAM:
						proto = "tcp"
					case unix.SOCK_DGRAM:
						proto = "udp"
					}
				}
				switch sa := sa.(type) {
				case *unix.SockaddrInet4:
					return netip.AddrFrom4(sa.Addr), sa.Port, proto, nil
				case *unix.SockaddrInet6:
					return netip.AddrFrom16(sa.Addr).Unmap(), sa.Port, proto, nil
				}
			}
		}
	}
	return procNetLocal(pid, fd)
}

func (t *tracer) connectEntry(th *thread, fd int, addr, alen uint64) {
	if alen < 2 || alen > 128 {
		return
	}
	ip, port, ok := parseSockaddr(t.readBuf(th.tid, addr, alen))
	if !ok {
		return // AF_UNIX and friends
	}
	th.pending = &pendingCall{fd: fd, obs: Observation{
		Kind: KindConnect, PID: th.tgid, RemoteIP: ip.String(), RemotePort: port,
	}}
}

func parseSockaddr(b []byte) (netip.Addr, int, bool) {
	if len(b) < 2 {
		return netip.Addr{}, 0, false
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < 8 {
			return netip.Addr{}, 0, false
		}
		return netip.AddrFrom4([4]byte(b[4:8])), int(binary.BigEndian.Uint16(b[2:4])), true
	case unix.AF_INET6:
		if len(b) < 24 {
			return netip.Addr{}, 0, false
		}
		return netip.AddrFrom16([16]byte(b[8:24])).Unmap(), int(binary.BigEndian.Uint16(b[2:4])), true
	}
	return netip.Addr{}, 0, false
}

func (t *tracer) openEntry(th *thread, dirfd int, pathAddr uint64, flags int) {
	if flags&openWriteMask == 0 && (!t.reads || flags&unix.O_DIRECTORY != 0) {
		return // a read-only open, unless reads are watched; never a directory listing
	}
	p, err := t.readString(th.tid, pathAddr)
	if err != nil || p == "" {
		return
	}
	if !filepath.IsAbs(p) {
		link := "/proc/" + strconv.Itoa(th.tid) + "/cwd"
		if dirfd != unix.AT_FDCWD {
			link = "/proc/" + strconv.Itoa(th.tid) + "/fd/" + strconv.Itoa(dirfd)
		}
		base, err := os.Readlink(link)
		if err != nil {
			return
		}
		p = filepath.Join(base, p)
	} else {
		p = filepath.Clean(p)
	}
	if !t.watched(p) {
		return
	}
	// The tracee is stopped before the open, so this is the state it sees
	// (barring a concurrent process racing on the same name). With O_EXCL
	// success alone proves creation.
	existed := false
	if flags&unix.O_CREAT != 0 && flags&unix.O_EXCL == 0 {
		_, err := os.Stat(p)
		existed = err == nil
	}
	th.pending = &pendingCall{open: true, flags: flags, existed: existed, obs: Observation{
		Kind: KindFile, PID: th.tgid, Path: p, Flags: openFlagString(flags),
	}}
}

func (t *tracer) watched(p string) bool {
	for _, d := range t.watch {
		if p == d || d == "/" || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func openFlagString(flags int) string {
	var parts []string
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case unix.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	case unix.O_RDWR:
		parts = append(parts, "O_RDWR")
	}
	const oTmpfileBit = 0x400000 // __O_TMPFILE; O_TMPFILE includes O_DIRECTORY
	for _, f := range []struct {
		bit  int
		name string
	}{
		{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"},
		{unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_CLOEXEC, "O_CLOEXEC"},
		{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {oTmpfileBit, "O_TMPFILE"},
	} {
		if flags&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

func (t *tracer) sendto(th *thread, fd int, buf, n, dest, dlen uint64) {
	if remote := t.dnsRemote(th, fd, dest, dlen); remote != nil {
		t.emitDNS(th, fd, t.readBuf(th.tid, buf, n), remote)
	}
}

// dnsRemote is the DNS server a datagram goes to: the sockaddr at addr when
// the call names one, else the server the socket is connected to; nil when
// the destination is not the DNS port.
func (t *tracer) dnsRemote(th *thread, fd int, addr, alen uint64) *netip.AddrPort {
	if addr == 0 || alen == 0 {
		return t.dnsSockOf(th.tgid, fd)
	}
	ip, port, ok := parseSockaddr(t.readBuf(th.tid, addr, min(alen, 128)))
	if !ok || port != t.dnsPort {
		return nil
	}
	ap := netip.AddrPortFrom(ip, uint16(port))
	return &ap
}

// sendmsg inspects one struct msghdr at addr.
func (t *tracer) sendmsg(th *thread, fd int, addr uint64) {
	var hdr [56]byte // struct msghdr on amd64
	if n, _ := t.readMem(th.tid, addr, hdr[:]); n != len(hdr) {
		return
	}
	name := binary.NativeEndian.Uint64(hdr[0:])
	nameLen := uint64(binary.NativeEndian.Uint32(hdr[8:]))
	iov := binary.NativeEndian.Uint64(hdr[16:])
	iovLen := binary.NativeEndian.Uint64(hdr[24:])
	if remote := t.dnsRemote(th, fd, name, nameLen); remote != nil {
		t.emitDNS(th, fd, t.readIov(th.tid, iov, iovLen), remote)
	}
}

// dnsSockOf returns the DNS server a connected DNS socket talks to, or nil.
func (t *tracer) dnsSockOf(tgid, fd int) *netip.AddrPort {
	p := t.procs[tgid]
	if p == nil || len(p.dnsSocks) == 0 { // the common case: no lookup at all
		return nil
	}
	s, ok := p.dnsSocks[fd]
	if !ok {
		return nil
	}
	if ino, err := socketInode(tgid, fd); err != nil || ino != s.inode {
		delete(p.dnsSocks, fd) // closed or reused
		return nil
	}
	return &s.remote
}

func (t *tracer) emitDNS(th *thread, fd int, payload []byte, remote *netip.AddrPort) {
	name, typ, ok := parseDNSQuery(payload)
	if !ok {
		return
	}
	o := Observation{Kind: KindDNS, Time: now(), PID: th.tgid, Proto: "udp", DNSName: name, DNSType: typ}
	if remote != nil {
		o.RemoteIP, o.RemotePort = remote.Addr().String(), int(remote.Port())
	}
	// The query's own socket: the key on which a resolver's record of the
	// query (the harness's DNS sinkhole) joins this process. An
	// unconnected socket is bound only by the send itself: zero then.
	if ip, port, _, err := sockLocal(th.tgid, fd); err == nil && port != 0 {
		o.LocalIP, o.LocalPort = ip.String(), port
	}
	t.emit(o)
}

// readMem reads tracee memory with process_vm_readv, falling back to
// PTRACE_PEEKDATA (e.g. when the syscall is filtered in a container).
func (t *tracer) readMem(tid int, addr uint64, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(tid, local, remote, 0)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, unix.EFAULT) {
		return 0, fmt.Errorf("read tracee memory: %w", err)
	}
	return unix.PtracePeekData(tid, uintptr(addr), buf)
}

// readBuf reads up to maxPayload bytes into the scratch buffer; the result
// is valid until the next read.
func (t *tracer) readBuf(tid int, addr, n uint64) []byte {
	n = min(n, maxPayload)
	got, _ := t.readMem(tid, addr, t.scratch[:n])
	return t.scratch[:max(got, 0)]
}

// readIov gathers up to maxPayload bytes from a tracee iovec array.
func (t *tracer) readIov(tid int, iov, cnt uint64) []byte {
	cnt = min(cnt, maxIov)
	var raw [maxIov * 16]byte
	if n, _ := t.readMem(tid, iov, raw[:cnt*16]); uint64(n) != cnt*16 {
		return nil
	}
	out := make([]byte, 0, 512)
	for i := range cnt {
		base := binary.NativeEndian.Uint64(raw[i*16:])
		l := binary.NativeEndian.Uint64(raw[i*16+8:])
		room := uint64(maxPayload - len(out))
		if room == 0 {
			break
		}
		l = min(l, room)
		chunk := make([]byte, l)
		n, _ := t.readMem(tid, base, chunk)
		out = append(out, chunk[:max(n, 0)]...)
		if uint64(n) < l {
			break
		}
	}
	return out
}

// readString reads a NUL-terminated string page by page, since
// process_vm_readv fails on a range that crosses into an unmapped page.
func (t *tracer) readString(tid int, addr uint64) (string, error) {
	var out []byte
	for len(out) < unix.PathMax {
		chunk := pageSize - int(addr%pageSize)
		buf := t.scratch[:chunk]
		n, err := t.readMem(tid, addr, buf)
		if n <= 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
		addr += uint64(n)
	}
	return "", errors.New("path too long")
}

func now() time.Time { return time.Now().UTC() }

func trampolineFor(reads bool) string {
	if reads {
		return trampolineReadsArg
	}
	return trampolineArg
}
