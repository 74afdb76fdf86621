package validate

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
)

// TestSPLSeesNetworkLogsUnderTheirOwnIndex: proxy and Zeek lines are in
// their own index and sourcetype, with no EventCode, so a Windows search
// never matches them and a network search never matches Windows events.
func TestSPLSeesNetworkLogsUnderTheirOwnIndex(t *testing.T) {
	evs := []event.Event{
		{Provider: event.ZeekProvider, Channel: event.ZeekConn, Data: []event.Field{{Name: "id.orig_h", Value: "10.0.0.5"}, {Name: "orig_bytes", Value: "900"}}},
		{Provider: event.ZeekProvider, Channel: event.ZeekConn, Data: []event.Field{{Name: "id.orig_h", Value: "10.0.0.5"}, {Name: "orig_bytes", Value: "100"}}},
		{Provider: event.ProxyProvider, Channel: event.ProxyChannel, Data: []event.Field{{Name: "cs-host", Value: "pastebin.com"}}},
		{Provider: event.Sysmon, EventID: 3, Channel: event.SysmonChannel, Data: []event.Field{{Name: "orig_bytes", Value: "5"}}},
	}
	tests := []struct {
		query string
		want  []map[string]string
	}{
		{`index=zeek sourcetype="bro:conn:json" | stats sum(orig_bytes) as up by id.orig_h`, []map[string]string{{"id.orig_h": "10.0.0.5", "up": "1000"}}},
		{`index=proxy sourcetype="squid:access:json" cs-host="pastebin.com" | table cs-host, source`, []map[string]string{{"cs-host": "pastebin.com", "source": "proxy"}}},
		{`index=wineventlog orig_bytes=* | table EventCode`, []map[string]string{{"EventCode": "3"}}},
		{`index=zeek EventCode=* | table uid`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r, err := NewSPLRule("q", tc.query, Options{})
			require.NoError(t, err)
			rows, err := Evaluate(context.Background(), r, evs)
			require.NoError(t, err)
			var got []map[string]string
			for _, row := range rows {
				got = append(got, present(row))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
