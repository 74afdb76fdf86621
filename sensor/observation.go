package sensor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Observation kinds.
const (
	KindExec    = "exec"
	KindExit    = "exit"
	KindConnect = "connect"
	KindFile    = "file"
	KindDNS     = "dns"
)

// Connect results besides an errno name such as "ECONNREFUSED".
const (
	ResultOK        = "ok"
	ResultAttempted = "attempted" // non-blocking connect returned EINPROGRESS
)

// ErrUnsupported is returned by [Run] where tracing is not implemented.
var ErrUnsupported = errors.New("sensor: ptrace tracing is only implemented on linux/amd64")

// Observation is one thing the traced process tree did. PID is always the
// process (thread group) id, never a thread id.
type Observation struct {
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
	PID  int       `json:"pid"`
	// PPID is the traced process that forked PID (exec and exit).
	PPID int `json:"ppid,omitempty"`

	// exec
	Exe  string   `json:"exe,omitempty"`
	Argv []string `json:"argv,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	UID  *int     `json:"uid,omitempty"`

	// exit: exactly one of ExitCode and Signal is set.
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`

	// connect (and dns when the destination is known)
	Proto      string `json:"proto,omitempty"` // "tcp" or "udp" when known
	RemoteIP   string `json:"remote_ip,omitempty"`
	RemotePort int    `json:"remote_port,omitempty"`
	LocalIP    string `json:"local_ip,omitempty"`
	LocalPort  int    `json:"local_port,omitempty"`
	// Result is "ok", "attempted" (EINPROGRESS) or an errno name, for
	// connect and file observations.
	Result string `json:"result,omitempty"`

	// file
	Path    string `json:"path,omitempty"`
	Flags   string `json:"flags,omitempty"`
	Created bool   `json:"created,omitempty"`

	// dns
	DNSName string `json:"dns_name,omitempty"`
	DNSType string `json:"dns_type,omitempty"`
}

// Config describes the command to trace.
type Config struct {
	// Argv is the command; Argv[0] is looked up in PATH of Env.
	Argv []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Env is the environment; nil means the caller's.
	Env []string
	// WatchReads also reports files under WatchDirs opened for reading
	// only. Every open then stops the tracee, which slows programs that
	// open many files (interpreters, builds).
	WatchReads bool
	// WatchDirs are the directories whose files are reported when opened
	// for writing (and, with WatchReads, for reading). nil means Dir (or the caller's working directory) and
	// os.TempDir(); an empty non-nil slice disables file reporting.
	WatchDirs []string
	// DNSPort is the UDP port treated as DNS; 0 means 53.
	DNSPort int

	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// hooks lets tests force the rare event orderings the tracer must
	// survive; nil in production.
	hooks *testHooks
}

// reorderMode makes the tracer hold back a parent's fork/clone event until
// the child's initial stop has been seen, reproducing deterministically the
// race in which the child reports first.
type reorderMode int

const (
	reorderNone reorderMode = iota
	// reorderResolve releases the held event as soon as the child stops,
	// so the child is resolved as a pending orphan by its parent's event.
	reorderResolve
	// reorderAdopt releases it only after the idle fallback adopted the
	// child from /proc.
	reorderAdopt
)

type testHooks struct {
	reorder reorderMode
	// Counters written by the tracer thread, read after Run returns.
	orphans, adopted int
}

// Decode reads a stream of JSON-lines observations, as written by [Main],
// calling emit for each until EOF.
func Decode(r io.Reader, emit func(Observation)) error {
	dec := json.NewDecoder(r)
	for {
		var o Observation
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sensor: decode observation: %w", err)
		}
		emit(o)
	}
}
