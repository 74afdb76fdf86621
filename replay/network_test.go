package replay_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/replay"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/telemetry"
)

// TestNetworkLogsReadBack reads the proxy and Zeek logs a run writes back
// as recorded events, as `harness spl` and `harness sigma` do, and gets the
// same channels and fields.
func TestNetworkLogsReadBack(t *testing.T) {
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	require.NoError(t, err)
	p, err := telemetry.LoadProfile(fsys, "workstation")
	require.NoError(t, err)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := telemetry.Input{
		RunID: "run-1",
		Ledger: []emulator.Entry{
			{Seq: 1, Time: t0.Add(20 * time.Millisecond), End: t0.Add(45 * time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40001,
				Host: "pastebin.com", SNI: "pastebin.com", HTTPHost: "pastebin.com", Method: "POST", Path: "/api/api_post.php",
				BytesReceived: 5000, Status: 200, RequestBytes: 5200, ResponseBytes: 180, ServerPort: 443},
			{Seq: 2, Kind: emulator.KindTLS, Time: t0, End: t0.Add(60 * time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40001,
				Host: "pastebin.com", SNI: "pastebin.com", RequestBytes: 6100, ResponseBytes: 2900, TLSVersion: "TLS 1.3", ServerPort: 443},
		},
		Observations: []sensor.Observation{
			{Kind: sensor.KindDNS, Time: t0.Add(-time.Millisecond), PID: 10, DNSName: "pastebin.com", DNSType: "A", LocalPort: 53001, RemoteIP: "10.0.0.1", RemotePort: 53},
		},
	}
	evs := append(telemetry.RenderProxy(p, in), telemetry.RenderZeek(p, in)...)
	var buf bytes.Buffer
	require.NoError(t, telemetry.WriteProxyJSONL(&buf, evs))
	dir := t.TempDir()
	require.NoError(t, telemetry.WriteZeekLogs(dir, evs))
	for _, log := range []string{"conn", "dns", "http", "ssl"} {
		data, err := os.ReadFile(filepath.Join(dir, log+".log"))
		require.NoError(t, err)
		buf.Write(data)
	}
	back, err := replay.ReadAll("network.jsonl", &buf)
	require.NoError(t, err)
	require.Len(t, back, len(evs))
	byCh := map[string]int{}
	for _, e := range back {
		byCh[e.Channel]++
		assert.False(t, e.TimeCreated.IsZero(), e.Channel)
		switch e.Channel {
		case event.ZeekDNS:
			v, _ := e.Get("answers")
			assert.Equal(t, p.Resolver["pastebin.com"].IP, v, "arrays come back as rendered")
			assert.Equal(t, in.Observations[0].Time, e.TimeCreated)
		case event.ProxyChannel:
			v, _ := e.Get("cs-bytes")
			assert.Equal(t, "5200", v)
		}
	}
	assert.Equal(t, map[string]int{event.ProxyChannel: 1, event.ZeekConn: 1, event.ZeekDNS: 1, event.ZeekHTTP: 1, event.ZeekSSL: 1}, byCh)
}
