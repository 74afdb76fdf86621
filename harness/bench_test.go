package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/sandbox"
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
	if err := containers.Available(ctx); err != nil {
		b.Skipf("no Docker engine answers: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cold := os.Getenv("HARNESS_BENCH_COLD") == "1"
	copts := ContainerOptions{Exe: exe, ModuleRoot: reftest.ModuleRoot(b)}
	if !cold {
		if _, err := HarnessImage(ctx, copts); err != nil { // warm the cache outside the timer
			b.Fatal(err)
		}
	}
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
