// Package testsummary follows a `go test -json` stream: it passes go test's
// own output through and counts what passed, failed and was skipped, keeping
// each skip's reason so a CI log shows what did not run and why.
package testsummary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// Skip is one skipped test and the reason it gave.
type Skip struct {
	Package string
	Test    string
	Reason  string
}

// Summary counts the tests of a stream.
type Summary struct {
	Passed, Failed, Skipped int
	Skips                   []Skip
	// FailedPackages holds packages that failed outside any test (a build
	// failure, a panic in TestMain, a timeout).
	FailedPackages []string
}

// AnyFailed reports whether anything failed.
func (s *Summary) AnyFailed() bool { return s.Failed > 0 || len(s.FailedPackages) > 0 }

// Read consumes a `go test -json` stream from r and writes to out what go
// test prints without -v: each package's ok/FAIL line, and the output of
// failed tests and build errors; passing and skipped tests stay quiet here
// and are counted (skips with their reason) for Write.
func Read(r io.Reader, out io.Writer) (*Summary, error) {
	s := &Summary{}
	held := map[string][]string{} // a running test's output, by package and test
	testFailed := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		var e event
		if err := json.Unmarshal(raw, &e); err != nil || e.Action == "" {
			// Not test2json (a go command error before -json applies).
			if _, err := fmt.Fprintf(out, "%s\n", raw); err != nil {
				return nil, err
			}
			continue
		}
		key := e.Package + "\x00" + e.Test
		var show []string
		switch e.Action {
		case "output":
			if e.Test != "" {
				held[key] = append(held[key], e.Output)
			} else if e.Output != "PASS\n" {
				show = []string{e.Output}
			}
		case "build-output":
			show = []string{e.Output}
		case "pass":
			if e.Test != "" {
				s.Passed++
			}
		case "fail", "build-fail":
			if e.Test != "" {
				s.Failed++
				testFailed[e.Package] = true
				show = held[key]
			} else if !testFailed[e.Package] {
				s.failedPackage(e.Package, e.ImportPath)
			}
		case "skip":
			if e.Test != "" {
				s.Skipped++
				s.Skips = append(s.Skips, Skip{Package: e.Package, Test: e.Test, Reason: reason(held[key])})
			}
		}
		if e.Action != "output" {
			delete(held, key)
		}
		for _, l := range show {
			if _, err := io.WriteString(out, l); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading go test -json: %w", err)
	}
	return s, nil
}

func (s *Summary) failedPackage(pkg, importPath string) {
	if pkg == "" {
		pkg = importPath
	}
	for _, p := range s.FailedPackages {
		if p == pkg {
			return
		}
	}
	s.FailedPackages = append(s.FailedPackages, pkg)
}

// reason picks the skip message out of a skipped test's output: the lines
// after its "=== RUN" header and before the "--- SKIP" line, trimmed.
func reason(out []string) string {
	var msg []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, t)
	}
	if len(msg) == 0 {
		return "no reason given"
	}
	return strings.Join(msg, " ")
}

// Write prints the skips with their reasons, then the totals line.
func (s *Summary) Write(w io.Writer) error {
	sort.SliceStable(s.Skips, func(i, j int) bool {
		if s.Skips[i].Package != s.Skips[j].Package {
			return s.Skips[i].Package < s.Skips[j].Package
		}
		return s.Skips[i].Test < s.Skips[j].Test
	})
	var b strings.Builder
	if len(s.Skips) > 0 {
		b.WriteString("\nskipped:\n")
		for _, k := range s.Skips {
			fmt.Fprintf(&b, "  %s %s: %s\n", k.Package, k.Test, k.Reason)
		}
	}
	for _, p := range s.FailedPackages {
		fmt.Fprintf(&b, "package %s failed outside its tests (build error, panic or timeout)\n", p)
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}
