package telemetry

import (
	"strconv"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// formatEpoch is Splunk's _time: seconds since the epoch with milliseconds.
func formatEpoch(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
