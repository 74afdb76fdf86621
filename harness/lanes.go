package harness

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/t1567001/harness/emulator"
)

// switchboard remembers which lane accepted each connection, so that a
// ledger entry, which names the connection its request came on (client
// socket and the emulator's port), can be traced to the test that sent it.
// The kernel may give two clients the same source port towards different
// listeners, hence the emulator's port in the key; a connection may be
// reused once closed, and the lane that accepted it last before the entry
// owns the entry.
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

func connKey(clientIP string, clientPort, serverPort int) string {
	return net.JoinHostPort(clientIP, strconv.Itoa(clientPort)) + ">" + strconv.Itoa(serverPort)
}

func (s *switchboard) book(key string, lane int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets == nil {
		s.sockets = map[string][]accepted{}
	}
	s.sockets[key] = append(s.sockets[key], accepted{time.Now().UTC(), lane})
}

// owner returns the lane of e, or -1.
func (s *switchboard) owner(e emulator.Entry) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	lane := -1
	for _, a := range s.sockets[connKey(e.ClientIP, e.ClientPort, e.ServerPort)] {
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
		ip, port := splitHostPort(c.RemoteAddr())
		_, server := splitHostPort(c.LocalAddr())
		l.board.book(connKey(ip, port, server), l.lane)
	}
	return c, err
}

func splitHostPort(a net.Addr) (string, int) {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String(), t.Port
	}
	host, port, _ := net.SplitHostPort(a.String())
	p, _ := strconv.Atoi(port)
	return host, p
}
