// Package reports holds the run's results document, in the shape the CLI
// contract promises (results.json), and writes it for people and machines:
// the terminal story and live progress, JSON, JUnit, a self-contained HTML
// page for trainers, Markdown for a pull request, and an ATT&CK Navigator
// layer.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/t1567001/harness/validate"
)

// Results is results.json. Fields may be added; none may be renamed.
type Results struct {
	RunID string `json:"run_id"`
	Mode  string `json:"mode"`
	// Sandbox says how the tests' network was confined: "on" (namespaces,
	// every client lands at the mock), "off" (--no-sandbox: only clients
	// that honour the proxy variables are confined), or "container".
	Sandbox string    `json:"sandbox,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Atomics []Atomic  `json:"atomics"`
	// Unfinished lists the selected tests that never started because the
	// run was interrupted.
	Unfinished []Unfinished       `json:"unfinished,omitempty"`
	Verdicts   []validate.Verdict `json:"verdicts"`
	// Coverage is the matrix of the variants and benign look-alikes run.
	Coverage *validate.Coverage `json:"coverage,omitempty"`
}

// Unfinished is a selected test the run did not get to.
type Unfinished struct {
	Name   string `json:"name"`
	GUID   string `json:"guid"`
	Reason string `json:"reason"`
}

// atomic is the atomic a verdict is about (the zero Atomic when the
// results do not hold it, as for recorded events).
func (r *Results) atomic(v validate.Verdict) Atomic {
	for _, a := range r.Atomics {
		if (v.GUID != "" && a.GUID == v.GUID) || (v.GUID == "" && a.Name == v.Atomic) {
			return a
		}
	}
	return Atomic{}
}

// Atomic is what one atomic test did and what the mock received from it.
type Atomic struct {
	Technique string `json:"technique"`
	Name      string `json:"name"`
	GUID      string `json:"guid"`
	Execution string `json:"execution"`
	// Role is "detected" for a variant and "silent" for a benign
	// look-alike: cases of the coverage matrix, judged there.
	Role             string   `json:"role,omitempty"`
	SimulationReason string   `json:"simulation_reason,omitempty"`
	MissingPrereqs   []string `json:"missing_prereqs,omitempty"`
	Command          string   `json:"command,omitempty"`
	ExitCode         int      `json:"exit_code"`
	TimedOut         bool     `json:"timed_out,omitempty"`
	// Timeout is the time limit the test's command ran under.
	Timeout      time.Duration `json:"timeout_ns,omitempty"`
	Interrupted  bool          `json:"interrupted,omitempty"`
	CleanupError string        `json:"cleanup_error,omitempty"`
	Stderr       string        `json:"stderr,omitempty"`
	Started      time.Time     `json:"started"`
	Ended        time.Time     `json:"ended"`
	Staged       []Staged      `json:"staged"`
	Requests     []Request     `json:"requests"`
	Uploads      []Upload      `json:"uploads"`
	// Steps is what happened, in order, as observed: processes, connections,
	// files, and what the mock received.
	Steps []Step `json:"steps,omitempty"`
	// Intact is true when every staged file arrived at the mock unchanged.
	Intact bool `json:"intact"`
}

// Staged is a file the test was given to exfiltrate.
type Staged struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Arrived bool   `json:"arrived"`
}

// Request is one request the mock received during the test.
type Request struct {
	Time          time.Time `json:"time"`
	Host          string    `json:"host"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Status        int       `json:"status"`
	BytesReceived int64     `json:"bytes_received"`
	Refused       bool      `json:"refused,omitempty"`
	Note          string    `json:"note,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	// AuthScheme is the Authorization header's scheme; the token itself is
	// never recorded.
	AuthScheme string `json:"auth_scheme,omitempty"`
	Files      []File `json:"files,omitempty"`
}

// Target is what the request was for, as a log line names it: host and
// path for HTTP, the host:port for CONNECT, and for SSH the host and the
// command the client ran (which has no leading slash).
func (r Request) Target() string {
	switch {
	case r.Method == "CONNECT":
		return r.Path
	case r.Path == "" || strings.HasPrefix(r.Path, "/"):
		return r.Host + r.Path
	default:
		return r.Host + " " + r.Path
	}
}

// File is one file the mock stored from a request.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Step is one observed moment of a test.
type Step struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // exec, connect, file, dns, request, exit
	PID  int       `json:"pid,omitempty"`
	Text string    `json:"text"`
	// Observation is the id of the sensor observation the step tells, as
	// the events rendered from it list it (empty for the mock's requests).
	Observation string `json:"observation,omitempty"`
}

// Upload is one file the mock stored, and whether it is byte for byte one
// of the staged files.
type Upload struct {
	Host   string `json:"host"`
	Method string `json:"method"`
	Path   string `json:"path"`
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Intact bool   `json:"intact"`
}

// AllPass reports whether every verdict holds.
func (r *Results) AllPass() bool {
	for _, v := range r.Verdicts {
		if !v.Pass {
			return false
		}
	}
	return true
}

// AllIntact reports whether every atomic delivered every staged file.
// Variants and benign look-alikes are judged in the coverage matrix: a
// variant whose client cannot reach the mock shows there as such.
func (r *Results) AllIntact() bool {
	for _, a := range r.Atomics {
		if !a.Intact && a.Role == "" {
			return false
		}
	}
	return len(r.Atomics) > 0
}

// WriteJSON writes v as indented JSON to dir/name.
func WriteJSON(dir, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
