package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/sensor"
)

// pasteExchange is a curl upload to pastebin through the inspecting proxy,
// one refused CONNECT elsewhere and one DNS query, as the mock and the
// sensor record them.
func pasteExchange() Input {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return Input{
		RunID: "run-1",
		Ledger: []emulator.Entry{
			{Seq: 1, Time: t0, End: t0.Add(time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40001, Host: "pastebin.com",
				HTTPHost: "pastebin.com:443", Method: "CONNECT", Path: "pastebin.com:443", UserAgent: "curl/7.88.1",
				Status: 200, RequestBytes: 110, ResponseBytes: 39, ServerPort: 443},
			{Seq: 2, Time: t0.Add(20 * time.Millisecond), End: t0.Add(45 * time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40001,
				Host: "pastebin.com", SNI: "pastebin.com", HTTPHost: "pastebin.com", Method: "POST", Path: "/api/api_post.php?x=1",
				UserAgent: "curl/7.88.1", ContentType: "application/x-www-form-urlencoded", BytesReceived: 5000, Status: 200,
				RequestBytes: 5200, ResponseBytes: 180, ResponseBodyBytes: 29, ResponseContentType: "text/plain; charset=utf-8", ServerPort: 443},
			{Seq: 3, Kind: emulator.KindTLS, Time: t0.Add(2 * time.Millisecond), End: t0.Add(60 * time.Millisecond), ClientIP: "127.0.0.1",
				ClientPort: 40001, Host: "pastebin.com", SNI: "pastebin.com", RequestBytes: 6100, ResponseBytes: 2900,
				TLSVersion: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerPort: 443},
			{Seq: 4, Time: t0.Add(70 * time.Millisecond), End: t0.Add(70 * time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40002,
				Host: "example.com", HTTPHost: "example.com:443", Method: "CONNECT", Path: "example.com:443", Status: 403, Refused: true,
				RequestBytes: 100, ResponseBytes: 190, ResponseContentType: "text/plain; charset=utf-8", ServerPort: 443},
		},
		Observations: []sensor.Observation{
			{Kind: sensor.KindDNS, Time: t0.Add(-time.Millisecond), PID: 10, DNSName: "pastebin.com", DNSType: "A",
				LocalIP: "10.0.0.2", LocalPort: 53001, RemoteIP: "10.0.0.1", RemotePort: 53},
		},
	}
}

func TestProxyLogHasSigmaProxyFields(t *testing.T) {
	p := profile(t, "workstation")
	evs := RenderProxy(p, pasteExchange())
	require.Len(t, evs, 3, "both CONNECTs and the request inside the tunnel")
	for _, name := range []string{"c-uri", "c-uri-extension", "c-uri-query", "cs-host", "cs-method", "c-useragent",
		"cs-bytes", "sc-bytes", "sc-status", "c-ip", "r-dns", "cs-referrer"} {
		_, ok := evs[1].Get(name)
		assert.True(t, ok, "Sigma proxy field %s", name)
	}
	post := evs[1]
	assert.Equal(t, "https://pastebin.com/api/api_post.php?x=1", get(post, "c-uri"))
	assert.Equal(t, "php", get(post, "c-uri-extension"))
	assert.Equal(t, "x=1", get(post, "c-uri-query"))
	assert.Equal(t, "5200", get(post, "cs-bytes"))
	assert.Equal(t, "180", get(post, "sc-bytes"))
	assert.Equal(t, p.Host.IP, get(post, "c-ip"), "the client is the context's host, not the loopback the mock saw")
	assert.Equal(t, "TCP_DENIED", get(evs[2], "s-action"))
	assert.Equal(t, event.ProxyChannel, post.Channel)
	assert.Equal(t, "workstation", post.Context)

	var squid bytes.Buffer
	require.NoError(t, WriteSquidLog(&squid, evs))
	lines := strings.Split(strings.TrimSpace(squid.String()), "\n")
	require.Len(t, lines, 3)
	native := regexp.MustCompile(`^\d+\.\d{3} +\d+ \S+ [A-Z_]+/\d{3} \d+ [A-Z]+ \S+ - (HIER_DIRECT|HIER_NONE)/\S+ \S+$`)
	for _, l := range lines {
		assert.Regexp(t, native, l)
	}
	assert.Equal(t, "1772359200.020     25 10.20.50.142 TCP_MISS/200 180 POST https://pastebin.com/api/api_post.php?x=1 - HIER_DIRECT/"+
		p.Resolver["pastebin.com"].IP+" text/plain", lines[1])
}

// TestZeekLogsParseWithZeekTypes reads the written logs back as JSON and
// checks every column against the name and type of Zeek's documentation.
func TestZeekLogsParseWithZeekTypes(t *testing.T) {
	p := profile(t, "workstation")
	evs := RenderZeek(p, pasteExchange())
	dir := t.TempDir()
	require.NoError(t, WriteZeekLogs(dir, evs))
	counts := map[string]int{}
	for _, log := range []string{"conn", "dns", "http", "ssl"} {
		f, err := os.Open(filepath.Join(dir, log+".log"))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			counts[log]++
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&m))
			types := map[string]string{}
			for _, c := range ZeekSchemas[log] {
				types[c.Name] = c.Type
			}
			for _, req := range []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"} {
				assert.Contains(t, m, req, "%s.log", log)
			}
			for k, v := range m {
				if strings.HasPrefix(k, "harness_") {
					continue
				}
				typ, ok := types[k]
				require.True(t, ok, "%s.log has no column %s", log, k)
				assertZeekType(t, log+"."+k, typ, v)
			}
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	assert.Equal(t, map[string]int{"conn": 1, "dns": 1, "http": 1, "ssl": 1}, counts, "the refused CONNECT never reached TLS")

	conn := byChannel(evs, event.ZeekConn)[0]
	assert.Equal(t, "6100", get(conn, "orig_bytes"), "the TLS record bytes the client sent")
	assert.Equal(t, "2900", get(conn, "resp_bytes"))
	assert.Equal(t, "0.058000", get(conn, "duration"))
	assert.Equal(t, get(conn, "uid"), get(byChannel(evs, event.ZeekHTTP)[0], "uid"), "http.log shares the connection's uid")
	assert.Equal(t, "TLSv13", get(byChannel(evs, event.ZeekSSL)[0], "version"))
	assert.Equal(t, "false", get(byChannel(evs, event.ZeekSSL)[0], "resumed"))
	resumed := pasteExchange()
	resumed.Ledger[2].TLSResumed = true
	assert.Equal(t, "true", get(byChannel(RenderZeek(p, resumed), event.ZeekSSL)[0], "resumed"), "as the mock saw the handshake")
	assert.Equal(t, "5000", get(byChannel(evs, event.ZeekHTTP)[0], "request_body_len"))
	assert.Equal(t, "NOERROR", get(byChannel(evs, event.ZeekDNS)[0], "rcode_name"))
}

func assertZeekType(t *testing.T, name, typ string, v any) {
	t.Helper()
	switch {
	case typ == "time" || typ == "interval":
		_, err := v.(json.Number).Float64()
		assert.NoError(t, err, name)
	case typ == "count" || typ == "port":
		n, ok := v.(json.Number)
		require.True(t, ok, "%s: %T", name, v)
		_, err := n.Int64()
		assert.NoError(t, err, "%s is an integer", name)
	case typ == "bool":
		assert.IsType(t, true, v, name)
	case strings.HasPrefix(typ, "vector[") || strings.HasPrefix(typ, "set["):
		assert.IsType(t, []any{}, v, name)
	default:
		assert.IsType(t, "", v, name)
	}
}

func byChannel(evs []event.Event, ch string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Channel == ch {
			out = append(out, e)
		}
	}
	return out
}

