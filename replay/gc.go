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
// that to a quarter and keeps the reader's peak well under 100 MB. The
// memory limit bounds what the higher percentage may cost a consumer whose
// own state is large: past it the collector works harder instead of the
// heap growing.
const (
	replayGCPercent   = 400
	replayMemoryLimit = 512 << 20
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
