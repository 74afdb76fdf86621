package spl

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamEmitsAsEventsArrive: a streaming pipeline's rows come out at
// Push, before Close; a blocking one's at Close, from what it kept.
func TestStreamEmitsAsEventsArrive(t *testing.T) {
	q, err := Parse(`a=1 | eval b=a+1 | table a, b`)
	require.NoError(t, err)
	var rows []Row
	s := q.Stream(context.Background(), func(r Row) error { rows = append(rows, r); return nil })
	require.NoError(t, s.Push(Event{"a": "1"}))
	require.Len(t, rows, 1, "the row is out before the next event")
	require.NoError(t, s.Push(Event{"a": "2"}))
	require.NoError(t, s.Push(Event{"a": "1", "c": "x"}))
	require.NoError(t, s.Close())
	assert.Len(t, rows, 2)
	assert.Equal(t, "2", rows[1].Get("b").String())

	q, err = Parse(`* | stats count by a | sort - count | head 1`)
	require.NoError(t, err)
	rows = nil
	s = q.Stream(context.Background(), func(r Row) error { rows = append(rows, r); return nil })
	for _, a := range []string{"x", "y", "y"} {
		require.NoError(t, s.Push(Event{"a": a}))
	}
	assert.Empty(t, rows)
	require.NoError(t, s.Close())
	require.Len(t, rows, 1)
	assert.Equal(t, "y", rows[0].Get("a").String())
}

func TestSortWithLimitKeepsItsLimit(t *testing.T) {
	q, err := Parse(`* | sort limit=3 - n`)
	require.NoError(t, err)
	s := q.Stream(context.Background(), func(Row) error { return nil })
	for i := range 100000 {
		require.NoError(t, s.Push(Event{"n": itoa(i)}))
	}
	ss := s.sink.(*sortSink)
	assert.Less(t, len(ss.recs), 2*3+1024+1, "sort limit=3 holds a bounded number of records")
	var rows []Row
	s.emit = func(r Result) error { rows = append(rows, r.Row()); return nil }
	require.NoError(t, s.Close())
	require.Len(t, rows, 3)
	assert.Equal(t, "99999", rows[0].Get("n").String())
}

func itoa(i int) string { return NumberValue(float64(i)).String() }

func TestCancel(t *testing.T) {
	q, err := Parse(`a=1`)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	events := func(yield func(Event) bool) {
		for {
			if !yield(Event{"a": "1"}) {
				return
			}
		}
	}
	_, err = q.RunContext(ctx, events) // an endless stream: only the context stops it
	require.ErrorIs(t, err, context.Canceled)

	var b strings.Builder
	for i := range 5000 {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("a=x")
	}
	_, err = ParseContext(ctx, b.String(), Limits{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestLimits(t *testing.T) {
	_, err := ParseContext(context.Background(), "a="+strings.Repeat("x", 100), Limits{MaxBytes: 50})
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, err.Error(), "more than the limit of 50")

	deep := strings.Repeat("(", 20) + "a=1" + strings.Repeat(")", 20)
	_, err = ParseContext(context.Background(), deep, Limits{MaxDepth: 10})
	require.ErrorAs(t, err, &se)
	assert.Contains(t, err.Error(), "nested deeper than 10 levels")
	_, err = ParseContext(context.Background(), deep, Limits{MaxDepth: 30})
	require.NoError(t, err)

	_, err = ParseContext(context.Background(), "| eval x="+strings.Repeat("-", 50)+"1", Limits{MaxDepth: 10})
	require.ErrorContains(t, err, "nested deeper")
}

// TestStreamResultsMatchRows: a Result gives the same fields, values and
// sources as the Row built from it, in the row's order, with null where the
// row lacks a field; streamed and blocking pipelines alike.
func TestStreamResultsMatchRows(t *testing.T) {
	events := []Event{{"a": "1", "b": "x"}, {"a": "2"}, {"a": "1", "c": "y"}}
	for _, src := range []string{
		`a=1 | eval d=if(isnull(c), "none", c) | table a, b, c, d`,
		`* | eval n=a*2 | sort - n`,
		`* | stats count by a`,
	} {
		t.Run(src, func(t *testing.T) {
			q, err := Parse(src)
			require.NoError(t, err)
			want, err := q.Run(events)
			require.NoError(t, err)
			var got []Row
			s := q.StreamResults(context.Background(), func(r Result) error {
				require.Len(t, r.Values, len(r.Fields))
				got = append(got, r.Row())
				return nil
			})
			for _, ev := range events {
				require.NoError(t, s.Push(ev))
			}
			require.NoError(t, s.Close())
			assert.Equal(t, want, got)
		})
	}
	q, err := Parse(`a=1 | eval d=if(isnull(c), "none", c) | table a, b, c, d`)
	require.NoError(t, err)
	var texts [][]string
	s := q.StreamResults(context.Background(), func(r Result) error {
		assert.Equal(t, []string{"a", "b", "c", "d"}, r.Fields)
		var row []string
		for _, v := range r.Values {
			row = append(row, v.String())
		}
		texts = append(texts, row)
		return nil
	})
	for _, ev := range events {
		require.NoError(t, s.Push(ev))
	}
	require.NoError(t, s.Close())
	assert.Equal(t, [][]string{{"1", "x", "null", "none"}, {"1", "null", "y", "y"}}, texts)
}

// reused is an event whose text a reader overwrites after Push, as one
// reusing its buffer would: what sort keeps must not rest on it.
type reused struct{ buf []byte }

func (r *reused) Field(name string) (string, bool) {
	if name != "a" {
		return "", false
	}
	return unsafe.String(&r.buf[0], len(r.buf)), true
}

func (r *reused) Each(f func(name, value string) bool) {
	v, _ := r.Field("a")
	f("a", v)
}

// TestSortKeepsItsOwnText: after table, sort keeps a record's event
// values and the values eval computed from them (b rests on the event's
// text, c on part of it) in its own memory, each with its source.
func TestSortKeepsItsOwnText(t *testing.T) {
	q, err := Parse(`* | eval b=a, c=substr(a, 2, 2), n=len(a), d="lit" | table a, b, c, n, d | sort - a`)
	require.NoError(t, err)
	var rows []Row
	s := q.Stream(context.Background(), func(r Row) error { rows = append(rows, r); return nil })
	ev := &reused{buf: make([]byte, 4)}
	for _, a := range []string{"abcd", "wxyz", "klmn"} {
		copy(ev.buf, a)
		require.NoError(t, s.Push(ev))
	}
	copy(ev.buf, "____")
	require.NoError(t, s.Close())
	require.Len(t, rows, 3)
	for i, want := range []struct {
		a, c string
		src  int
	}{{"wxyz", "xy", 1}, {"klmn", "lm", 2}, {"abcd", "bc", 0}} {
		assert.Equal(t, []string{"a", "b", "c", "n", "d"}, rows[i].Fields)
		assert.Equal(t, want.a, rows[i].Get("a").String(), "row %d", i)
		assert.Equal(t, want.a, rows[i].Get("b").String(), "row %d", i)
		assert.Equal(t, want.c, rows[i].Get("c").String(), "row %d", i)
		assert.Equal(t, "4", rows[i].Get("n").String(), "row %d", i)
		assert.Equal(t, "lit", rows[i].Get("d").String(), "row %d", i)
		assert.Equal(t, []int{want.src}, rows[i].Sources, "row %d", i)
	}
}
