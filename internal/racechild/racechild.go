// Package racechild keeps the race detector's exit pause out of the
// processes a test binary starts from itself.
package racechild

import (
	"os"
	"strings"
)

// Quiet makes every race-built child this test binary starts (itself
// re-executed as the sensor, the sandbox's first process or the replay
// child) exit at once: the race runtime sleeps atexit_sleep_ms (1 s by
// default) before every exit, and a sandboxed atomic starts several such
// children. It must be called in TestMain before m.Run; the binary's own
// runtime read GORACE at start and keeps its pause. Options already in
// GORACE are kept, and an atexit_sleep_ms set there wins.
func Quiet() {
	env := os.Getenv("GORACE")
	if strings.Contains(env, "atexit_sleep_ms") {
		return
	}
	_ = os.Setenv("GORACE", strings.TrimSpace(env+" atexit_sleep_ms=0"))
}
