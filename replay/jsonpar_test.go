package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The parallel JSON-lines reader is held to the sequential one: on any
// input, cut into batches of any size, it reads the same events, skips the
// same records with the same errors and lines, keeps the same stats and
// fails the same way in strict mode.

// batchSize sets the bytes per batch, so that small inputs are cut into
// many batches.
func batchSize(n int) Option { return func(r *Reader) { r.batch = n } }

// readPar reads in with n workers; parallel says whether the pipeline ran.
func readPar(t testing.TB, in []byte, strict bool, workers, batch int) (out readMode, parallel bool) {
	t.Helper()
	out, r := readOpts(t, in, false, Strict(strict), Workers(workers), batchSize(batch))
	if r == nil {
		return out, false
	}
	d, ok := r.dec.(*jsonDecoder)
	return out, ok && d.par != nil
}

// requireParallelAgrees reads in sequentially and in parallel with
// batches of each size, leniently and strictly; it returns whether the
// pipeline ran.
func requireParallelAgrees(t testing.TB, in []byte, batches ...int) bool {
	t.Helper()
	ran := false
	for _, strict := range []bool{false, true} {
		want, par := readPar(t, in, strict, 1, defaultBatch)
		require.False(t, par, "one worker reads in the caller's goroutine")
		for _, batch := range batches {
			got, par := readPar(t, in, strict, 2, batch)
			ran = ran || par
			require.Equal(t, want, got, "strict %v, batches of %d bytes: the parallel reader reads what the sequential one reads", strict, batch)
		}
	}
	return ran
}

// parInputs are files of JSON lines with, at every batch size, records
// and bad lines on both sides of batch boundaries.
func parInputs() map[string]string {
	var lines, bad, mixed strings.Builder
	first := `{"EventID":1}` + "\n"
	lines.WriteString(first)
	bad.WriteString(first)
	mixed.WriteString(first)
	for i := range 60 {
		s := flatSamples[i%len(flatSamples)]
		fmt.Fprintln(&lines, s)
		fmt.Fprintln(&bad, s)
		fmt.Fprintln(&mixed, s)
		switch i % 6 {
		case 0:
			bad.WriteString("not json\n")
			mixed.WriteString("{\n  \"EventID\": 3,\n  \"A\": \"pretty\"\n}\n")
		case 1:
			bad.WriteString(`{"EventID":1` + "\n  \"A\": 2}\n") // its skip swallows the indented line
			mixed.WriteString("Record 7\n\n\r\n")
		case 2:
			bad.WriteString("{\"A\":\"broken\n}\n]\n")
			mixed.WriteString(`{"EventID":4, "A":"x"}   {"EventID":5}` + "\n")
		case 3:
			bad.WriteString(`{"EventID":"x"}` + "\n" + `[{"EventID":1}]` + "\n")
			mixed.WriteString("{\"A\":\"raw\nnewline\"}\n")
		case 4:
			bad.WriteString("Record x\n\"a string\"\n")
			mixed.WriteString("  {\"EventID\":6}\n{\"EventID\":\n7}\n")
		}
	}
	return map[string]string{
		"flat lines":            lines.String(),
		"bad lines":             bad.String(),
		"pretty and odd lines":  mixed.String(),
		"no final newline":      strings.TrimSuffix(lines.String(), "\n"),
		"unterminated object":   lines.String() + `{"EventID":1,"A":"b`,
		"crlf":                  strings.ReplaceAll(bad.String(), "\n", "\r\n"),
		"bom and a broken head": "\xef\xbb\xbf\"a string\"\n" + bad.String(),
	}
}

var parBatches = []int{1, 7, 64, 200, 1000, 4096}

func TestParallelAgreesWithSequential(t *testing.T) {
	for name, in := range parInputs() {
		t.Run(name, func(t *testing.T) {
			assert.True(t, requireParallelAgrees(t, []byte(in), parBatches...), "the pipeline ran")
		})
	}
	t.Run("flat samples", func(t *testing.T) {
		first := `{"EventID":1}` + "\n"
		requireParallelAgrees(t, []byte(first+strings.Join(flatSamples, "\n")), parBatches...)
		requireParallelAgrees(t, []byte(first+strings.Join(flatSamples, "\r\n\n")), parBatches...)
	})
	t.Run("stays sequential", func(t *testing.T) {
		for _, in := range []string{
			"{\n  \"EventID\": 1\n}\n" + flatSamples[0] + "\n" + flatSamples[0],                              // pretty-printed
			"[\n" + flatSamples[0] + ",\n" + flatSamples[0] + "\n]\n",                                        // an array
			`{"action":"repo.create","actor":"a","created_at":1700000000000}` + "\n" + flatSamples[0] + "\n", // an audit log
		} {
			assert.False(t, requireParallelAgrees(t, []byte(in), 1, 64), in)
		}
	})
}

