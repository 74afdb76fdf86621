package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Listeners are the sockets of one namespace the emulator serves; they
// were created inside the namespace, so they see its traffic only.
type Listeners struct {
	// TLS listens on port 443, HTTP on port 80 and SSH on port 22 of
	// every address.
	TLS, HTTP, SSH []net.Listener
	// DNSUDP and DNSTCP listen on port 53 of the table's resolver.
	DNSUDP net.PacketConn
	DNSTCP net.Listener
}

func (l *Listeners) close() {
	for _, s := range slices.Concat([]net.Listener{l.DNSTCP}, l.TLS, l.HTTP, l.SSH) {
		if s != nil {
			_ = s.Close()
		}
	}
	if l.DNSUDP != nil {
		_ = l.DNSUDP.Close()
	}
}

// Net is one network namespace, held by an OS thread of this process that
// lives in it: sockets made and processes started from that thread belong
// to the namespace. Its loopback interface holds the table's addresses
// besides its own, and it has no other interface and no route anywhere else.
type Net struct {
	calls     chan func()
	done      chan struct{}
	closeOnce sync.Once
	ls        Listeners
}

// NewNet creates a namespace for t and its listeners.
func NewNet(t *Table) (*Net, error) {
	n, err := newNet()
	if err != nil {
		return nil, err
	}
	n.do(func() { err = n.setup(t) })
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func newNet() (*Net, error) {
	n := &Net{calls: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go n.thread(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return n, nil
}

// thread runs calls inside the namespace. It never unlocks its thread: the
// runtime ends the thread with the goroutine, and the namespace goes once
// its last socket and process are gone.
func (n *Net) thread(ready chan<- error) {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		ready <- fmt.Errorf("sandbox: new network namespace: %w", err)
		return
	}
	ready <- nil
	for {
		select {
		case f := <-n.calls:
			f()
		case <-n.done:
			return
		}
	}
}

// do runs f on the namespace's thread.
func (n *Net) do(f func()) {
	finished := make(chan struct{})
	select {
	case n.calls <- func() { defer close(finished); f() }:
		<-finished
	case <-n.done:
	}
}

var errClosed = errors.New("sandbox: network namespace closed")

func (n *Net) setup(t *Table) error {
	if err := HoldAddrs(t); err != nil {
		return err
	}
	for _, a := range t.Addrs() {
		for port, ls := range map[uint16]*[]net.Listener{443: &n.ls.TLS, 80: &n.ls.HTTP, 22: &n.ls.SSH} {
			l, err := net.Listen("tcp4", netip.AddrPortFrom(a, port).String())
			if err != nil {
				return fmt.Errorf("sandbox: listen: %w", err)
			}
			*ls = append(*ls, l)
		}
	}
	dns := net.JoinHostPort(t.Resolver.String(), strconv.Itoa(53))
	var err error
	if n.ls.DNSUDP, err = net.ListenPacket("udp4", dns); err != nil {
		return fmt.Errorf("sandbox: DNS listener: %w", err)
	}
	if n.ls.DNSTCP, err = net.Listen("tcp4", dns); err != nil {
		return fmt.Errorf("sandbox: DNS listener: %w", err)
	}
	return nil
}

// HoldAddrs brings up the loopback interface of the calling thread's
// network namespace and puts every address of t on it, so that listeners
// there answer them. It needs CAP_NET_ADMIN in that namespace.
func HoldAddrs(t *Table) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("sandbox: netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("sandbox: loopback: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("sandbox: loopback up: %w", err)
	}
	// The served addresses live on loopback: every kernel has it (a dummy
	// interface needs a module containers often lack), and a /32 there is
	// as local as anywhere.
	for _, a := range t.Addrs() {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}}
		if err := h.AddrAdd(lo, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("sandbox: address %v: %w", a, err)
		}
	}
	return nil
}

// Listeners are the namespace's sockets for the emulator; Close closes them.
func (n *Net) Listeners() Listeners { return n.ls }

// Start starts cmd inside the namespace (a child inherits the network
// namespace of the thread that forks it).
func (n *Net) Start(cmd *exec.Cmd) error {
	err := errClosed
	n.do(func() { err = cmd.Start() })
	return err
}

// Close closes the listeners and ends the namespace's thread.
func (n *Net) Close() {
	n.closeOnce.Do(func() {
		n.ls.close()
		close(n.done)
	})
}

// probeNet sets up this process's network namespace as [NewNet] does,
// listeners and all, and closes them again.
func probeNet() error {
	t, err := DefaultTable()
	if err != nil {
		return err
	}
	var n Net
	defer n.ls.close()
	return n.setup(t)
}
