package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkFlood sends HARNESS_FLOOD_N (default 1,000) concurrent uploads
// of 4 KiB, half Contents API PUTs over 10 repositories and half gist
// POSTs, each on a new connection through the CONNECT proxy on loopback,
// and reports uploads/s, the p50 and p95 latency, the client failures, the
// uploads lost (answered 2xx to the client but not in the ledger as
// delivered, or the other way round) and the peak heap. Bounded: two
// minutes per round.
func BenchmarkFlood(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("HARNESS_FLOOD_N")); err == nil && v > 0 {
		n = v
	}
	e, ca, proxy := benchProxy(b, "flood")
	content := strings.Repeat("QUFB", 1024) // 4 KiB of base64

	var (
		failures, lost int
		lat            []time.Duration
		total          time.Duration
		peak           uint64
	)
	round := 0
	for b.Loop() {
		round++
		rctx, rcancel := context.WithTimeout(b.Context(), 2*time.Minute)
		tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true, MaxConnsPerHost: 0}
		client := &http.Client{Transport: tr}
		before := len(e.Ledger().Entries())
		var (
			mu   sync.Mutex
			okAt = map[string]bool{} // the paths the client saw accepted
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
			if en.Status/100 != 2 || en.Undelivered || en.Method == "CONNECT" {
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
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric(float64(failures)/rounds, "client-failures")
	b.ReportMetric(float64(lost)/rounds, "lost")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
