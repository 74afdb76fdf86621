package emulator

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLargeBodies measures the mock's memory under large uploads
// through the CONNECT proxy on loopback, the bodies generated as they are
// sent (the client holds none):
//
//   - 8x60MB-contents-PUT: 8 concurrent Contents API PUTs of 60 MB each
//     (80 MB of base64 on the wire), each checked against the ledger's
//     sha256 and size;
//   - 200MB-chunked-413: one chunked 200 MB body to the Contents API,
//     answered 413 at the 64 MiB limit.
//
// Each reports the peak Go heap in use and the process's peak resident set
// during the round (client and mock share the process), and MB/s of body.
func BenchmarkLargeBodies(b *testing.B) {
	b.Run("8x60MB-contents-PUT", func(b *testing.B) {
		const n, size = 8, 60 << 20
		e, ca, proxy := benchProxyWith(b, "bodies", Config{MaxBody: 128 << 20})
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
		round := 0
		peaks := watchPeaks(b)
		for b.Loop() {
			round++
			before := len(e.Ledger().Entries())
			sums := make([]string, n)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					body, sum := contentsStream(size, int64(i+round*n))
					req, _ := http.NewRequestWithContext(b.Context(), "PUT", fmt.Sprintf("https://api.github.com/repos/o/r/contents/r%d/f%d.bin", round, i), body)
					req.Header.Set("Authorization", "token x")
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						errs <- fmt.Errorf("PUT %d: status %d", i, resp.StatusCode)
						return
					}
					sums[i] = sum.value()
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			settle(b, e)
			for _, en := range e.Ledger().Entries()[before:] {
				if en.Method != "PUT" {
					continue
				}
				var i int
				if _, err := fmt.Sscanf(en.Path[strings.LastIndex(en.Path, "/f")+2:], "%d.bin", &i); err != nil || len(en.Files) != 1 ||
					en.Files[0].Size != size || en.Files[0].SHA256 != sums[i] || en.Undelivered {
					b.Fatalf("ledger entry %s: %+v, want %d bytes sha256 %s delivered", en.Path, en.Files, size, sums[i])
				}
			}
		}
		peaks.report(b, float64(n*size*b.N))
	})

	b.Run("200MB-chunked-413", func(b *testing.B) {
		const size = 200 << 20
		e, ca, proxy := benchProxyWith(b, "bodies413", Config{})
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
		peaks := watchPeaks(b)
		for b.Loop() {
			before := len(e.Ledger().Entries())
			body, _ := contentsStream(size, 1)
			req, _ := http.NewRequestWithContext(b.Context(), "PUT", "https://api.github.com/repos/o/r/contents/big", struct{ io.Reader }{body})
			req.Header.Set("Authorization", "token x")
			if resp, err := client.Do(req); err == nil {
				_ = resp.Body.Close() // the mock may close first: the ledger says what it answered
			}
			_ = body.Close()
			settle(b, e)
			var got []int
			for _, en := range e.Ledger().Entries()[before:] {
				if en.Method == "PUT" {
					got = append(got, en.Status)
					if en.BytesReceived > defaultMaxBody+1 || len(en.Files) > 0 {
						b.Fatalf("read %d bytes past a %d limit, files %v", en.BytesReceived, defaultMaxBody, en.Files)
					}
				}
			}
			if len(got) != 1 || got[0] != http.StatusRequestEntityTooLarge {
				b.Fatalf("statuses %v, want one 413", got)
			}
		}
		peaks.report(b, float64(defaultMaxBody*b.N))
	})
}

// settle waits for the mock to finish every request.
func settle(b *testing.B, e *Emulator) {
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	if err := e.Quiesce(ctx); err != nil {
		b.Fatal(err)
	}
}

// pendingSum is a body's sha256 once it has been generated to its end.
type pendingSum struct {
	mu  sync.Mutex
	h   hash.Hash
	sum string
}

func (p *pendingSum) value() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sum
}

// contentsStream is a Contents API body whose content is size generated
// bytes, written as it is read, and the content's sha256 once read.
func contentsStream(size int64, seed int64) (*io.PipeReader, *pendingSum) {
	pr, pw := io.Pipe()
	sum := &pendingSum{h: sha256.New()}
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		_, _ = bw.WriteString(`{"message":"bench","content":"`)
		enc := base64.NewEncoder(base64.StdEncoding, bw)
		chunk := make([]byte, 48<<10)
		x := uint64(seed)*0x9e3779b97f4a7c15 + 1
		for left := size; left > 0; {
			k := min(int64(len(chunk)), left)
			for i := range chunk[:k] {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				chunk[i] = byte(x)
			}
			sum.h.Write(chunk[:k])
			if _, err := enc.Write(chunk[:k]); err != nil {
				pw.CloseWithError(err)
				return
			}
			left -= k
		}
		_ = enc.Close()
		_, _ = bw.WriteString(`"}`)
		sum.mu.Lock()
		sum.sum = hex.EncodeToString(sum.h.Sum(nil))
		sum.mu.Unlock()
		pw.CloseWithError(bw.Flush())
	}()
	return pr, sum
}

// peaks samples the Go heap in use every 5 ms and resets the kernel's
// peak resident set at the start, so the figures are this benchmark's.
type peaks struct {
	stop chan struct{}
	done chan struct{}
	heap uint64
}

func watchPeaks(b *testing.B) *peaks {
	runtime.GC()
	// Writing 5 to clear_refs resets VmHWM (Linux 4.0+); where it cannot,
	// the figure is the process's peak so far.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p := &peaks{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			p.heap = max(p.heap, ms.HeapInuse)
			select {
			case <-p.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.Cleanup(func() {
		select {
		case <-p.done:
		default:
			close(p.stop)
		}
	})
	return p
}

// report stops the sampling and adds peak-heap-MB, peak-RSS-MB and MB/s.
func (p *peaks) report(b *testing.B, bytes float64) {
	close(p.stop)
	<-p.done
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(vmHWM()/(1<<20), "peak-RSS-MB")
	b.ReportMetric(bytes/(1<<20)/b.Elapsed().Seconds(), "MB/s")
}

// vmHWM is the process's peak resident set in bytes, 0 where unknown.
func vmHWM() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}
