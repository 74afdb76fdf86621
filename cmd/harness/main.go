// Command harness replays the T1567.001 atomics against a mock GitHub, and
// reports what they did and what reached the mock. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

// Exit codes of the CLI contract.
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
	// exitInterrupted is 128+SIGINT, as a shell reports an interrupted
	// command.
	exitInterrupted = 130
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

func main() {
	// Must come first: the sensor re-executes this binary as the seccomp
	// trampoline of each traced command.
	if sensor.MaybeTrampoline() {
		return
	}
	// And this: each sandboxed test's first process is this binary too.
	if sandbox.MaybeInit() {
		return
	}
	os.Exit(runWithSignals(os.Args[1:]))
}

// runWithSignals runs the CLI with args, stopping on SIGINT and SIGTERM,
// and on a SIGPIPE from a closed standard output (`harness run | head -1`):
// the run stops and cleans up rather than dying with its folder, CA key and
// processes left behind. Once SIGPIPE is caught, Go delivers it for every
// broken socket too (a client of the emulator hanging up early), so a
// SIGPIPE stops the command only when standard output or error is the pipe
// that broke.
func runWithSignals(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-sigs:
				if sig != syscall.SIGPIPE || outputBroken() {
					cancel()
					return
				}
			}
		}
	}()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// outputBroken says whether standard output or error is a pipe or socket
// whose reader has gone: poll reports an error on its write end.
func outputBroken() bool {
	fds := []unix.PollFd{{Fd: 1}, {Fd: 2}}
	if _, err := unix.Poll(fds, 0); err != nil {
		return false
	}
	for _, f := range fds {
		if f.Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		// Ctrl-C or SIGTERM: the engines stop at their next look at the
		// context; the shell's convention for an interrupted command.
		fmt.Fprintln(stderr, "harness: interrupted")
		return exitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		// A child process (sensor, replay) passing on its command's status:
		// the command has said what went wrong.
		return ee.code
	}
	fmt.Fprintln(stderr, "harness:", err)
	if ee != nil {
		return ee.code
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	// cobra's own errors are about flags and arguments.
	return exitBadInput
}

// newRoot is the CLI given args (what `harness run` starts again in a
// user namespace).
func newRoot(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "harness",
		Short:         "Atomic test harness and detection validator for ATT&CK T1567.001",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("harness {{.Version}}\n")
	root.AddCommand(newRunCmd(args), newListCmd(), newEmulatorCmd(), newSPLCmd(), newSigmaCmd(), newValidateCmd(), newCleanCmd(), newReplayCmd(), newReplayMegaCmd(), newSensorCmd())
	return root
}
