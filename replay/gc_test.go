package replay_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/t1567001/harness/replay"
)

// gcSetting reads the collector's percentage and memory limit.
func gcSetting() (int, int64) {
	pct := debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	return pct, debug.SetMemoryLimit(-1)
}

func TestTuneGC(t *testing.T) {
	pct0, limit0 := gcSetting()
	cases := []struct {
		name, gogc, memlimit string
		tuned                bool
	}{
		{name: "tuned when the environment says nothing", tuned: true},
		{name: "the user's GOGC and GOMEMLIMIT win", gogc: "100", memlimit: "1GiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			t.Setenv("GOMEMLIMIT", c.memlimit)
			restore := replay.TuneGC()
			pct, limit := gcSetting()
			if c.tuned {
				assert.Equal(t, 400, pct)
				assert.Equal(t, int64(64<<20), limit)
			} else {
				assert.Equal(t, pct0, pct)
				assert.Equal(t, limit0, limit)
			}
			restore()
			pct, limit = gcSetting()
			assert.Equal(t, pct0, pct, "restored")
			assert.Equal(t, limit0, limit, "restored")
		})
	}
}
