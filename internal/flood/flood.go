// Package flood is the upload flood the benchmarks of the mock send, from
// inside the test process or from a client process in a sandbox: n
// concurrent uploads of 4 KiB, half GitHub Contents API PUTs over 10
// repositories and half gist POSTs, each with content of its own and on a
// new connection with a full TLS handshake (as many CLI tools make them),
// and the check of what the mock's ledger says it stored against what the
// client sent and was told.
package flood

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// contentSize is the size of an upload's file: 4 KiB once in base64.
const contentSize = 3072

// repos is how many repositories the Contents PUTs are spread over.
const repos = 10

// Count is HARNESS_FLOOD_N, the uploads of a benchmark's flood, or 1,000.
func Count() int {
	if v, err := strconv.Atoi(os.Getenv("HARNESS_FLOOD_N")); err == nil && v > 0 {
		return v
	}
	return 1000
}

// Upload is one request of a flood and what came of it.
type Upload struct {
	// Name is the uploaded file's base name, unique in the flood.
	Name   string `json:"name"`
	Method string `json:"method"`
	// Status is the answer's status, 0 when none came (Error says why).
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Latency is from sending the request to reading the whole answer.
	Latency time.Duration `json:"latency_ns"`
	// SHA256 is the hash of the file's content as the mock should store
	// it: the decoded bytes of a Contents PUT, the text of a gist file.
	SHA256 string `json:"sha256"`
}

// OK reports whether the client was told its upload was accepted.
func (u Upload) OK() bool { return u.Error == "" && u.Status/100 == 2 }

// socket is an address and port in an error, which tells apart errors
// that are otherwise alike.
var socket = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

// Failures counts the uploads the client did not see accepted by why:
// the error (its sockets blanked), or the status answered.
func Failures(ups []Upload) map[string]int {
	why := map[string]int{}
	for _, u := range ups {
		switch {
		case u.Error != "":
			why[socket.ReplaceAllString(u.Error, "*")]++
		case !u.OK():
			why["status "+strconv.Itoa(u.Status)]++
		}
	}
	return why
}

// Result is what a flood client prints: every upload, and the wall time
// from the first request sent to the last answer read.
type Result struct {
	Uploads []Upload      `json:"uploads"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Run sends n uploads at once through client to base (such as
// https://api.github.com), their files named after tag so that floods
// against one mock do not collide, and returns each upload's outcome.
func Run(ctx context.Context, client *http.Client, base, tag string, n int) Result {
	ups := make([]Upload, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ups {
		wg.Go(func() { ups[i] = send(ctx, client, base, tag, i) })
	}
	wg.Wait()
	return Result{Uploads: ups, Elapsed: time.Since(start)}
}

// send makes upload i: even ones are Contents PUTs, odd ones gist POSTs.
func send(ctx context.Context, client *http.Client, base, tag string, i int) Upload {
	raw := make([]byte, contentSize)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	b64 := base64.StdEncoding.EncodeToString(raw)
	u := Upload{Name: fmt.Sprintf("%s-%d.txt", tag, i)}
	var url, body string
	if i%2 == 0 {
		u.Method, u.SHA256 = http.MethodPut, hash(raw)
		url = fmt.Sprintf("%s/repos/o/r%d/contents/%s/%s", base, i%repos, tag, u.Name)
		body = `{"message":"m","content":"` + b64 + `"}`
	} else {
		// The gist's file is the base64 text itself, stored as sent.
		u.Method, u.SHA256 = http.MethodPost, hash([]byte(b64))
		url = base + "/gists"
		body = `{"files":{"` + u.Name + `":{"content":"` + b64 + `"}}}`
	}
	req, err := http.NewRequestWithContext(ctx, u.Method, url, strings.NewReader(body))
	if err != nil {
		u.Error = err.Error()
		return u
	}
	req.Header.Set("Authorization", "token ghp_flood")
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		u.Status = resp.StatusCode
	}
	u.Latency = time.Since(t0)
	if err != nil {
		u.Error = err.Error()
	}
	return u
}

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Delivery is a file the mock stored and told its client it had: its name
// as the ledger records it (a path for a Contents PUT) and its hash.
type Delivery struct {
	Name, SHA256 string
}

// Tally is a flood's uploads checked against the mock's deliveries.
type Tally struct {
	// Failures are the uploads the client did not see accepted.
	Failures int
	// Lost are the uploads accepted for the client and never delivered,
	// plus the deliveries the client did not see accepted.
	Lost int
	// Corrupt are the deliveries whose bytes differ from those sent;
	// Duplicate the uploads delivered more than once.
	Corrupt, Duplicate int
}

// Check compares the uploads with what the mock delivered of them:
// every upload accepted must be delivered once, with the bytes sent.
// Deliveries not named after one of the uploads are ignored.
func Check(ups []Upload, delivered []Delivery) Tally {
	var t Tally
	sent := make(map[string]Upload, len(ups))
	for _, u := range ups {
		sent[u.Name] = u
		if !u.OK() {
			t.Failures++
		}
	}
	times := map[string]int{}
	for _, d := range delivered {
		u, ok := sent[path.Base(d.Name)]
		if !ok {
			continue
		}
		times[u.Name]++
		switch {
		case !u.OK():
			t.Lost++ // stored, but the client believes it failed
		case times[u.Name] > 1:
			t.Duplicate++
		case d.SHA256 != u.SHA256:
			t.Corrupt++
		}
	}
	for _, u := range ups {
		if u.OK() && times[u.Name] == 0 {
			t.Lost++
		}
	}
	return t
}

// Add sums two tallies (of two rounds).
func (t Tally) Add(o Tally) Tally {
	return Tally{Failures: t.Failures + o.Failures, Lost: t.Lost + o.Lost, Corrupt: t.Corrupt + o.Corrupt, Duplicate: t.Duplicate + o.Duplicate}
}

// Percentiles are the p50 and p95 latency of ups (zero for none).
func Percentiles(ups []Upload) (p50, p95 time.Duration) {
	if len(ups) == 0 {
		return 0, 0
	}
	lat := make([]time.Duration, len(ups))
	for i, u := range ups {
		lat[i] = u.Latency
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*95/100]
}

// Decode reads a client's printed Result.
func Decode(r io.Reader) (Result, error) {
	var res Result
	if err := json.NewDecoder(r).Decode(&res); err != nil {
		return Result{}, fmt.Errorf("flood: client result: %w", err)
	}
	return res, nil
}

// Metrics is where a benchmark's figures go (a *testing.B).
type Metrics interface {
	ReportMetric(n float64, unit string)
}

// Report puts on m the figures of rounds floods: all their uploads, t
// their summed tally, elapsed their wall time and cpu the CPU time they
// cost (none reported when zero). Counts are per round.
func (t Tally) Report(m Metrics, all []Upload, rounds int, elapsed, cpu time.Duration) {
	if rounds == 0 || len(all) == 0 {
		return
	}
	m.ReportMetric(float64(len(all))/elapsed.Seconds(), "uploads/s")
	if cpu > 0 {
		m.ReportMetric(float64(len(all))/cpu.Seconds(), "uploads/cpu-s")
	}
	p50, p95 := Percentiles(all)
	m.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	m.ReportMetric(float64(p95.Milliseconds()), "p95-ms")
	r := float64(rounds)
	m.ReportMetric(float64(t.Failures)/r, "client-failures")
	m.ReportMetric(float64(t.Lost)/r, "lost")
	m.ReportMetric(float64(t.Corrupt)/r, "corrupt")
	m.ReportMetric(float64(t.Duplicate)/r, "duplicate")
}
