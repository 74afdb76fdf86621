package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFlood sends HARNESS_FLOOD_N (default 1,000) concurrent uploads
// of 4 KiB, half Contents API PUTs over 10 repositories and half gist
// POSTs, each on a new connection with a full TLS handshake (as many CLI
// tools make them), on loopback:
//   - proxy: through the CONNECT proxy, as with --no-sandbox;
//   - sandbox: dialled straight at the served address, TLS terminated
//     by SNI, as in the sandbox (the address is 127.0.0.1 here);
//   - sandbox-resuming: the same from one client that keeps its TLS
//     sessions (as a long-lived process does), so that its connections
//     after the first ones resume.
//
// It reports uploads/s, uploads per CPU-second (the emulator's, the
// client's and their git processes': the figure that does not depend on
// what else the machine runs), the p50 and p95 latency, the client
// failures, the uploads lost (answered 2xx to the client but not in the
// ledger as delivered, or the other way round) and the peak heap.
// Bounded: two minutes per round.
func BenchmarkFlood(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("HARNESS_FLOOD_N")); err == nil && v > 0 {
		n = v
	}
	b.Run("proxy", func(b *testing.B) {
		e, ca, proxy := benchProxy(b, "flood")
		flood(b, e, n, func() *http.Transport {
			return &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}
		})
	})
	for _, resume := range []bool{false, true} {
		name := "sandbox"
		if resume {
			name = "sandbox-resuming"
		}
		b.Run(name, func(b *testing.B) {
			e, ca, addr := benchTLS(b, "flood")
			flood(b, e, n, func() *http.Transport {
				cfg := &tls.Config{RootCAs: ca.Pool()}
				if resume {
					cfg.ClientSessionCache = tls.NewLRUClientSessionCache(n)
				}
				return &http.Transport{DialContext: dialOnly(addr), TLSClientConfig: cfg, DisableKeepAlives: true}
			})
		})
	}
}

// flood runs the rounds of BenchmarkFlood against e, each with a new
// client transport.
func flood(b *testing.B, e *Emulator, n int, transport func() *http.Transport) {
	content := strings.Repeat("QUFB", 1024) // 4 KiB of base64
	var (
		failures, lost int
		lat            []time.Duration
		total, cpu     time.Duration
		peak           uint64
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
		var (
			mu   sync.Mutex
			okAt = map[string]bool{} // the uploads the client saw accepted
			wg   sync.WaitGroup
		)
		stopPeak := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapInuse)
				mu.Unlock()
				select {
				case <-stopPeak:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		cpu0 := cpuTime()
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				var req *http.Request
				var key string
				if i%2 == 0 {
					key = fmt.Sprintf("/repos/o/r%d/contents/round%d/f%d", i%10, round, i)
					req, _ = http.NewRequestWithContext(rctx, "PUT", "https://api.github.com"+key, strings.NewReader(`{"message":"m","content":"`+content+`"}`))
				} else {
					key = fmt.Sprintf("/gists#%d-%d", round, i)
					req, _ = http.NewRequestWithContext(rctx, "POST", "https://api.github.com/gists", strings.NewReader(fmt.Sprintf(`{"files":{"r%d-%d.txt":{"content":"%s"}}}`, round, i, content)))
				}
				req.Header.Set("Authorization", "token x")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				ok := err == nil && resp.StatusCode/100 == 2
				if err == nil {
					_ = resp.Body.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				lat = append(lat, d)
				if !ok {
					failures++
					return
				}
				okAt[key] = true
			})
		}
		wg.Wait()
		total += time.Since(start)
		cpu += cpuTime() - cpu0
		close(stopPeak)
		rcancel()
		tr.CloseIdleConnections()
		qctx, qcancel := context.WithTimeout(b.Context(), time.Minute)
		if err := e.Quiesce(qctx); err != nil {
			b.Fatal(err)
		}
		qcancel()
		delivered := map[string]bool{}
		for _, en := range e.Ledger().Entries()[before:] {
			if en.Kind != KindRequest || en.Status/100 != 2 || en.Undelivered || en.Method == "CONNECT" {
				continue
			}
			switch {
			case en.Method == "PUT":
				delivered[en.Path] = true
			case len(en.Files) == 1:
				// r<round>-<i>.txt
				var r, i int
				if _, err := fmt.Sscanf(en.Files[0].Name, "r%d-%d.txt", &r, &i); err == nil {
					delivered[fmt.Sprintf("/gists#%d-%d", r, i)] = true
				}
			}
		}
		for k := range okAt {
			if !delivered[k] {
				lost++
			}
		}
		for k := range delivered {
			if !okAt[k] {
				lost++
			}
		}
	}
	slices.Sort(lat)
	rounds := float64(b.N)
	b.ReportMetric(float64(n)*rounds/total.Seconds(), "uploads/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)*rounds/cpu.Seconds(), "uploads/cpu-s")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric(float64(failures)/rounds, "client-failures")
	b.ReportMetric(float64(lost)/rounds, "lost")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// cpuTime is the CPU time this process and its finished children (git)
// have used.
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
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
