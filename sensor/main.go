package sensor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes of Main besides the traced command's own.
const (
	exitUsage  = 2
	exitSensor = 125 // the sensor itself failed, as in env(1)/docker
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Main is the entry point of the sensor subprocess: it parses args (without
// the program name), runs the command under trace and writes one JSON
// observation per line. It returns the command's exit code (128+signal if
// it was killed), 2 for usage errors and 125 when tracing failed.
//
// Observations go to stdout unless -o or -fd names another destination. The
// command's stdin and stderr are the process's own; its stdout is the
// process's stdout when observations go elsewhere, and the process's stderr
// otherwise, so the JSON stream is never interleaved with command output.
// SIGINT and SIGTERM kill the traced tree.
func Main(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("sensor", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sensor [flags] -- command [args...]")
		fs.PrintDefaults()
	}
	dir := fs.String("C", "", "working directory of the command (default: current directory)")
	var watch stringList
	fs.Var(&watch, "watch", "report files opened for writing under this directory (repeatable; default: the working directory and the temp directory)")
	outPath := fs.String("o", "", "append observations to this file instead of stdout")
	outFD := fs.Int("fd", -1, "write observations to this inherited file descriptor instead of stdout")
	dnsPort := fs.Int("dns-port", 53, "UDP port treated as DNS")
	reads := fs.Bool("reads", false, "also report files opened for reading only under the -watch directories (every open then stops the command)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fs.Usage()
		return exitUsage
	}
	if *outPath != "" && *outFD >= 0 {
		fmt.Fprintln(os.Stderr, "sensor: -o and -fd are mutually exclusive")
		return exitUsage
	}

	out := stdout
	cmdStdout := io.Writer(os.Stderr)
	switch {
	case *outPath != "":
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sensor: open observation output: %v\n", err)
			return exitSensor
		}
		defer f.Close()
		out, cmdStdout = f, os.Stdout
	case *outFD >= 0:
		f := os.NewFile(uintptr(*outFD), "observations")
		if f == nil {
			fmt.Fprintf(os.Stderr, "sensor: invalid -fd %d\n", *outFD)
			return exitUsage
		}
		defer f.Close()
		out, cmdStdout = f, os.Stdout
	}

	cfg := Config{
		Argv:       argv,
		Dir:        *dir,
		DNSPort:    *dnsPort,
		WatchReads: *reads,
		Stdin:      os.Stdin,
		Stdout:     cmdStdout,
		Stderr:     os.Stderr,
	}
	if len(watch) > 0 {
		cfg.WatchDirs = watch
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	enc := json.NewEncoder(out)
	// emit runs on the tracer thread only; Run returning orders it before
	// the reads below.
	var writeErr error
	code, err := Run(ctx, cfg, func(o Observation) {
		if e := enc.Encode(o); e != nil && writeErr == nil {
			writeErr = e
		}
	})
	if writeErr != nil {
		fmt.Fprintf(os.Stderr, "sensor: write observations: %v\n", writeErr)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return 128 + int(syscall.SIGINT)
	case err != nil:
		fmt.Fprintf(os.Stderr, "sensor: %v\n", err)
		return exitSensor
	case writeErr != nil:
		return exitSensor
	}
	return code
}
