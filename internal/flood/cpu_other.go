//go:build !unix

package flood

import "time"

// CPUTime is unknown here: zero, which Report leaves out.
func CPUTime() time.Duration { return 0 }
