package harness

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

func TestLaneOrigins(t *testing.T) {
	for _, i := range []int{0, 1, 17} {
		assert.Equal(t, i, laneOf(laneOrigin(i)))
	}
	for _, origin := range []string{"", "lane", "lane -1", "lane x", "sandbox 1"} {
		assert.Equal(t, -1, laneOf(origin), origin)
	}
}

func TestOnlyDeliveredUploadsArrive(t *testing.T) {
	sel := Selected{Technique: &atomics.Technique{AttackTechnique: "T1567.001"}, Test: &atomics.Test{Name: "t"}}
	staged := executor.Staged{Name: "a.txt", Size: 1, SHA256: "aa"}
	upload := emulator.Entry{Host: "api.github.com", Method: "PUT", Status: 201, Files: []emulator.File{{Name: "a.txt", Size: 1, SHA256: "aa"}}}
	lost := upload
	lost.Undelivered = true
	refused := upload
	refused.Status = 403
	tests := []struct {
		name    string
		entries []emulator.Entry
		intact  bool
	}{
		{"accepted and answered", []emulator.Entry{upload}, true},
		{"accepted, answer lost", []emulator.Entry{lost}, false},
		{"refused", []emulator.Entry{refused}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := summarize(sel, &executor.Result{Staged: []executor.Staged{staged}}, tt.entries)
			assert.Equal(t, tt.intact, a.Intact)
			require.Len(t, a.Staged, 1)
			assert.Equal(t, tt.intact, a.Staged[0].Arrived)
		})
	}
}

func TestScheduleTracesEntriesToTests(t *testing.T) {
	s := schedule{starts: make([][]started, 2)}
	t0 := time.Now()
	s.starts[0] = []started{{test: 0, at: t0}, {test: 2, at: t0.Add(time.Second)}}
	s.starts[1] = []started{{test: 1, at: t0}}
	tests := []struct {
		name string
		lane int
		at   time.Time
		want int
	}{
		{"first test of lane 0", 0, t0.Add(time.Millisecond), 0},
		{"second test of lane 0", 0, t0.Add(2 * time.Second), 2},
		{"lane 1", 1, t0.Add(2 * time.Second), 1},
		{"before any test", 0, t0.Add(-time.Second), -1},
		{"no lane", -1, t0, -1},
		{"unknown lane", 5, t0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, s.test(tt.lane, tt.at))
		})
	}
}

func TestDependentTestsShareAWorker(t *testing.T) {
	test := func(paths ...string) Selected {
		args := map[string]atomics.Argument{}
		for i, p := range paths {
			args[fmt.Sprint("a", i)] = atomics.Argument{Type: "path", Default: p}
		}
		return Selected{Technique: &atomics.Technique{}, Test: &atomics.Test{InputArguments: args}}
	}
	tests := []struct {
		name     string
		selected []Selected
		want     [][]int
	}{
		{"independent", []Selected{test("loot.txt"), test(), test("/tmp/a")}, [][]int{{0}, {1}, {2}}},
		{"the same file outside the work folder", []Selected{test("/tmp/loot.txt"), test("x"), test("/tmp/./loot.txt")}, [][]int{{0, 2}, {1}}},
		{"chained through a second path", []Selected{test("/a"), test("/b"), test("/b", "/a"), test("/c")}, [][]int{{0, 1, 2}, {3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, dependent(tt.selected))
		})
	}
}

// TestParallelSandboxesTraceEveryEntryToItsTest runs atomics in sandboxes
// side by side, two of them the same test with the same client, which
// hold the same addresses and may hold the same sockets: every ledger
// entry, DNS queries included, must go to the test whose processes the
// sensor saw open that socket or send that query, and each test's
// outcome and telemetry (Sysmon 3 and 22 among it) must be what the same
// tests give one after the other.
func TestParallelSandboxesTraceEveryEntryToItsTest(t *testing.T) {
	t.Parallel()
	if err := sandbox.Available(); err != nil {
		t.Skipf("needs the network sandbox: %v", err)
	}
	opts := options(t)
	opts.Tests = twinTests
	opts.Lanes = 1
	serial, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	opts.Lanes = len(opts.Tests)
	parallel, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	assertLanesMatchSerial(t, serial, parallel)
}

// twinTests are the tests the lane tests run: the gist upload twice first
// (both start at once, on lanes 0 and 1), then the other three atomics.
var twinTests = []string{
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0003", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0003",
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0002", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0004",
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0005",
}

