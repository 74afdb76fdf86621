// Command sensor runs a command under the ptrace sensor and streams what its
// process tree did as JSON lines. Build it static for use in containers:
//
//	CGO_ENABLED=0 go build ./sensor/cmd/sensor
package main

import (
	"os"

	"github.com/t1567001/harness/sensor"
)

func main() {
	// Must come first: the sensor re-executes this binary as the seccomp
	// trampoline of the traced command.
	if sensor.MaybeTrampoline() {
		return
	}
	os.Exit(sensor.Main(os.Args[1:], os.Stdout))
}
