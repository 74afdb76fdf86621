// Command testsummary reads `go test -json` on stdin, prints go test's own
// output as it arrives (the familiar ok/FAIL lines), and ends with every
// skipped test and its reason, then one line: N passed, N failed, N skipped.
// It exits 1 when a test, a package or a build failed, so `make test` can
// pipe into it and still fail CI.
package main

import (
	"fmt"
	"os"

	"github.com/t1567001/harness/internal/testsummary"
)

func main() {
	s, err := testsummary.Read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if err := s.Write(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if s.AnyFailed() {
		os.Exit(1)
	}
}
