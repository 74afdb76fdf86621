package harness

import (
	"strconv"
	"strings"
)

// A lane's listeners (each sandbox of its tests, or its proxy and SSH
// listeners) serve under the lane's origin, which every ledger entry of
// their clients carries: two lanes' clients may hold the same socket, as
// every sandbox holds the same addresses, but never the same origin.
const lanePrefix = "lane "

func laneOrigin(i int) string { return lanePrefix + strconv.Itoa(i) }

// laneOf returns the lane an origin names, or -1.
func laneOf(origin string) int {
	n, ok := strings.CutPrefix(origin, lanePrefix)
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 {
		return -1
	}
	return i
}
