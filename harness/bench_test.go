package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
)

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
		run, err := RunLocal(context.Background(), Options{Harness: exe})
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
				run, err := RunLocal(context.Background(), Options{Harness: exe, Observe: observe})
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
