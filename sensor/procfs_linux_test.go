package sensor

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcNetAddr(t *testing.T) {
	tests := []struct {
		in       string
		wantIP   string
		wantPort int
		wantErr  bool
	}{
		{"0100007F:1F90", "127.0.0.1", 8080, false},
		{"00000000000000000000000001000000:0035", "::1", 53, false},
		{"0000000000000000FFFF00000100007F:01BB", "127.0.0.1", 443, false}, // v4-mapped
		{"zz:1", "", 0, true},
		{"0100007F", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ip, port, err := parseProcNetAddr(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantIP, ip.String())
			assert.Equal(t, tt.wantPort, port)
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	st, err := parseProcStatus([]byte("Name:\tsh\nTgid:\t42\nPid:\t43\nPPid:\t7\nUid:\t1000\t1001\t1000\t1000\n"))
	require.NoError(t, err)
	assert.Equal(t, procStatus{Tgid: 42, PPid: 7, UID: 1000}, st)
	_, err = parseProcStatus([]byte("Name:\tsh\n"))
	assert.Error(t, err)
}

// TestProcNetLocalFallback checks the /proc/net path against a socket of
// the test process itself.
func TestProcNetLocalFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var (
		ip    netip.Addr
		port  int
		proto string
		lerr  error
	)
	require.NoError(t, raw.Control(func(fd uintptr) {
		ip, port, proto, lerr = procNetLocal(os.Getpid(), int(fd))
	}))
	require.NoError(t, lerr)
	want := c.LocalAddr().(*net.TCPAddr)
	assert.Equal(t, want.IP.String(), ip.String())
	assert.Equal(t, want.Port, port)
	assert.Equal(t, "tcp", proto)
}
