package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/t1567001/harness/internal/flood"
)

// BenchmarkFlood sends HARNESS_FLOOD_N (default 1,000) concurrent uploads
// of 4 KiB, half Contents API PUTs over 10 repositories and half gist
// POSTs, each with content of its own and on a new connection with a full
// TLS handshake (as many CLI tools make them), from this process on
// loopback:
//   - proxy: through the CONNECT proxy, as with --no-sandbox;
//   - loopback: dialled straight at a TLS listener on 127.0.0.1, TLS
//     terminated by SNI, as the sandbox's served addresses are (harness's
//     BenchmarkSandboxFlood sends the flood from a real sandbox);
//   - loopback-resuming: the same from one client that keeps its TLS
//     sessions (as a long-lived process does), so that its connections
//     after the first ones resume.
//
// It reports uploads/s, uploads per CPU-second (the emulator's, the
// client's and their git processes': the figure that does not depend on
// what else the machine runs), the p50 and p95 latency, the client
// failures, the uploads lost (answered 2xx to the client but not in the
// ledger as delivered, or the other way round), corrupt (delivered with
// other bytes than sent, by sha256) or duplicated, and the peak heap.
// Bounded: two minutes per round.
func BenchmarkFlood(b *testing.B) {
	n := flood.Count()
	b.Run("proxy", func(b *testing.B) {
		e, ca, proxy := benchProxy(b, "flood")
		floodRounds(b, e, n, func() *http.Transport {
			return &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}
		})
	})
	for _, resume := range []bool{false, true} {
		name := "loopback"
		if resume {
			name = "loopback-resuming"
		}
		b.Run(name, func(b *testing.B) {
			e, ca, addr := benchTLS(b, "flood")
			floodRounds(b, e, n, func() *http.Transport {
				cfg := &tls.Config{RootCAs: ca.Pool()}
				if resume {
					cfg.ClientSessionCache = tls.NewLRUClientSessionCache(n)
				}
				return &http.Transport{DialContext: dialOnly(addr), TLSClientConfig: cfg, DisableKeepAlives: true}
			})
		})
	}
}

// floodRounds runs the rounds of BenchmarkFlood against e, each with a new
// client transport.
func floodRounds(b *testing.B, e *Emulator, n int, transport func() *http.Transport) {
	var (
		all        []flood.Upload
		tally      flood.Tally
		total, cpu time.Duration
		peak       uint64
	)
	round := 0
	for b.Loop() {
		round++
		rctx, rcancel := context.WithTimeout(b.Context(), 2*time.Minute)
		tr := transport()
		client := &http.Client{Transport: tr}
		// One request first, untimed: a resuming client then has a session.
		warm, _ := http.NewRequestWithContext(rctx, "GET", "https://api.github.com/user", nil)
		warm.Header.Set("Authorization", "token x")
		if resp, err := client.Do(warm); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		before := len(e.Ledger().Entries())
		stopPeak := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse) // read once this goroutine is done
				select {
				case <-stopPeak:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		cpu0 := flood.CPUTime()
		res := flood.Run(rctx, client, "https://api.github.com", fmt.Sprintf("round%d", round), n)
		cpu += flood.CPUTime() - cpu0
		total += res.Elapsed
		close(stopPeak)
		<-sampled
		rcancel()
		tr.CloseIdleConnections()
		qctx, qcancel := context.WithTimeout(b.Context(), time.Minute)
		if err := e.Quiesce(qctx); err != nil {
			b.Fatal(err)
		}
		qcancel()
		tally = tally.Add(flood.Check(res.Uploads, floodDeliveries(e.Ledger().Entries()[before:])))
		all = append(all, res.Uploads...)
	}
	tally.Report(b, all, round, total, cpu)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// floodDeliveries are the files entries delivered, for flood.Check.
func floodDeliveries(entries []Entry) []flood.Delivery {
	var ds []flood.Delivery
	for _, en := range entries {
		for _, f := range en.Delivered() {
			ds = append(ds, flood.Delivery{Name: f.Name, SHA256: f.SHA256})
		}
	}
	return ds
}

// benchTLS is an emulator serving TLS on loopback as the sandbox serves
// its addresses (api.github.com's is the listener's), until the benchmark
// ends, with its CA and the listener's address.
func benchTLS(b *testing.B, name string) (*Emulator, *CA, string) {
	b.Helper()
	ca, err := NewCA(name)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{DataDir: b.TempDir(), Addresses: map[string][]netip.Addr{"api.github.com": {netip.MustParseAddr("127.0.0.1")}}}, ca)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e, ca, serveTLS(b, e)
}
