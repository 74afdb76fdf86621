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
		{EventID: 3, Computer: "ws1", Channel: event.SysmonChannel},
		{Computer: "sensor", Channel: event.ProxyChannel, Data: []event.Field{{Name: "cs-method", Value: "CONNECT"}}},
		{Computer: "sensor", Channel: event.ZeekConn, Data: []event.Field{{Name: "uid", Value: "C1"}, {Name: "EventID", Value: "7"}}},
		{Computer: "sensor", Channel: event.ZeekDNS},
		{EventID: 3, Computer: "ws1", Channel: event.SysmonChannel},
	}
	// One view over the stream, as the streaming path reuses it: what it
	// keeps from one event must not show in the next.
	v := &splView{opts: &opts}
	for i := range 2 * len(events) {
		ev := events[i%len(events)]
		want := map[string]string(SPLEvent(ev, opts))
		v.reset(&ev)
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
