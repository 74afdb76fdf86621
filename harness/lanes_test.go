package harness

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
)

func TestSwitchboardOwner(t *testing.T) {
	var board switchboard
	before := time.Now().UTC()
	board.book(connKey("127.0.0.1", 40000, 8000), 0)
	board.book(connKey("127.0.0.1", 40001, 8001), 1)
	board.book(connKey("127.0.0.1", 40001, 8003), 3) // the same source port towards another lane
	mid := time.Now().UTC()
	board.book(connKey("127.0.0.1", 40000, 8000), 2) // the socket, closed by lane 0, reused by lane 2
	after := time.Now().UTC().Add(time.Millisecond)
	entry := func(port, server int, at time.Time) emulator.Entry {
		return emulator.Entry{ClientIP: "127.0.0.1", ClientPort: port, ServerPort: server, Time: at}
	}

	tests := []struct {
		name string
		e    emulator.Entry
		want int
	}{
		{"lane 1's socket", entry(40001, 8001, after), 1},
		{"the same source port to lane 3's listener", entry(40001, 8003, after), 3},
		{"a reused socket belongs to its last lane", entry(40000, 8000, after), 2},
		{"and before the reuse to the first", entry(40000, 8000, mid), 0},
		{"a socket no lane accepted", entry(40002, 8001, after), -1},
		{"an entry older than every accept", entry(40001, 8001, before.Add(-time.Second)), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, board.owner(tt.e))
		})
	}
}

func TestLaneListenerBooksAcceptedSockets(t *testing.T) {
	var board switchboard
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ll := board.listener(l, 3)
	defer ll.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ll.Accept()
	require.NoError(t, err)
	defer s.Close()
	local := c.LocalAddr().(*net.TCPAddr)
	server := l.Addr().(*net.TCPAddr).Port
	assert.Equal(t, 3, board.owner(emulator.Entry{ClientIP: local.IP.String(), ClientPort: local.Port, ServerPort: server, Time: time.Now().UTC()}))
}

func TestOnlyDeliveredUploadsArrive(t *testing.T) {
	sel := Selected{Technique: &atomics.Technique{AttackTechnique: "T1567.001"}, Test: &atomics.Test{Name: "t"}}
	staged := executor.Staged{Name: "a.txt", Size: 1, SHA256: "aa"}
	upload := emulator.Entry{Host: "api.github.com", Method: "PUT", Status: 201, Files: []emulator.File{{Name: "a.txt", Size: 1, SHA256: "aa"}}}
	lost := upload
	lost.Undelivered = true
	refused := upload
	refused.Status = 403
	tests := []struct {
		name    string
		entries []emulator.Entry
		intact  bool
	}{
		{"accepted and answered", []emulator.Entry{upload}, true},
		{"accepted, answer lost", []emulator.Entry{lost}, false},
		{"refused", []emulator.Entry{refused}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := summarize(sel, &executor.Result{Staged: []executor.Staged{staged}}, tt.entries)
			assert.Equal(t, tt.intact, a.Intact)
			require.Len(t, a.Staged, 1)
			assert.Equal(t, tt.intact, a.Staged[0].Arrived)
		})
	}
}

func TestScheduleTracesEntriesToTests(t *testing.T) {
	s := schedule{starts: make([][]started, 2)}
	t0 := time.Now()
	s.starts[0] = []started{{test: 0, at: t0}, {test: 2, at: t0.Add(time.Second)}}
	s.starts[1] = []started{{test: 1, at: t0}}
	tests := []struct {
		name string
		lane int
		at   time.Time
		want int
	}{
		{"first test of lane 0", 0, t0.Add(time.Millisecond), 0},
		{"second test of lane 0", 0, t0.Add(2 * time.Second), 2},
		{"lane 1", 1, t0.Add(2 * time.Second), 1},
		{"before any test", 0, t0.Add(-time.Second), -1},
		{"no lane", -1, t0, -1},
		{"unknown lane", 5, t0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, s.test(tt.lane, tt.at))
		})
	}
}

func TestDependentTestsShareAWorker(t *testing.T) {
	test := func(paths ...string) Selected {
		args := map[string]atomics.Argument{}
		for i, p := range paths {
			args[fmt.Sprint("a", i)] = atomics.Argument{Type: "path", Default: p}
		}
		return Selected{Technique: &atomics.Technique{}, Test: &atomics.Test{InputArguments: args}}
	}
	tests := []struct {
		name     string
		selected []Selected
		want     [][]int
	}{
		{"independent", []Selected{test("loot.txt"), test(), test("/tmp/a")}, [][]int{{0}, {1}, {2}}},
		{"the same file outside the work folder", []Selected{test("/tmp/loot.txt"), test("x"), test("/tmp/./loot.txt")}, [][]int{{0, 2}, {1}}},
		{"chained through a second path", []Selected{test("/a"), test("/b"), test("/b", "/a"), test("/c")}, [][]int{{0, 1, 2}, {3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, dependent(tt.selected))
		})
	}
}
