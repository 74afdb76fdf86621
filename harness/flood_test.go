package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/internal/flood"
	"github.com/t1567001/harness/internal/reftest"
)

// floodRig is a local run's emulator and sandbox set-up, and the flood
// client (internal/cmd/floodclient) built static once per source tree.
type floodRig struct {
	b      *local
	client string
	dir    string
}

func newFloodRig(tb testing.TB) *floodRig {
	tb.Helper()
	if err := sandboxAvailable(Options{}); err != nil {
		tb.Skipf("no sandbox on this machine (reason: %v)", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("go is not installed: the flood client is built from source")
	}
	ctx := context.Background()
	client, err := containers.StaticBinary(ctx, "", reftest.ModuleRoot(tb), "./internal/cmd/floodclient", nil)
	require.NoError(tb, err)
	exe, err := os.Executable()
	require.NoError(tb, err)
	dir := tb.TempDir()
	b, err := newLocal(ctx, "flood", dir, exe, false)
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, b.Close()) })
	return &floodRig{b: b, client: client, dir: dir}
}

// floodEnv is the client's whole environment: no proxy and no CA
// variable, so that only the sandbox's DNS, addresses and system store
// (or what extra names) can make its uploads succeed.
func (r *floodRig) floodEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "HOME=" + r.dir}, extra...)
}

// sandboxed runs n uploads from the client in a fresh sandbox, as a
// test's process runs, and returns what it printed.
func (r *floodRig) sandboxed(ctx context.Context, n int, tag string) (flood.Result, error) {
	run, done, err := r.b.isolate("")
	if err != nil {
		return flood.Result{}, err
	}
	defer done()
	var stdout, stderr bytes.Buffer
	code, err := run(ctx, []string{r.client, "-n", strconv.Itoa(n), "-tag", tag}, r.dir, r.floodEnv(), &stdout, &stderr)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	return r.decode(&stdout, &stderr, err)
}

// loopback runs n uploads from the same client outside any namespace,
// dialling a TLS listener of the emulator on 127.0.0.1 (what
// BenchmarkFlood's loopback variant does in process).
func (r *floodRig) loopback(ctx context.Context, n int, tag string) (flood.Result, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return flood.Result{}, fmt.Errorf("loopback listener: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- r.b.emu.ServeTLS(sctx, l) }()
	defer func() { cancel(); <-served }()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.client, "-n", strconv.Itoa(n), "-tag", tag, "-connect", l.Addr().String())
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = r.floodEnv("SSL_CERT_FILE="+r.b.caFile), r.dir, &stdout, &stderr
	return r.decode(&stdout, &stderr, cmd.Run())
}

func (r *floodRig) decode(stdout, stderr *bytes.Buffer, err error) (flood.Result, error) {
	if err != nil {
		return flood.Result{}, fmt.Errorf("flood client: %w: %s", err, stderr.Bytes())
	}
	return flood.Decode(stdout)
}

// ledger is every entry the emulator has recorded, once it has settled.
func (r *floodRig) ledger(tb testing.TB) []emulator.Entry {
	tb.Helper()
	entries, err := r.b.Ledger()
	require.NoError(tb, err)
	return entries
}

// deliveries are the files entries delivered, for flood.Check.
func deliveries(entries []emulator.Entry) []flood.Delivery {
	var ds []flood.Delivery
	for _, e := range entries {
		for _, f := range e.Delivered() {
			ds = append(ds, flood.Delivery{Name: f.Name, SHA256: f.SHA256})
		}
	}
	return ds
}

