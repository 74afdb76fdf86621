package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/t1567001/harness/emulator"
)

// TestInflightFileChangesOnlyWhenBusyDoes: the in-flight count reaches the
// file on the changes from and to zero, not on every request.
func TestInflightFileChangesOnlyWhenBusyDoes(t *testing.T) {
	var written []int64
	f := whenBusyChanges(func(n int64) { written = append(written, n) })
	for _, n := range []int64{1, 2, 3, 2, 3, 2, 1, 0, 1, 2, 1, 0} {
		f(n)
	}
	assert.Equal(t, []int64{1, 0, 1, 0}, written)
}

// TestEmulatorOriginMarksLedger: with --origin, every entry the emulator
// writes to --ledger carries it (container mode merges one emulator's
// ledger per lane by it).
func TestEmulatorOriginMarksLedger(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--listen", "", "--dns-listen", addr, "--dns-answer", "127.0.0.1",
			"--ledger", ledger, "--origin", "lane 3"}, outW, io.Discard)
		outW.Close()
	}()
	// Ready once it says where the sinkhole listens.
	lines := bufio.NewScanner(outR)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "DNS sinkhole on") {
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	defer qcancel()
	got, err := r.LookupHost(qctx, "api.github.com")
	require.NoError(t, err)
	assert.Contains(t, got, "127.0.0.1")
	cancel()
	<-done

	data, err := os.ReadFile(ledger)
	require.NoError(t, err)
	entries := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.NotEmpty(t, entries)
	for _, line := range entries {
		var e emulator.Entry
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		assert.Equal(t, emulator.KindDNS, e.Kind)
		assert.Equal(t, "lane 3", e.Origin, line)
	}
}

// TestEmulatorSSHHostKey: with --ssh-listen and --ssh-host-key the emulator
// serves SSH with that host key (container mode writes the runner's
// known_hosts from it before the emulator starts): a client that trusts the
// key completes the handshake, one that trusts another key fails it, and a
// file that is not a key is refused as bad input.
func TestEmulatorSSHHostKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "host_key")
	hostKey := writeTestSSHKey(t, keyFile)
	other := writeTestSSHKey(t, filepath.Join(dir, "other_key"))
	client := writeTestSSHKey(t, filepath.Join(dir, "client_key"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--listen", "", "--ssh-listen", addr, "--ssh-host-key", keyFile}, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "SSH (git) for github.com on "+addr) {
	}
	require.True(t, lines.Scan(), "the known_hosts line follows")
	assert.Equal(t, knownhosts.Line([]string{"github.com"}, hostKey.PublicKey()), strings.TrimSpace(lines.Text()))
	go func() { _, _ = io.Copy(io.Discard, outR) }()

	for name, trusted := range map[string]ssh.Signer{"the given key": hostKey, "another key": other} {
		t.Run(name, func(t *testing.T) {
			conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
				User:            "git",
				Auth:            []ssh.AuthMethod{ssh.PublicKeys(client)},
				HostKeyCallback: ssh.FixedHostKey(trusted.PublicKey()),
				Timeout:         10 * time.Second,
			})
			if trusted == hostKey {
				require.NoError(t, err)
				assert.NoError(t, conn.Close())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "host key mismatch")
		})
	}
	cancel()
	<-done

	notAKey := filepath.Join(dir, "not-a-key")
	require.NoError(t, os.WriteFile(notAKey, []byte("nope"), 0o600))
	var errOut strings.Builder
	assert.Equal(t, exitBadInput, run(context.Background(), []string{"emulator", "--listen", "", "--ssh-listen", "127.0.0.1:0", "--ssh-host-key", notAKey}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "--ssh-host-key")
}

// writeTestSSHKey writes a fresh ed25519 key to path as an OpenSSH private
// key file and returns it.
func writeTestSSHKey(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "test")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return signer
}
