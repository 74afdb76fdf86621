package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
