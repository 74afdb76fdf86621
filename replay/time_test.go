package replay

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseUTCFastAgreesWithTimeDate holds the day arithmetic to
// time.Date over every day number of leap and common years, centuries and
// the ends of the range, with and without fractions.
func TestParseUTCFastAgreesWithTimeDate(t *testing.T) {
	for _, y := range []int{0, 1, 4, 100, 400, 1600, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2100, 9999} {
		for mo := 1; mo <= 12; mo++ {
			for d := 1; d <= 31; d++ {
				want := time.Date(y, time.Month(mo), d, 23, 59, 58, 0, time.UTC)
				s := fmt.Sprintf("%04d-%02d-%02dT23:59:58Z", y, mo, d)
				got, ok := parseUTCFast(s)
				if want.Day() != d {
					assert.False(t, ok, "%s is no date", s)
					continue
				}
				require.True(t, ok, s)
				assert.Equal(t, want, got, s)
			}
		}
	}
	for s, ns := range map[string]int{
		"2024-05-01 12:00:00":            0,
		"2024-05-01T12:00:00.5Z":         500000000,
		"2024-05-01T12:00:00.001":        1000000,
		"2024-05-01T12:00:00.123456789Z": 123456789,
		"2024-05-01 12:00:00.950750":     950750000,
	} {
		got, ok := parseUTCFast(s)
		require.True(t, ok, s)
		assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, ns, time.UTC), got, s)
	}
	for _, s := range []string{"2024-05-01T12:00:00.1234567891Z", "2024-05-01T12:00:00.Z", "2024-13-01T12:00:00Z", "2023-02-29T00:00:00Z",
		"20a4-05-01T12:00:00Z", "2024-05-0:T12:00:00Z", "2024-05-01T1/:00:00Z", "2024-05-01T12:00:0 Z"} {
		_, ok := parseUTCFast(s)
		assert.False(t, ok, s)
	}
}
