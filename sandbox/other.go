//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
)

var errUnsupported = errors.New("the network sandbox needs Linux namespaces; pass --no-sandbox")

// Listeners are the sockets of one namespace the emulator serves.
type Listeners struct {
	TLS, HTTP, SSH []net.Listener
	DNSUDP         net.PacketConn
	DNSTCP         net.Listener
}

// Config is what every test's sandbox of a run shares.
type Config struct {
	Table    *Table
	Files    *Files
	Hostname string
	Harness  string
}

// Net is a network namespace; there is none here.
type Net struct{}

// Available says why this machine cannot confine tests.
func Available() error { return errUnsupported }

// MaybeInit never runs a sandbox here.
func MaybeInit() bool { return false }

// NewNet fails: no namespaces here.
func NewNet(*Table) (*Net, error) { return nil, errUnsupported }

// HoldAddrs fails: no namespaces here.
func HoldAddrs(*Table) error { return errUnsupported }

// Listeners is empty.
func (n *Net) Listeners() Listeners { return Listeners{} }

// Start fails.
func (n *Net) Start(*exec.Cmd) error { return errUnsupported }

// Run fails.
func (n *Net) Run(context.Context, Config, []string, string, []string, io.Writer, io.Writer) (int, error) {
	return -1, errUnsupported
}

// Reaped fails.
func Reaped(context.Context, string, []string, string, []string, io.Writer, io.Writer) (int, error) {
	return -1, errUnsupported
}

// NeedsUserNamespace is false: there are no user namespaces to need.
func NeedsUserNamespace() bool { return false }

// ProbeUserNamespace fails.
func ProbeUserNamespace(context.Context, string) error { return errUnsupported }

// RunInUserNamespace fails.
func RunInUserNamespace(context.Context, string, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return -1, errUnsupported
}

// Close does nothing.
func (n *Net) Close() {}
