//go:build unix

package flood

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process and its waited-for descendants (a
// flood client, the mock's git) have used: on a shared machine, uploads
// per CPU-second is the figure that does not depend on the load.
func CPUTime() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}
