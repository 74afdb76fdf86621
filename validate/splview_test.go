package validate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/t1567001/harness/event"
)

// TestSPLViewIsSPLEvent: the view the streaming path gives the engine
// shows exactly the fields of SPLEvent's map.
func TestSPLViewIsSPLEvent(t *testing.T) {
	opts := Options{}.withDefaults()
	events := []event.Event{
		{EventID: 1, Computer: "ws1", Channel: event.SysmonChannel, TimeCreated: time.Unix(1700000000, 5e8),
			Data: []event.Field{{Name: "Image", Value: `C:\git.exe`}, {Name: "host", Value: "shadowed"}, {Name: "Image", Value: "second"}}},
		{EventID: 4688, Computer: "dc", Channel: "Security", Data: []event.Field{{Name: "NewProcessName", Value: "x"}}},
		{},
	}
	for _, ev := range events {
		want := map[string]string(SPLEvent(ev, opts))
		v := &splView{ev: &ev, opts: &opts}
		got := map[string]string{}
		v.Each(func(k, val string) bool { got[k] = val; return true })
		assert.Equal(t, want, got)
		for k, val := range want {
			g, ok := v.Field(k)
			assert.True(t, ok, k)
			assert.Equal(t, val, g, k)
		}
		_, ok := v.Field("NoSuchField")
		assert.False(t, ok)
	}
}
