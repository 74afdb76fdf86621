// Package reports holds the run's results document, in the shape the CLI
// contract promises (results.json), and writes it for people and machines:
// a step-by-step text summary and JSON.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	Sandbox  string             `json:"sandbox,omitempty"`
	Started  time.Time          `json:"started"`
	Ended    time.Time          `json:"ended"`
	Atomics  []Atomic           `json:"atomics"`
	Verdicts []validate.Verdict `json:"verdicts"`
	// Coverage is the matrix of the variants and benign look-alikes run.
	Coverage *validate.Coverage `json:"coverage,omitempty"`
}

// Atomic is what one atomic test did and what the mock received from it.
type Atomic struct {
	Technique string `json:"technique"`
	Name      string `json:"name"`
	GUID      string `json:"guid"`
	Execution string `json:"execution"`
	// Role is "detected" for a variant and "silent" for a benign
	// look-alike: cases of the coverage matrix, judged there.
	Role             string    `json:"role,omitempty"`
	SimulationReason string    `json:"simulation_reason,omitempty"`
	MissingPrereqs   []string  `json:"missing_prereqs,omitempty"`
	Command          string    `json:"command,omitempty"`
	ExitCode         int       `json:"exit_code"`
	TimedOut         bool      `json:"timed_out,omitempty"`
	Interrupted      bool      `json:"interrupted,omitempty"`
	CleanupError     string    `json:"cleanup_error,omitempty"`
	Stderr           string    `json:"stderr,omitempty"`
	Started          time.Time `json:"started"`
	Ended            time.Time `json:"ended"`
	Staged           []Staged  `json:"staged"`
	Requests         []Request `json:"requests"`
	Uploads          []Upload  `json:"uploads"`
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
	Host          string `json:"host"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Status        int    `json:"status"`
	BytesReceived int64  `json:"bytes_received"`
	Refused       bool   `json:"refused,omitempty"`
	Note          string `json:"note,omitempty"`
}

// Step is one observed moment of a test.
type Step struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // exec, connect, file, dns, request, exit
	PID  int       `json:"pid,omitempty"`
	Text string    `json:"text"`
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