// TestZeekDNSPortFromConnectedSocket: a query sent on a connected UDP
// socket carries no local port; dns.log takes the port of that socket's
// connect, so the query joins the process that made it.
func TestZeekDNSPortFromConnectedSocket(t *testing.T) {
	p := profile(t, "workstation")
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := Input{RunID: "run-1", Observations: []sensor.Observation{
		{Kind: sensor.KindConnect, Time: t0, PID: 7, Proto: "udp", LocalIP: "10.0.0.2", LocalPort: 41234, RemoteIP: "127.0.0.11", RemotePort: 53, Result: sensor.ResultOK},
		{Kind: sensor.KindDNS, Time: t0.Add(time.Millisecond), PID: 7, DNSName: "pastebin.com", DNSType: "AAAA", RemoteIP: "127.0.0.11", RemotePort: 53},
	}}
	evs := RenderZeek(p, in)
	require.Len(t, evs, 1)
	assert.Equal(t, "41234", get(evs[0], "id.orig_p"))
	assert.Equal(t, "28", get(evs[0], "qtype"))
	assert.Equal(t, "", get(evs[0], "answers"), "the resolver has an A record only")
	assert.Equal(t, []string{"obs-2"}, evs[0].Observations)
	assert.Regexp(t, `^C[0-9A-Za-z]{17}$`, get(evs[0], "uid"))
}

// TestZeekDNSFromTheSinkhole: in the sandbox every query reaches the DNS
// sinkhole, which records it with its answer; dns.log rests on those
// records (observed answers, NXDOMAIN included), once per query, and not
// on the sensor's copy of the same packets.
func TestZeekDNSFromTheSinkhole(t *testing.T) {
	p := profile(t, "workstation")
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := Input{RunID: "run-1",
		Observations: []sensor.Observation{
			{Kind: sensor.KindDNS, Time: t0, PID: 7, DNSName: "api.github.com", DNSType: "A", RemoteIP: "127.0.0.53", RemotePort: 53, LocalPort: 40001},
		},
		Ledger: []emulator.Entry{
			{Seq: 4, Kind: emulator.KindDNS, Time: t0, ClientIP: "127.0.0.1", ClientPort: 40001, DestIP: "127.0.0.53", DestPort: 53,
				Host: "api.github.com", DNS: &emulator.DNSQuery{Name: "api.github.com", Type: "A", Proto: "udp", Rcode: "NOERROR", Answers: []string{"140.82.112.6"}}},
			{Seq: 5, Kind: emulator.KindDNS, Time: t0.Add(time.Millisecond), ClientIP: "127.0.0.1", ClientPort: 40002, DestIP: "127.0.0.53", DestPort: 53,
				Host: "example.com", DNS: &emulator.DNSQuery{Name: "example.com", Type: "A", Proto: "udp", Rcode: "NXDOMAIN"}},
		}}
	evs := RenderZeek(p, in)
	require.Len(t, evs, 2)
	assert.Equal(t, "api.github.com", get(evs[0], "query"))
	assert.Equal(t, "140.82.112.6", get(evs[0], "answers"))
	assert.Equal(t, "40001", get(evs[0], "id.orig_p"))
	assert.Equal(t, "127.0.0.53", get(evs[0], "id.resp_h"))
	assert.Equal(t, []string{"ledger-4"}, evs[0].Observations)
	assert.Equal(t, []string{"id.orig_h"}, evs[0].ModelledFields)
	assert.Equal(t, "NXDOMAIN", get(evs[1], "rcode_name"))
	assert.Equal(t, "3", get(evs[1], "rcode"))
}
