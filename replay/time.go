package replay

import (
	"fmt"
	"strings"
	"time"
)

// parseSystemTime reads TimeCreated/@SystemTime and the JSON shapes' time
// stamps: Windows' RFC 3339 form (nine or seven fractional digits, Z),
// python-evtx's "2019-05-02 14:48:53.950750" and OTRF's
// "2020-10-18 02:17:03.887" (UTC, no zone). Empty means the zero time.
func parseSystemTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := parseUTCFast(s); ok {
		return t, nil
	}
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid SystemTime %q", s)
}

// parseUTCFast reads "YYYY-MM-DD[T ]hh:mm:ss[.f...][Z]" without
// time.Parse's generality: it is most of the cost of a replayed event's
// System block.
func parseUTCFast(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	// Two digits at i, unrolled: a non-digit's value is above 9.
	two := func(i int) (int, bool) {
		a, b := uint(s[i])-'0', uint(s[i+1])-'0'
		return int(a*10 + b), a <= 9 && b <= 9
	}
	yh, ok1 := two(0)
	yl, ok2 := two(2)
	mo, ok3 := two(5)
	d, ok4 := two(8)
	h, ok5 := two(11)
	mi, ok6 := two(14)
	sec, ok7 := two(17)
	y := yh*100 + yl
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	ns := 0
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for ; j < len(rest) && rest[j] >= '0' && rest[j] <= '9'; j++ {
			if j > 9 {
				return time.Time{}, false
			}
			ns = ns*10 + int(rest[j]-'0')
		}
		if j == 1 {
			return time.Time{}, false
		}
		for k := j; k <= 9; k++ { // j-1 digits of the nine
			ns *= 10
		}
		rest = rest[j:]
	}
	if rest != "" && rest != "Z" {
		return time.Time{}, false
	}
	if d > daysIn(y, mo) { // February 30th
		return time.Time{}, false
	}
	// time.Date's normalising and zone lookup cost more than the rest.
	secs := int64(daysSinceEpoch(y, mo, d))*86400 + int64(h*3600+mi*60+sec)
	return time.Unix(secs, int64(ns)).UTC(), true
}

// daysIn is the number of days of month mo (1-12) of year y.
func daysIn(y, mo int) int {
	if mo == 2 {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (mo+mo/8)%2
}

// daysSinceEpoch is the day number of a proleptic Gregorian date from
// 1970-01-01, for years 0-9999 (Hinnant's days_from_civil).
func daysSinceEpoch(y, mo, d int) int {
	if mo <= 2 {
		y--
	}
	y += 400 // no negative year (0000's January and February) to divide
	era := y / 400
	yoe := y - era*400
	mp := (mo + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return (era-1)*146097 + doe - 719468
}
