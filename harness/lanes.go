package harness

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/t1567001/harness/emulator"
)

// switchboard remembers which lane accepted each client socket, so that a
// ledger entry, which names the client socket its request came on, can be
// traced to the test that sent it. A socket (ip:port) may be reused once
// closed; the lane that accepted it last before the entry owns the entry.
type switchboard struct {
	mu      sync.Mutex
	sockets map[string][]accepted
}

type accepted struct {
	at   time.Time
	lane int
}

// listener returns l with every accepted connection booked to lane.
func (s *switchboard) listener(l net.Listener, lane int) net.Listener {
	return &laneListener{Listener: l, board: s, lane: lane}
}

func (s *switchboard) book(addr string, lane int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets == nil {
		s.sockets = map[string][]accepted{}
	}
	s.sockets[addr] = append(s.sockets[addr], accepted{time.Now().UTC(), lane})
}

// owner returns the lane of e, or -1.
func (s *switchboard) owner(e emulator.Entry) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	lane := -1
	for _, a := range s.sockets[net.JoinHostPort(e.ClientIP, strconv.Itoa(e.ClientPort))] {
		if !a.at.After(e.Time) {
			lane = a.lane
		}
	}
	return lane
}

type laneListener struct {
	net.Listener
	board *switchboard
	lane  int
}

func (l *laneListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.board.book(c.RemoteAddr().String(), l.lane)
	}
	return c, err
}
