package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/validate/core"
)

// fourAtomics is the file of the T1567.001 atomics the benchmarks run (the
// embedded set also holds the variants); seedFour picks the seed's four
// among them, so that the figures stay those of the same four tests.
func fourAtomics(b *testing.B) string {
	return filepath.Join(reftest.ModuleRoot(b), "atomics", "T1567.001.yaml")
}

var seedFour = []string{
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0001", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0002",
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0003", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0004",
}

// BenchmarkFourAtomics is the whole local run (emulator start to stop); each
// test's mean wall time is reported as a metric of its own, so its share of
// the run can be read off.
func BenchmarkFourAtomics(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var perTest [4]float64
	for b.Loop() {
		run, err := RunLocal(context.Background(), Options{Harness: exe, Atomics: fourAtomics(b), Tests: seedFour})
		if err != nil {
			b.Fatal(err)
		}
		for i, a := range run.Results.Atomics {
			if !a.Intact {
				b.Fatalf("%s: a staged file did not arrive intact", a.Name)
			}
			perTest[i] += float64(a.Ended.Sub(a.Started).Milliseconds())
		}
	}
	for i, ms := range perTest {
		b.ReportMetric(ms/float64(b.N), fmt.Sprintf("test%d-ms", i+1))
	}
}

// BenchmarkSensorOverhead is the four-atomic run untraced and traced; the
// ratio of the two ns/op figures is the sensor's cost on real atomics.
func BenchmarkSensorOverhead(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, observe := range []bool{false, true} {
		name := "untraced"
		if observe {
			name = "traced"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				run, err := RunLocal(context.Background(), Options{Harness: exe, Atomics: fourAtomics(b), Tests: seedFour, Observe: observe})
				if err != nil {
					b.Fatal(err)
				}
				if !run.Results.AllIntact() {
					b.Fatal("a staged file did not arrive intact")
				}
			}
		})
	}
}

