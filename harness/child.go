package harness

import (
	"context"
	"io"

	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

// RunChild runs, in a binary that executes atomics, the child processes
// the harness starts from its own executable: the sensor's seccomp
// trampoline, a sandboxed test's first process, `sensor` (a test under the tracer), `replay-http` (the
// stand-in for a missing tool) and `replay-mega` (for an rclone without its mega backend). It reports whether args (os.Args[1:])
// named one, with the status to exit with. Call it first thing in main or
// in TestMain, before anything else starts threads:
//
//	func TestMain(m *testing.M) {
//		if code, ok := harness.RunChild(context.Background(), os.Args[1:], os.Stdout, os.Stderr); ok {
//			os.Exit(code)
//		}
//		os.Exit(m.Run())
//	}
func RunChild(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if sensor.MaybeTrampoline() || sandbox.MaybeInit() { // never return when they run
		return 0, true
	}
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "replay-http":
		return executor.Replay(ctx, args[1:], stdout, stderr), true
	case "replay-mega":
		return executor.ReplayMega(ctx, args[1:], stderr), true
	case "sensor":
		return sensor.Main(args[1:], stdout), true
	}
	return 0, false
}