// TestParallelGzip: decompression in the reading goroutine, and a
// truncated stream failing as the sequential reader fails.
func TestParallelGzip(t *testing.T) {
	in := parInputs()["bad lines"]
	in = strings.Repeat(in, 20)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err := zw.Write([]byte(in))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	z := zipped.Bytes()
	assert.True(t, requireParallelAgrees(t, z, 64, 4096), "the pipeline ran")
	for _, cut := range []int{len(z) / 2, len(z) - 10} {
		requireParallelAgrees(t, z[:cut], 64, 4096)
		got, _ := readPar(t, z[:cut], false, 2, 64)
		assert.Contains(t, got.err, "unexpected EOF", "a truncated stream is an error")
	}
}

// TestParallelReference: every JSON file of the reference corpus reads
// the same both ways, cut into small batches.
func TestParallelReference(t *testing.T) {
	eachReferenceJSON(t, func(raw []byte) { requireParallelAgrees(t, raw, 100, 4096) })
}

// FuzzParallelAgreesWithSequential holds the parallel reader to the
// sequential one on any input.
func FuzzParallelAgreesWithSequential(f *testing.F) {
	for _, in := range parInputs() {
		f.Add([]byte(in[:min(len(in), 2000)]))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		requireParallelAgrees(t, in, 1, 16, 100)
	})
}

// bigLines is n flat JSON lines of the same length.
func bigLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"EventID":1,"Computer":"ws1","Image":"C:\\Windows\\System32\\curl%09d.exe"}`+"\n", i)
	}
	return b.Bytes()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestParallelBounded: however slowly events are taken, the pipeline reads
// no further ahead than its batches in flight.
func TestParallelBounded(t *testing.T) {
	in := bigLines(100_000)
	lineLen := bytes.IndexByte(in, '\n') + 1
	const batch, workers = 4096, 2
	src := &countingReader{r: bytes.NewReader(in)}
	r, err := Open("in", src, Workers(workers), batchSize(batch))
	require.NoError(t, err)
	defer r.Close()
	// Ahead of the consumer: Open's buffer and the first window, then the
	// batches in flight, each a batch and a line at most.
	ahead := int64(64<<10 + 256<<10 + (workers*batchesPerWorker+2)*(batch+lineLen))
	require.Less(t, 4*ahead, int64(len(in)), "the input is larger than the bound")
	events := 0
	var maxAhead int64
	for _, err := range r.All() {
		require.NoError(t, err)
		events++
		if events%1000 == 0 {
			runtime.Gosched() // let the reading goroutine run ahead if it can
		}
		maxAhead = max(maxAhead, src.n.Load()-int64(events*lineLen))
	}
	assert.Equal(t, 100_000, events)
	assert.NotNil(t, r.dec.(*jsonDecoder).par, "the pipeline ran")
	assert.LessOrEqual(t, maxAhead, ahead, "bytes read ahead of the events taken")
}

// blockingReader gives its data, then waits until released.
type blockingReader struct {
	data    []byte
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) > 0 {
		n := copy(p, b.data)
		b.data = b.data[n:]
		return n, nil
	}
	<-b.release
	return 0, io.EOF
}

// TestParallelCancel: cancelling the context ends a read that waits on its
// input, and one that runs, with the context's error.
func TestParallelCancel(t *testing.T) {
	t.Run("waiting for input", func(t *testing.T) {
		src := &blockingReader{data: bigLines(10), release: make(chan struct{})}
		defer close(src.release)
		ctx, cancel := context.WithCancel(context.Background())
		r, err := Open("in", src, Context(ctx), Workers(2), batchSize(64))
		require.NoError(t, err)
		for range 10 {
			_, err := r.Next()
			require.NoError(t, err)
		}
		done := make(chan error)
		go func() {
			_, err := r.Next()
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorContains(t, err, "in: ")
		case <-time.After(10 * time.Second):
			t.Fatal("Next did not return after the cancellation")
		}
	})
	t.Run("running", func(t *testing.T) {
		before := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r, err := Open("in", bytes.NewReader(bigLines(50_000)), Context(ctx), Workers(2), batchSize(4096))
		require.NoError(t, err)
		events := 0
		var rerr error
		for _, err := range r.All() {
			if err != nil {
				rerr = err
				break
			}
			if events++; events == 100 {
				cancel()
			}
		}
		assert.ErrorIs(t, rerr, context.Canceled)
		assert.Less(t, events, 100+2048, "events read after the cancellation")
		requireGoroutinesEnd(t, before)
	})
}

// TestParallelClose: a read abandoned half-way ends its goroutines.
func TestParallelClose(t *testing.T) {
	before := runtime.NumGoroutine()
	r, err := Open("in", bytes.NewReader(bigLines(50_000)), Workers(2), batchSize(4096))
	require.NoError(t, err)
	for range 100 {
		_, err := r.Next()
		require.NoError(t, err)
	}
	require.NotNil(t, r.dec.(*jsonDecoder).par, "the pipeline ran")
	require.NoError(t, r.Close())
	_, err = r.Next()
	assert.True(t, errors.Is(err, errClosed), "Next after Close: %v", err)
	assert.Equal(t, 100, r.Stats().Events)
	requireGoroutinesEnd(t, before)
}

// requireGoroutinesEnd waits, up to a bound, for the goroutines started
// since before to end.
func requireGoroutinesEnd(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running", runtime.NumGoroutine()-before)
		}
		runtime.Gosched()
	}
}