// BenchmarkContainerMode measures container mode against local mode in the
// same loop and reports both and their ratio. Warm by default (images
// cached); with HARNESS_BENCH_COLD=1 the harness's images are deleted
// before each iteration, so the base image is rebuilt with debootstrap.
func BenchmarkContainerMode(b *testing.B) {
	ctx := context.Background()
	cold := os.Getenv("HARNESS_BENCH_COLD") == "1"
	exe, copts := containerBench(b, !cold)
	var local, ctr time.Duration
	for b.Loop() {
		if cold {
			out, err := exec.Command("sh", "-c", `docker images --format '{{.Repository}}:{{.Tag}}' | grep '^t1567-harness/' | xargs -r docker rmi -f`).CombinedOutput()
			if err != nil {
				b.Fatalf("removing cached images: %v: %s", err, out)
			}
		}
		t0 := time.Now()
		if _, err := RunLocal(ctx, Options{Harness: exe, Atomics: fourAtomics(b), Tests: seedFour, Observe: true}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		run, err := RunContainer(ctx, Options{Harness: exe, Atomics: fourAtomics(b), Tests: seedFour, Observe: true}, copts)
		if err != nil {
			b.Fatal(err)
		}
		if !run.Results.AllIntact() {
			b.Fatal("a staged file did not arrive intact in container mode")
		}
		local, ctr = local+t1.Sub(t0), ctr+time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(local.Seconds()*1000/n, "local-ms")
	b.ReportMetric(ctr.Seconds()*1000/n, "container-ms")
	b.ReportMetric(ctr.Seconds()/local.Seconds(), "container/local")
}

// BenchmarkContainerLanes runs every embedded atomic (the variants and
// look-alikes too) locally, in containers on one lane, and in containers
// on a lane per core, alternated in one loop (warm images), and reports
// each mean, container/local (lanes per core in both) and what the lanes
// save in containers (one lane / per core).
func BenchmarkContainerLanes(b *testing.B) {
	ctx := context.Background()
	exe, copts := containerBench(b, true)
	var local, one, lanes time.Duration
	timed := func(run func() (*Run, error)) time.Duration {
		t0 := time.Now()
		if _, err := run(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for b.Loop() {
		local += timed(func() (*Run, error) { return RunLocal(ctx, Options{Harness: exe, Observe: true}) })
		one += timed(func() (*Run, error) { return RunContainer(ctx, Options{Harness: exe, Observe: true, Lanes: 1}, copts) })
		lanes += timed(func() (*Run, error) { return RunContainer(ctx, Options{Harness: exe, Observe: true}, copts) })
	}
	n := float64(b.N)
	b.ReportMetric(local.Seconds()*1000/n, "local-ms")
	b.ReportMetric(one.Seconds()*1000/n, "container-1lane-ms")
	b.ReportMetric(lanes.Seconds()*1000/n, "container-ms")
	b.ReportMetric(lanes.Seconds()/local.Seconds(), "container/local")
	b.ReportMetric(one.Seconds()/lanes.Seconds(), "1lane/lanes")
}

// containerBench skips without a Docker engine, and returns the harness
// binary and the options that build its images, built already (outside
// the timer) when warm.
func containerBench(b *testing.B, warm bool) (string, ContainerOptions) {
	ctx := context.Background()
	if err := containers.Available(ctx); err != nil {
		b.Skipf("no Docker engine answers: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	copts := ContainerOptions{Exe: exe, ModuleRoot: reftest.ModuleRoot(b)}
	if warm {
		if _, err := HarnessImage(ctx, copts); err != nil {
			b.Fatal(err)
		}
	}
	return exe, copts
}

// BenchmarkSandboxRun is the four-atomic run with and without the network
// sandbox, alternated in one loop so that both see the same machine; it
// reports each mean and their ratio.
func BenchmarkSandboxRun(b *testing.B) {
	if err := sandbox.Available(); err != nil {
		b.Skipf("no sandbox: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var on, off time.Duration
	for b.Loop() {
		for _, noSandbox := range []bool{false, true} {
			start := time.Now()
			run, err := RunLocal(context.Background(), Options{Harness: exe, NoSandbox: noSandbox, Atomics: fourAtomics(b), Tests: seedFour})
			if err != nil {
				b.Fatal(err)
			}
			if !run.Results.AllIntact() {
				b.Fatal("a staged file did not arrive intact")
			}
			if noSandbox {
				off += time.Since(start)
			} else {
				on += time.Since(start)
			}
		}
	}
	b.ReportMetric(float64(on.Milliseconds())/float64(b.N), "sandbox-ms")
	b.ReportMetric(float64(off.Milliseconds())/float64(b.N), "no-sandbox-ms")
	b.ReportMetric(float64(on)/float64(off), "ratio")
}

// BenchmarkValidateExpectStream is validate --expect's check (the seed SPL
// query, a Sigma rule, six Elastic rules) over a generated stream of
// HARNESS_STREAM_EVENTS events (default 2 M) that is never held: events/s,
// events per CPU-second, the peak of the live heap (sampled every 5 ms)
// and of the resident set (sampled too) while it ran. For the ratio, "held" holds a
// hundredth of the same events as the check used to before its first verdict
// (a copy of each event, and their ECS documents, which an Elastic rule
// built for all the events at once) and reports the heap that takes, and
// that heap scaled to the whole stream (extrapolated, not measured).
func BenchmarkValidateExpectStream(b *testing.B) {
	n := benchEvents(b)
	plants := max(n/plantEvery, 1)
	exps, err := atomics.LoadExpectations("stream.yaml", []byte(streamExpectations))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stream", func(b *testing.B) {
		rules := streamRules(b, plants)
		var st CheckStats
		heap, rss := watchHeap(b, func() {
			cpu0 := cpuSeconds()
			for b.Loop() {
				verdicts, s, err := CheckExpectations(context.Background(), rules, generated(n), exps)
				if err != nil {
					b.Fatal(err)
				}
				for _, v := range verdicts[:10] {
					if !v.Pass {
						b.Fatalf("%s %s: %s", v.Rule, v.Expected, v.Explanation)
					}
				}
				st = s
			}
			events := float64(b.N * n)
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(events/(cpuSeconds()-cpu0), "events/cpu-s")
		})
		b.ReportMetric(heap, "peak-heap-MB")
		b.ReportMetric(rss, "peak-RSS-MB")
		b.ReportMetric(float64(st.Refs), "event-refs")
	})
	b.Run("held", func(b *testing.B) {
		part := max(n/100, 1)
		conv, err := ECSConverter(nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			var held []event.Event
			var docs []core.Doc
			peak, _ := watchHeap(b, func() {
				held = make([]event.Event, 0, part)
				_ = generated(part)(func(ev *event.Event) error {
					c := *ev
					c.Data = slices.Clone(ev.Data)
					held = append(held, c)
					for _, d := range conv(ev) {
						docs = append(docs, core.FlattenDoc(d))
					}
					return nil
				})
			})
			runtime.KeepAlive(held)
			runtime.KeepAlive(docs)
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(peak*float64(n)/float64(part), "extrapolated-heap-MB")
		}
	})
}

// benchEvents is HARNESS_STREAM_EVENTS, or 2 M.
func benchEvents(b *testing.B) int {
	if os.Getenv("HARNESS_STREAM_EVENTS") != "" {
		return streamEvents(b)
	}
	return 2_000_000
}

// watchHeap runs f, sampling every 5 ms the live heap and the resident
// set (/proc/self/statm), and returns their peaks in MB.
func watchHeap(b *testing.B, f func()) (heapMB, rssMB float64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var heap, rss uint64
	page := uint64(os.Getpagesize())
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			heap = max(heap, sample[0].Value.Uint64())
			if statm, err := os.ReadFile("/proc/self/statm"); err == nil {
				if f := strings.Fields(string(statm)); len(f) > 1 {
					pages, _ := strconv.ParseUint(f[1], 10, 64)
					rss = max(rss, pages*page)
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return float64(heap) / (1 << 20), float64(rss) / (1 << 20)
}

// cpuSeconds is the CPU time the process has used (user and system, from
// /proc/self/stat, in clock ticks of 1/100 s): on a shared machine, events
// per CPU-second is the figure that does not depend on the load.
func cpuSeconds() float64 {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses: utime
	// and stime are the 12th and 13th.
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}