// TestSandboxFloodDeliversEveryUpload sends 200 concurrent uploads from a
// client process in a real sandbox (its own network namespace, names
// resolved by the sinkhole, the run's CA in the system store): every one
// is accepted, and the ledger holds each exactly once with the bytes sent.
func TestSandboxFloodDeliversEveryUpload(t *testing.T) {
	t.Parallel()
	r := newFloodRig(t)
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := r.sandboxed(ctx, n, "sandboxed")
	require.NoError(t, err)
	require.Len(t, res.Uploads, n)
	entries := r.ledger(t)

	sent := map[string]string{}
	for _, u := range res.Uploads {
		assert.True(t, u.OK(), "%s %s: %d %s", u.Method, u.Name, u.Status, u.Error)
		sent[u.Name] = u.SHA256
	}
	got := map[string]string{}
	for _, d := range deliveries(entries) {
		_, dup := got[path.Base(d.Name)]
		assert.False(t, dup, "%s delivered twice", d.Name)
		got[path.Base(d.Name)] = d.SHA256
	}
	assert.Equal(t, sent, got, "the ledger holds every upload once, byte for byte")
	assert.Equal(t, flood.Tally{}, flood.Check(res.Uploads, deliveries(entries)))

	// Through the sandbox's own path: each upload dialled api.github.com's
	// served address, found by a query to the sinkhole.
	var requests, queries int
	for _, e := range entries {
		switch {
		case e.IsRequest() && e.Method != "CONNECT":
			requests++
			assert.Equal(t, "140.82.112.6", e.DestIP)
		case e.Kind == emulator.KindDNS && e.DNS.Name == "api.github.com" && e.DNS.Type == "A":
			queries++
		}
	}
	assert.Equal(t, n, requests)
	assert.Positive(t, queries, "resolved at the sinkhole (Go's resolver shares one query among concurrent lookups)")
}

// BenchmarkSandboxFlood sends HARNESS_FLOOD_N (default 1,000) concurrent
// uploads (internal/flood) from a client process, alternated in one loop
// so that both see the same machine:
//   - sandbox: inside a real sandbox, made per round as for a test: the
//     client resolves api.github.com at the sinkhole, dials its served
//     address in its own network namespace, checks the certificate
//     against the system store the sandbox binds;
//   - loopback: the same client outside any namespace, dialling a TLS
//     listener on 127.0.0.1 with the run's CA in SSL_CERT_FILE.
//
// Each is checked against the ledger (every upload accepted is delivered
// once, with the bytes sent, by sha256). It reports, for each, uploads/s
// (the client's own wall time of the flood, not the sandbox's set-up),
// p50/p95, client failures, lost, corrupt and duplicated uploads and the
// peak live heap (the emulator's, in this process); the peak RSS of this
// process over the whole benchmark; uploads per CPU-second (this process,
// the clients and the mock's git) and the sandbox/loopback ratio of
// uploads/s.
func BenchmarkSandboxFlood(b *testing.B) {
	r := newFloodRig(b)
	n := flood.Count()
	type variant struct {
		name     string
		run      func(context.Context, int, string) (flood.Result, error)
		all      []flood.Upload
		tally    flood.Tally
		elapsed  time.Duration
		cpu      time.Duration
		heapPeak float64
	}
	vs := []*variant{{name: "sandbox", run: r.sandboxed}, {name: "loopback", run: r.loopback}}
	var rssPeak float64
	round := 0
	for b.Loop() {
		round++
		for _, v := range vs {
			before := len(r.ledger(b))
			var res flood.Result
			var err error
			cpu0 := flood.CPUTime()
			heap, rss := watchHeap(b, func() {
				ctx, cancel := context.WithTimeout(b.Context(), 3*time.Minute)
				defer cancel()
				res, err = v.run(ctx, n, fmt.Sprintf("%s%d", v.name, round))
			})
			if err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			v.cpu += flood.CPUTime() - cpu0
			v.elapsed += res.Elapsed
			v.heapPeak, rssPeak = max(v.heapPeak, heap), max(rssPeak, rss)
			v.tally = v.tally.Add(flood.Check(res.Uploads, deliveries(r.ledger(b)[before:])))
			v.all = append(v.all, res.Uploads...)
			if f := flood.Failures(res.Uploads); len(f) > 0 {
				b.Logf("%s round %d: failures: %v", v.name, round, f)
			}
		}
	}
	for _, v := range vs {
		v.tally.Report(prefixed{b, v.name + "-"}, v.all, round, v.elapsed, v.cpu)
		b.ReportMetric(v.heapPeak, v.name+"-peak-heap-MB")
	}
	b.ReportMetric(rssPeak, "peak-RSS-MB")
	if vs[0].elapsed > 0 {
		b.ReportMetric(vs[1].elapsed.Seconds()/vs[0].elapsed.Seconds(), "sandbox/loopback-uploads/s")
	}
}

// prefixed reports each metric under its unit with a prefix.
type prefixed struct {
	m      flood.Metrics
	prefix string
}

func (p prefixed) ReportMetric(n float64, unit string) { p.m.ReportMetric(n, p.prefix+unit) }
