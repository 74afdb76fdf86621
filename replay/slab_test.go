package replay

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
)

// cloneEvent copies ev into memory of its own, so that it shares nothing
// with the reader's chunks.
func cloneEvent(ev event.Event) event.Event {
	c := ev
	c.Provider = event.Provider{Name: strings.Clone(ev.Provider.Name), GUID: strings.Clone(ev.Provider.GUID)}
	for _, s := range []*string{&c.Keywords, &c.Channel, &c.Computer, &c.UserID, &c.RunID, &c.Context} {
		*s = strings.Clone(*s)
	}
	c.Data = nil
	for _, f := range ev.Data {
		c.Data = append(c.Data, event.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)})
	}
	clone := func(vs []string) []string {
		if vs == nil {
			return nil
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = strings.Clone(v)
		}
		return out
	}
	c.Observations, c.ModelledFields = clone(ev.Observations), clone(ev.ModelledFields)
	return c
}

// slabLines are flat lines whose values fill many chunks: small and large
// records (a value longer than a chunk takes, more fields than one
// takes), escapes, and records the scanner leaves to the tree decoder
// after it has begun to carve them.
func slabLines(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"EventID":1}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `{"EventID":%d,"Computer":"host-%d","Image":"C:\\x\\%d.exe","CommandLine":"run %s"`, i%30, i%7, i, strings.Repeat("a", i%700))
		if i%50 == 0 {
			for k := range slabFields / 2 {
				fmt.Fprintf(&b, `,"F%d":"v%d"`, k, i)
			}
		}
		switch i % 40 {
		case 5:
			b.WriteString(`,"Nested":{"A":"b"}`) // the tree decoder's
		case 9:
			b.WriteString(`,"EventRecordID":"x"`) // a value error, skipped
		case 13:
			b.WriteString(`,"Opcode":"Info"`) // a System name kept as a field
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// Events carved from shared chunks stay as they were read after later
// records are read into the same and newer chunks, and after the consumer
// appends to an earlier event's fields (which must move them, not write
// over the next event's).
func TestSlabEventsUnchanged(t *testing.T) {
	in := slabLines(3000)
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			r, err := Open("in", bytes.NewReader(in), Workers(workers), batchSize(4096))
			require.NoError(t, err)
			var got, want []event.Event
			added := event.Field{Name: "Added", Value: "by the consumer"}
			for ev, err := range r.All() {
				require.NoError(t, err)
				if n := len(got); n > 0 {
					got[n-1].Data = append(got[n-1].Data, added)
					want[n-1].Data = append(want[n-1].Data, added)
				}
				got = append(got, ev)
				want = append(want, cloneEvent(ev))
			}
			require.Len(t, got, 3001-3000/40, "every record but the skipped ones")
			assert.Positive(t, r.Stats().Skipped)
			for i := range got {
				require.Equal(t, want[i], got[i], "event %d", i)
			}
		})
	}
}

func TestSlab(t *testing.T) {
	var s slab
	// carve copies b into the slab as the flat-line scanner does.
	carve := func(b []byte) string {
		t := append(s.room(len(b)), b...)
		s.commit(t)
		if len(t) == 0 {
			return ""
		}
		return unsafe.String(&t[0], len(t))
	}
	var strs, wantStrs []string
	for i := range 500 {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, i%(slabBytes/2))
		strs = append(strs, carve(b))
		wantStrs = append(wantStrs, string(b))
	}
	assert.Equal(t, wantStrs, strs, "a string handed out is never written again")

	var data [][]event.Field
	for i := range 200 {
		n := 1 + i%(slabFields/2)
		d := s.fields(n, 10)
		require.Empty(t, d)
		require.GreaterOrEqual(t, cap(d), n)
		for k := range n - i%2 { // some use less room than they asked for
			d = append(d, event.Field{Name: fmt.Sprint(i), Value: fmt.Sprint(k)})
		}
		d = s.keep(d, 10)
		assert.Equal(t, len(d), cap(d), "an append moves the fields")
		data = append(data, d)
	}
	for i, d := range data {
		require.Len(t, d, 1+i%(slabFields/2)-i%2)
		for k, f := range d {
			require.Equal(t, event.Field{Name: fmt.Sprint(i), Value: fmt.Sprint(k)}, f)
		}
	}
	assert.Empty(t, s.keep(nil, 0))
	assert.True(t, slices.Equal(strs, wantStrs))
}

// A fields chunk holds the fields of records whose text adds up to about
// a text chunk, so that an event kept holds little of its neighbours'
// text, however large their values.
func TestSlabFieldsBoundText(t *testing.T) {
	var s slab
	shared := func(a, b []event.Field) bool {
		return unsafe.Pointer(&b[0]) == unsafe.Add(unsafe.Pointer(&a[0]), len(a)*int(unsafe.Sizeof(a[0])))
	}
	one := []event.Field{{Name: "A", Value: "x"}}
	take := func(text int) []event.Field {
		return s.keep(append(s.fields(1, text), one...), text)
	}
	small := take(100)
	next := take(100)
	assert.True(t, shared(small, next), "small records share a chunk")
	big := take(slabBytes)
	assert.False(t, shared(next, big), "a record that would take the chunk past slabBytes of text starts another")
	after := take(1)
	assert.False(t, shared(big, after), "a chunk is full once its records' text reaches slabBytes")
	for range 20 {
		take(slabBytes / 16)
	}
	assert.LessOrEqual(t, s.dataText, slabBytes)
}
