package event

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProvenance(t *testing.T) {
	for _, s := range []string{"observed", "declared", "modelled", "simulated", "recorded", ""} {
		p, err := ParseProvenance(s)
		require.NoError(t, err)
		assert.Equal(t, Provenance(s), p)
	}
	_, err := ParseProvenance("guessed")
	assert.ErrorContains(t, err, `provenance "guessed"`)

	var e Event
	assert.Equal(t, Recorded, e.Origin(), "an event of unknown origin is a recording")
	e.Provenance = Declared
	assert.Equal(t, Declared, e.Origin())
}

// TestFormatEpoch: _time is the milliseconds' exact decimal, as a float
// formatted to three places gives it, before the epoch too.
func TestFormatEpoch(t *testing.T) {
	for _, ms := range []int64{0, 1, 999, 1000, 1001, 1700000000123, -1, -999, -1000, -1500, -62135596800000, 253402300799999} {
		want := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
		assert.Equal(t, want, FormatEpoch(time.UnixMilli(ms)), "%d ms", ms)
	}
	assert.Equal(t, "1700000000.123", FormatEpoch(time.Unix(1700000000, 123456789)), "milliseconds, truncated")
}
