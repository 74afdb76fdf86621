package sensor

import (
	"os"
	"testing"
)

// The tracer re-executes the test binary as its seccomp trampoline.
func TestMain(m *testing.M) {
	if MaybeTrampoline() {
		return
	}
	os.Exit(m.Run())
}
