package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/t1567001/harness/reports"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// textOptions lays the text report out for w: 100 columns, colour only on
// a terminal and never with NO_COLOR (https://no-color.org).
func textOptions(w io.Writer, outDir string) reports.TextOptions {
	return reports.TextOptions{Width: 100, Color: isTerminal(w) && os.Getenv("NO_COLOR") == "", OutDir: outDir}
}
