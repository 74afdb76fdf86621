package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/t1567001/harness/internal/flood"
)

// BenchmarkContentsPUTThroughProxy is one Contents API PUT through the
// CONNECT proxy: "new-connection" pays CONNECT and the TLS handshake each
// time, as a CLI tool does; "keep-alive" reuses the tunnel.
func BenchmarkContentsPUTThroughProxy(b *testing.B) {
	_, ca, proxy := benchProxy(b, "bench")
	body := `{"message":"m","content":"` + strings.Repeat("QUFB", 1024) + `"}`

	for _, keepAlive := range []bool{false, true} {
		name := "new-connection"
		if keepAlive {
			name = "keep-alive"
		}
		b.Run(name, func(b *testing.B) {
			tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: !keepAlive}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			i := 0
			for b.Loop() {
				i++
				// A new path each time: replacing a file would need its sha.
				req, _ := http.NewRequest("PUT", "https://api.github.com/repos/o/r/contents/"+name+"/"+strconv.Itoa(i), strings.NewReader(body))
				req.Header.Set("Authorization", "token x")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// benchProxy is an emulator behind its CONNECT proxy on loopback, served
// until the benchmark ends, with its CA and the proxy's URL.
func benchProxy(b *testing.B, name string) (*Emulator, *CA, *url.URL) {
	b.Helper()
	return benchProxyWith(b, name, Config{})
}

// benchProxyWith is benchProxy with cfg (its DataDir is the benchmark's).
func benchProxyWith(b *testing.B, name string, cfg Config) (*Emulator, *CA, *url.URL) {
	b.Helper()
	ca, err := NewCA(name)
	if err != nil {
		b.Fatal(err)
	}
	cfg.DataDir = b.TempDir()
	e, err := New(cfg, ca)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = e.ServeProxy(ctx, l) }()
	proxy, _ := url.Parse("http://" + l.Addr().String())
	return e, ca, proxy
}

// BenchmarkContentsCommits is the flood's Contents PUTs without the
// network: 500 concurrent uploads of 4 KiB over 10 repositories straight
// into the emulator's handler, so that what is measured is the handler
// and the commit path. It reports commits/s and commits per CPU-second
// (the emulator's and its git processes').
func BenchmarkContentsCommits(b *testing.B) {
	const n = 500
	ca, err := NewCA("commits")
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{DataDir: b.TempDir()}, ca)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	body := `{"message":"m","content":"` + strings.Repeat("QUFB", 1024) + `"}`
	var cpu time.Duration
	round := 0
	for b.Loop() {
		round++
		cpu0 := flood.CPUTime()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range n {
			wg.Go(func() {
				r := httptest.NewRequest("PUT", fmt.Sprintf("https://api.github.com/repos/o/r%d/contents/round%d/f%d", i%10, round, i), strings.NewReader(body))
				r.Header.Set("Authorization", "token x")
				w := httptest.NewRecorder()
				e.Handler().ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		cpu += flood.CPUTime() - cpu0
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d of %d commits failed", f, n)
		}
	}
	commits := float64(n * b.N)
	b.ReportMetric(commits/b.Elapsed().Seconds(), "commits/s")
	if cpu > 0 {
		b.ReportMetric(commits/cpu.Seconds(), "commits/cpu-s")
	}
}
