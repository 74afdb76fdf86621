package sensor

import (
	"os"
	"testing"

	"github.com/t1567001/harness/internal/racechild"
)

// The tracer re-executes the test binary as its seccomp trampoline.
func TestMain(m *testing.M) {
	if MaybeTrampoline() {
		return
	}
	racechild.Quiet()
	os.Exit(m.Run())
}
