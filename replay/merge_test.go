package replay

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mergeT0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// jsonLines is a file of flat JSON lines, one Sysmon 1 per offset (in ms
// from mergeT0), each named by its Image.
func jsonLines(name string, offsets ...int) string {
	var b strings.Builder
	for i, ms := range offsets {
		fmt.Fprintf(&b, `{"EventID":1,"Provider":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS","TimeCreated":%q,"Image":"%s-%d"}`+"\n",
			mergeT0.Add(time.Duration(ms)*time.Millisecond).Format(time.RFC3339Nano), name, i)
	}
	return b.String()
}

func openAll(t *testing.T, files map[string]string, order []string, opts ...Option) []*Reader {
	t.Helper()
	var rs []*Reader
	for _, name := range order {
		r, err := Open(name, strings.NewReader(files[name]), opts...)
		require.NoError(t, err)
		rs = append(rs, r)
	}
	return rs
}

func drain(t *testing.T, m *Merge) (images []string, srcs []int, err error) {
	t.Helper()
	for {
		ev, src, err := m.Next()
		if errors.Is(err, io.EOF) {
			return images, srcs, nil
		}
		if err != nil {
			return images, srcs, err
		}
		img, _ := ev.Get("Image")
		images, srcs = append(images, img), append(srcs, src)
	}
}

func TestMergeOrdersByTimeStably(t *testing.T) {
	files := map[string]string{
		"a": jsonLines("a", 0, 10, 10, 30),
		"b": jsonLines("b", 5, 10, 40),
		"c": "",
		"d": jsonLines("d", 10),
	}
	rs := openAll(t, files, []string{"a", "b", "c", "d"}, Workers(1))
	images, srcs, err := drain(t, NewMerge(rs...))
	require.NoError(t, err)
	assert.Equal(t, []string{"a-0", "b-0", "a-1", "a-2", "b-1", "d-0", "a-3", "b-2"}, images,
		"in time order; at 10 ms a's two, then b's, then d's: the readers' order, and each reader's own")
	assert.Equal(t, []int{0, 1, 0, 0, 1, 3, 0, 1}, srcs)
	for i, want := range []int{4, 3, 0, 1} {
		assert.Equal(t, want, rs[i].Stats().Events, "%s's own count", rs[i].Name())
	}
}

// TestMergeMatchesAStableSort holds the merge to the stable sort by time
// of the files' events taken one file after the other, on random files.
func TestMergeMatchesAStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		files := map[string]string{}
		var order []string
		type rec struct {
			ms  int
			img string
		}
		var all []rec
		for f := range 1 + rng.IntN(6) {
			name := fmt.Sprintf("f%d", f)
			var offs []int
			ms := 0
			for i := range rng.IntN(40) {
				ms += rng.IntN(4) // repeats times often
				offs = append(offs, ms)
				all = append(all, rec{ms, fmt.Sprintf("%s-%d", name, i)})
			}
			files[name], order = jsonLines(name, offs...), append(order, name)
		}
		slices.SortStableFunc(all, func(a, b rec) int { return a.ms - b.ms })
		var want []string
		for _, r := range all {
			want = append(want, r.img)
		}
		got, _, err := drain(t, NewMerge(openAll(t, files, order)...))
		require.NoError(t, err)
		require.Equal(t, want, got, "round %d", round)
	}
}

func TestMergeEndsOnAReadersError(t *testing.T) {
	files := map[string]string{
		"good": jsonLines("good", 0, 1, 2, 3),
		"bad":  jsonLines("bad", 0) + "{not json\n" + jsonLines("late", 5),
	}
	m := NewMerge(openAll(t, files, []string{"good", "bad"}, Strict(true))...)
	images, _, err := drain(t, m)
	var re *RecordError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "bad", re.File)
	assert.Equal(t, []string{"good-0", "bad-0"}, images, "the error comes as bad is read for the event after its last")
	_, _, again := m.Next()
	assert.Equal(t, err, again, "the merge stays ended")

	lenient := openAll(t, files, []string{"good", "bad"})
	images, _, err = drain(t, NewMerge(lenient...))
	require.NoError(t, err)
	assert.Equal(t, []string{"good-0", "bad-0", "good-1", "good-2", "good-3", "late-0"}, images)
	assert.Equal(t, 1, lenient[1].Stats().Skipped)
}

// BenchmarkMerge reads the same events as k files one after the other and
// as a merge of the k files: the merge's cost over reading.
func BenchmarkMerge(b *testing.B) {
	const perFile = 50_000
	for _, k := range []int{1, 4, 16} {
		files := map[string]string{}
		var order []string
		for f := range k {
			offs := make([]int, perFile)
			for i := range offs {
				offs[i] = i*k + f // the files interleave one event at a time
			}
			name := fmt.Sprintf("f%d", f)
			files[name], order = jsonLines(name, offs...), append(order, name)
		}
		open := func(b *testing.B) []*Reader {
			var rs []*Reader
			for _, name := range order {
				r, err := Open(name, strings.NewReader(files[name]), Workers(1))
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			return rs
		}
		b.Run(fmt.Sprintf("sequential/files=%d", k), func(b *testing.B) {
			for b.Loop() {
				n := 0
				for _, r := range open(b) {
					for _, err := range r.All() {
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
				}
				if n != k*perFile {
					b.Fatalf("read %d events", n)
				}
			}
			b.ReportMetric(float64(k*perFile*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("merged/files=%d", k), func(b *testing.B) {
			for b.Loop() {
				m := NewMerge(open(b)...)
				n := 0
				var last time.Time
				for {
					ev, _, err := m.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if ev.TimeCreated.Before(last) {
						b.Fatal("out of order")
					}
					last = ev.TimeCreated
					n++
				}
				if n != k*perFile {
					b.Fatalf("read %d events", n)
				}
			}
			b.ReportMetric(float64(k*perFile*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
