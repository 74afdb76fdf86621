package harness

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
)

func TestSwitchboardOwner(t *testing.T) {
	var board switchboard
	before := time.Now().UTC()
	board.book("127.0.0.1:40000", 0)
	board.book("127.0.0.1:40001", 1)
	mid := time.Now().UTC()
	board.book("127.0.0.1:40000", 2) // the port, closed by lane 0, reused by lane 2
	after := time.Now().UTC().Add(time.Millisecond)

	tests := []struct {
		name string
		e    emulator.Entry
		want int
	}{
		{"lane 1's socket", emulator.Entry{ClientIP: "127.0.0.1", ClientPort: 40001, Time: after}, 1},
		{"a reused socket belongs to its last lane", emulator.Entry{ClientIP: "127.0.0.1", ClientPort: 40000, Time: after}, 2},
		{"and before the reuse to the first", emulator.Entry{ClientIP: "127.0.0.1", ClientPort: 40000, Time: mid}, 0},
		{"a socket no lane accepted", emulator.Entry{ClientIP: "127.0.0.1", ClientPort: 40002, Time: after}, -1},
		{"an entry older than every accept", emulator.Entry{ClientIP: "127.0.0.1", ClientPort: 40001, Time: before.Add(-time.Second)}, -1},
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
	assert.Equal(t, 3, board.owner(emulator.Entry{ClientIP: local.IP.String(), ClientPort: local.Port, Time: time.Now().UTC()}))
}