// assertLanesMatchSerial checks a run of twinTests on lanes against the
// same tests run one after the other: the twins ran at the same time on
// two lanes, every ledger entry went to exactly one test, of one lane,
// whose processes the sensor saw open that socket or send that query, and
// each test's outcome, DNS queries and telemetry are the serial run's.
func assertLanesMatchSerial(t *testing.T, serial, parallel *Run) {
	t.Helper()
	n := len(twinTests)
	require.Len(t, parallel.Tests, n)
	require.Len(t, serial.Tests, n)

	twin := parallel.Results.Atomics[:2]
	assert.True(t, twin[0].Started.Before(twin[1].Ended) && twin[1].Started.Before(twin[0].Ended),
		"the two gist uploads ran at the same time: %s-%s and %s-%s", twin[0].Started, twin[0].Ended, twin[1].Started, twin[1].Ended)

	seen := map[int64]int{}
	for i, tr := range parallel.Tests {
		require.NotEmpty(t, tr.Ledger, "test %d", i)
		origin := tr.Ledger[0].Origin
		for _, e := range tr.Ledger {
			if j, dup := seen[e.Seq]; dup {
				t.Errorf("entry %d went to tests %d and %d", e.Seq, j, i)
			}
			seen[e.Seq] = i
			assert.Equal(t, origin, e.Origin, "test %d: one lane's entries", i)
			assert.True(t, sentBy(tr.Observations, e), "test %d: entry %d (%s %s %s:%d) matches none of its processes' sockets", i, e.Seq, e.Kind, e.Host, e.ClientIP, e.ClientPort)
		}
	}
	assert.Len(t, seen, len(parallel.Ledger), "every entry went to a test")
	assert.NotEqual(t, parallel.Tests[0].Ledger[0].Origin, parallel.Tests[1].Ledger[0].Origin, "the twins ran on two lanes")

	profiles, err := Contexts(nil)
	require.NoError(t, err)
	for i := range n {
		s, p := serial.Results.Atomics[i], parallel.Results.Atomics[i]
		assert.Equal(t, outcome(s), outcome(p), "test %d (%s)", i, s.Name)
		assert.Equal(t, dnsQueries(serial.Tests[i].Ledger), dnsQueries(parallel.Tests[i].Ledger), "test %d: DNS", i)
		for _, prof := range profiles {
			want, err := serial.render(serial.Tests[i], prof, "")
			require.NoError(t, err)
			got, err := parallel.render(parallel.Tests[i], prof, "")
			require.NoError(t, err)
			assert.Equal(t, string(normalize(t, windows(want))), string(normalize(t, windows(got))), "test %d under %s", i, prof.Name)
		}
	}
}

// sentBy reports whether a process the sensor watched opened e's client
// socket towards the emulator, or sent e's DNS query.
func sentBy(obs []sensor.Observation, e emulator.Entry) bool {
	for _, o := range obs {
		switch {
		case e.Kind == emulator.KindDNS:
			if o.Kind == sensor.KindDNS && o.DNSName == e.Host && (o.LocalPort == 0 || o.LocalPort == e.ClientPort) {
				return true
			}
		case o.Kind == sensor.KindConnect && o.LocalPort == e.ClientPort && o.RemoteIP == e.DestIP && o.RemotePort == e.DestPort:
			return true
		}
	}
	return false
}

// outcome is what a test did, without times and sockets.
func outcome(a reports.Atomic) []string {
	out := []string{fmt.Sprintf("%s exit %d intact %v", a.Execution, a.ExitCode, a.Intact)}
	for _, r := range a.Requests {
		out = append(out, fmt.Sprintf("%s %s %s -> %d", r.Method, r.Host, r.Path, r.Status))
	}
	for _, u := range a.Uploads {
		out = append(out, fmt.Sprintf("upload %s intact %v", u.File, u.Intact)) // an archive's hash holds its time
	}
	for _, s := range a.Staged {
		out = append(out, fmt.Sprintf("staged %s arrived %v", s.Name, s.Arrived))
	}
	return out
}

// dnsQueries are the queries of a ledger with their answers, sorted (a
// resolver sends its A and AAAA queries at once).
func dnsQueries(entries []emulator.Entry) []string {
	var out []string
	for _, e := range entries {
		if e.Kind == emulator.KindDNS {
			out = append(out, fmt.Sprintf("%s %s %s %v", e.DNS.Name, e.DNS.Type, e.DNS.Rcode, e.DNS.Answers))
		}
	}
	slices.Sort(out)
	return out
}

// windows are the Windows events among events (the network logs carry
// times and sockets that differ between runs).
func windows(events []event.Event) []event.Event {
	var out []event.Event
	for _, e := range events {
		if !event.IsNetwork(e.Channel) {
			out = append(out, e)
		}
	}
	return out
}
