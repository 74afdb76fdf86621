package replay

import (
	"testing"
	"time"

	"github.com/Velocidex/ordereddict"
	"github.com/stretchr/testify/assert"

	"github.com/t1567001/harness/event"
)

// TestEVTXDataItems: <Data> elements the evtx library leaves as they are
// (one alone, or one with a NULL value among others) are still fields.
func TestEVTXDataItems(t *testing.T) {
	item := func(name string, value ...any) *ordereddict.Dict {
		d := ordereddict.NewDict().Set("Name", name)
		if len(value) > 0 {
			d.Set("Value", value[0])
		}
		return d
	}
	cases := []struct {
		name string
		data *ordereddict.Dict
		want []event.Field
	}{
		{"one item", ordereddict.NewDict().Set("Data", item("QueryName", "api.github.com")),
			[]event.Field{{Name: "QueryName", Value: "api.github.com"}}},
		{"a NULL value", ordereddict.NewDict().Set("Data", []any{item("RuleName"), item("LogonId", uint64(0x8d4ac))}),
			[]event.Field{{Name: "RuleName", Value: ""}, {Name: "LogonId", Value: "0x8d4ac"}}},
		{"normalised", ordereddict.NewDict().Set("Image", `C:\x.exe`).Set("ProcessId", uint32(42)),
			[]event.Field{{Name: "Image", Value: `C:\x.exe`}, {Name: "ProcessId", Value: "42"}}},
	}
	d := newEVTXDecoder("t.evtx", nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e event.Event
			d.fields(&e, c.data, false)
			assert.Equal(t, c.want, e.Data)
		})
	}
}

// TestEVTXTime: the library's float seconds lose the 100 ns; the record
// header's FILETIME gives them back when it is the same time.
func TestEVTXTime(t *testing.T) {
	want := time.Date(2024, 5, 1, 12, 0, 0, 123456700, time.UTC)
	ft := uint64(want.Unix()*10_000_000+int64(want.Nanosecond()/100)) + filetimeUnix
	f := (float64(ft) - filetimeUnix) / 10000000 // as the library converts it
	assert.Equal(t, want, evtxTime(f, ft))
	approx := evtxTime(f, 0)
	assert.NotEqual(t, want, approx, "the float alone is not exact at this date")
	assert.WithinDuration(t, want, approx, 2*time.Microsecond)
	other := evtxTime(f, ft+50_000) // a header 5 ms off is another time
	assert.Equal(t, approx, other)
}
