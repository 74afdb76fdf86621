package replay

import (
	"os"
	"runtime/debug"
)

// The collector setting for a process that replays. A Reader's own live
// heap is small and bounded (the batches in flight and the records being
// handed on, a few MB whatever the file's size) while it allocates each
// record's strings and fields afresh, so with the default GOGC=100 the
// collector runs every few MB allocated and costs about a fifth of the
// reading's CPU. Letting the heap grow to five times the live heap cuts
// that to a quarter. The soft memory limit keeps the process's peak under
// 100 MB as the replay goals ask (a 512 MiB limit let XML in -> verdicts
// reach 128 MB RSS at 1 M events; 64 MiB holds it at 66 MB for 2% of the
// JSON reading's speed); a consumer whose own state is larger makes the
// collector work harder near the limit, never fail.
const (
	replayGCPercent   = 400
	replayMemoryLimit = 64 << 20
)

// TuneGC sets the process's collector for replaying and returns a function
// that restores the previous setting. It is for a program's main path
// (the CLI command that replays, and the benchmarks that measure it), not
// for library code: the setting is the whole process's. A GOGC or
// GOMEMLIMIT in the environment is the user's choice and is left alone.
func TuneGC() (restore func()) {
	pct, limit := -2, int64(-1) // -2: not changed
	if os.Getenv("GOGC") == "" {
		pct = debug.SetGCPercent(replayGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(replayMemoryLimit)
	}
	return func() {
		if pct != -2 {
			debug.SetGCPercent(pct)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}
