package telemetry

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/sensor"
)

// ZeekField is one column of a Zeek log and its Zeek type, as Zeek's
// documentation of the log's Info record gives them (base/protocols/*/
// main.zeek): time, string, addr, port, enum, interval, count, bool,
// vector[string], set[string].
type ZeekField struct {
	Name, Type string
}

// ZeekSchemas are the columns the harness writes in each Zeek log, in
// Zeek's order. Columns a sensor at the interception point cannot know
// (packet counts) are left out, as Zeek leaves out unset optional fields.
var ZeekSchemas = map[string][]ZeekField{
	"conn": {
		{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
		{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"proto", "enum"}, {"service", "string"},
		{"duration", "interval"}, {"orig_bytes", "count"}, {"resp_bytes", "count"},
		{"conn_state", "string"}, {"local_orig", "bool"}, {"local_resp", "bool"},
		{"missed_bytes", "count"}, {"history", "string"},
	},
	"dns": {
		{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
		{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"proto", "enum"},
		{"query", "string"}, {"qclass", "count"}, {"qclass_name", "string"},
		{"qtype", "count"}, {"qtype_name", "string"}, {"rcode", "count"}, {"rcode_name", "string"},
		{"AA", "bool"}, {"TC", "bool"}, {"RD", "bool"}, {"RA", "bool"}, {"Z", "count"},
		{"answers", "vector[string]"}, {"rejected", "bool"},
	},
	"http": {
		{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
		{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"trans_depth", "count"},
		{"method", "string"}, {"host", "string"}, {"uri", "string"}, {"referrer", "string"},
		{"version", "string"}, {"user_agent", "string"}, {"request_body_len", "count"},
		{"response_body_len", "count"}, {"status_code", "count"}, {"status_msg", "string"},
		{"tags", "set[enum]"}, {"resp_mime_types", "vector[string]"},
	},
	"ssl": {
		{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
		{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"version", "string"}, {"cipher", "string"},
		{"server_name", "string"}, {"resumed", "bool"}, {"established", "bool"},
		{"sni_matches_cert", "bool"},
	},
}

// RenderZeek renders one test as the Zeek logs of a sensor at the
// interception point in front of host context p: conn.log and ssl.log from
// the mock's TLS connection summaries, http.log from the requests inside
// them (the mock terminates TLS, as an inspecting proxy does), dns.log from
// the queries the sandbox's DNS sinkhole answered (or, without the sandbox,
// those the sensor saw the processes send). Addresses are the
// profile's: the host's IP, and the destination its resolver gives.
func RenderZeek(p *Profile, in Input) []event.Event {
	z := zeekRenderer{p: p, in: in, uids: map[int]string{}, depth: map[int]int{}}
	for _, e := range in.Ledger {
		if e.Kind == emulator.KindTLS {
			z.uids[e.ClientPort] = z.uid("conn", e.ClientPort, e.Time)
		}
	}
	var out []event.Event
	sinkhole := false
	for _, e := range in.Ledger {
		switch {
		case e.Kind == emulator.KindTLS:
			out = append(out, z.conn(e), z.ssl(e))
		case e.Kind == emulator.KindDNS && e.DNS != nil:
			// The sandbox's resolver answered it: the query and its answer
			// are both observed.
			sinkhole = true
			out = append(out, z.dns(z.sinkholeDNS(e)))
		case e.IsRequest() && e.Method != "CONNECT" && !e.Refused:
			if ev, ok := z.http(e); ok {
				out = append(out, ev)
			}
		}
	}
	if sinkhole {
		// Every query went to the sinkhole, which recorded it with its
		// answer; the sensor's view of the same packets adds nothing.
		return out
	}
	dnsPort := map[[2]string]int{} // pid and resolver -> the local port of its socket
	for i, o := range in.Observations {
		if o.Kind == sensor.KindConnect && o.Proto == "udp" && o.LocalPort != 0 {
			dnsPort[[2]string{strconv.Itoa(o.PID), o.RemoteIP}] = o.LocalPort
		}
		if o.Kind == sensor.KindDNS && o.DNSName != "" {
			if o.LocalPort == 0 {
				// A query sent on a connected socket: its port is the connect's.
				o.LocalPort = dnsPort[[2]string{strconv.Itoa(o.PID), o.RemoteIP}]
			}
			q := z.sensorDNS(o)
			q.observationIDs = []string{"obs-" + strconv.Itoa(i+1)} // as the Windows renderer names it
			out = append(out, z.dns(q))
		}
	}
	return out
}

type zeekRenderer struct {
	p     *Profile
	in    Input
	uids  map[int]string // client port -> uid of its connection
	depth map[int]int    // client port -> requests seen on it
}

// uid is a Zeek-shaped connection uid ("C" and 17 base62 digits), stable
// for a run, context and connection.
func (z *zeekRenderer) uid(kind string, port int, t time.Time) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%s/%d/%d", z.in.RunID, z.p.Name, kind, port, t.UnixNano()))
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := []byte{'C'}
	for _, c := range sum[:17] {
		b = append(b, digits[int(c)%len(digits)])
	}
	return string(b)
}

func (z *zeekRenderer) respIP(host string) string {
	if res, ok := z.p.Resolver[host]; ok {
		return res.IP
	}
	return "0.0.0.0"
}

func (z *zeekRenderer) id(clientPort int, host string, port int) []event.Field {
	return []event.Field{
		{Name: "id.orig_h", Value: z.p.Host.IP},
		{Name: "id.orig_p", Value: strconv.Itoa(clientPort)},
		{Name: "id.resp_h", Value: z.respIP(host)},
		{Name: "id.resp_p", Value: strconv.Itoa(port)},
	}
}

// respPort is the port the client dialled: the sandbox's or a container
// alias's, or 443 behind the CONNECT proxy (the only port it tunnels).
func respPort(e emulator.Entry) int {
	if e.DestPort != 0 {
		return e.DestPort
	}
	return 443
}

func zeekTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

func (z *zeekRenderer) head(ts time.Time, uid string, clientPort int, host string, port int) []event.Field {
	return append([]event.Field{{Name: "ts", Value: zeekTime(ts)}, {Name: "uid", Value: uid}}, z.id(clientPort, host, port)...)
}

func (z *zeekRenderer) conn(e emulator.Entry) event.Event {
	end := e.End
	if end.IsZero() {
		end = e.Time
	}
	state, history := "SF", "ShADadFf"
	if e.TLSVersion == "" {
		state, history = "RSTR", "ShADadR" // the handshake failed and the mock hung up
	}
	data := append(z.head(e.Time, z.uids[e.ClientPort], e.ClientPort, e.Host, respPort(e)),
		event.Field{Name: "proto", Value: "tcp"},
		event.Field{Name: "service", Value: "ssl"},
		event.Field{Name: "duration", Value: strconv.FormatFloat(end.Sub(e.Time).Seconds(), 'f', 6, 64)},
		event.Field{Name: "orig_bytes", Value: strconv.FormatInt(e.RequestBytes, 10)},
		event.Field{Name: "resp_bytes", Value: strconv.FormatInt(e.ResponseBytes, 10)},
		event.Field{Name: "conn_state", Value: state},
		event.Field{Name: "local_orig", Value: "true"},
		event.Field{Name: "local_resp", Value: "false"},
		event.Field{Name: "missed_bytes", Value: "0"},
		event.Field{Name: "history", Value: history},
	)
	ev := netEvent(z.p, z.in, event.ZeekConn, event.ZeekProvider, e.Time, data)
	ev.Observations = []string{ledgerID(e)}
	// The addresses are the context's; the TCP flags were not seen.
	ev.ModelledFields = []string{"id.orig_h", "id.resp_h", "history", "conn_state"}
	return ev
}

// zeekTLSVersion is Zeek's name for a TLS version ("TLSv13").
func zeekTLSVersion(goName string) string {
	return strings.ReplaceAll(strings.ReplaceAll(goName, "TLS ", "TLSv"), ".", "")
}

func (z *zeekRenderer) ssl(e emulator.Entry) event.Event {
	data := append(z.head(e.Time, z.uids[e.ClientPort], e.ClientPort, e.Host, respPort(e)),
		event.Field{Name: "version", Value: zeekTLSVersion(e.TLSVersion)},
		event.Field{Name: "cipher", Value: e.Cipher},
		event.Field{Name: "server_name", Value: e.SNI},
		event.Field{Name: "resumed", Value: strconv.FormatBool(e.TLSResumed)},
		event.Field{Name: "established", Value: strconv.FormatBool(e.TLSVersion != "")},
		event.Field{Name: "sni_matches_cert", Value: strconv.FormatBool(e.SNI != "" && emulator.IsServedHost(e.SNI))},
	)
	ev := netEvent(z.p, z.in, event.ZeekSSL, event.ZeekProvider, e.Time, data)
	ev.Observations = []string{ledgerID(e)}
	ev.ModelledFields = []string{"id.orig_h", "id.resp_h"}
	return ev
}

func (z *zeekRenderer) http(e emulator.Entry) (event.Event, bool) {
	uid, ok := z.uids[e.ClientPort]
	if !ok {
		return event.Event{}, false
	}
	z.depth[e.ClientPort]++
	host := e.HTTPHost
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	mime, _, _ := strings.Cut(e.ResponseContentType, ";")
	data := append(z.head(e.Time, uid, e.ClientPort, e.Host, respPort(e)),
		event.Field{Name: "trans_depth", Value: strconv.Itoa(z.depth[e.ClientPort])},
		event.Field{Name: "method", Value: e.Method},
		event.Field{Name: "host", Value: host},
		event.Field{Name: "uri", Value: e.Path},
		event.Field{Name: "referrer", Value: e.Referer},
		event.Field{Name: "version", Value: "1.1"},
		event.Field{Name: "user_agent", Value: e.UserAgent},
		event.Field{Name: "request_body_len", Value: strconv.FormatInt(e.BytesReceived, 10)},
		event.Field{Name: "response_body_len", Value: strconv.FormatInt(e.ResponseBodyBytes, 10)},
		event.Field{Name: "status_code", Value: strconv.Itoa(e.Status)},
		event.Field{Name: "status_msg", Value: http.StatusText(e.Status)},
		event.Field{Name: "tags", Value: ""},
		event.Field{Name: "resp_mime_types", Value: strings.TrimSpace(mime)},
	)
	ev := netEvent(z.p, z.in, event.ZeekHTTP, event.ZeekProvider, e.Time, data)
	ev.Observations = []string{ledgerID(e)}
	ev.ModelledFields = []string{"id.orig_h", "id.resp_h"}
	return ev, true
}

// qtypes are the DNS query types the sensor names.
var qtypes = map[string]int{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "HTTPS": 65}

// dnsQuery is one DNS question and answer as a sensor at the interception
// point sees it, whoever recorded it.
type dnsQuery struct {
	t              time.Time
	clientPort     int
	server         string
	serverPort     int
	proto          string
	name, qtype    string
	rcode          string // NOERROR, NXDOMAIN
	answers        []string
	modelled       []string // fields not observed
	observationIDs []string
}

// sensorDNS is a query the sensor saw a process send; the answer is what
// the profile's resolver says the name is.
func (z *zeekRenderer) sensorDNS(o sensor.Observation) dnsQuery {
	q := dnsQuery{
		t: o.Time, clientPort: o.LocalPort, server: firstNonEmpty(o.RemoteIP, "0.0.0.0"), serverPort: o.RemotePort,
		proto: "udp", name: o.DNSName, qtype: strings.ToUpper(firstNonEmpty(o.DNSType, "A")), rcode: "NXDOMAIN",
		modelled: []string{"id.orig_h", "rcode", "rcode_name", "answers", "id.resp_h"},
	}
	if res, ok := z.p.Resolver[o.DNSName]; ok {
		q.rcode = "NOERROR"
		if q.qtype == "A" {
			q.answers = []string{res.IP}
		}
	}
	return q
}

// sinkholeDNS is a query the sandbox's DNS sinkhole answered and recorded.
// The client's address is the profile's host (the sandbox's own is a
// namespace's loopback), so only id.orig_h is modelled.
func (z *zeekRenderer) sinkholeDNS(e emulator.Entry) dnsQuery {
	return dnsQuery{
		t: e.Time, clientPort: e.ClientPort, server: firstNonEmpty(e.DestIP, "0.0.0.0"), serverPort: e.DestPort,
		proto: e.DNS.Proto, name: e.DNS.Name, qtype: strings.ToUpper(firstNonEmpty(e.DNS.Type, "A")), rcode: e.DNS.Rcode,
		answers: e.DNS.Answers, modelled: []string{"id.orig_h"}, observationIDs: []string{ledgerID(e)},
	}
}

// rcodes are the DNS response codes by Zeek's names.
var rcodes = map[string]int{"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}

func (z *zeekRenderer) dns(q dnsQuery) event.Event {
	if q.serverPort == 0 {
		q.serverPort = 53
	}
	data := []event.Field{
		{Name: "ts", Value: zeekTime(q.t)},
		{Name: "uid", Value: z.uid("dns", q.clientPort, q.t)},
		{Name: "id.orig_h", Value: z.p.Host.IP},
		{Name: "id.orig_p", Value: strconv.Itoa(q.clientPort)},
		{Name: "id.resp_h", Value: q.server},
		{Name: "id.resp_p", Value: strconv.Itoa(q.serverPort)},
		{Name: "proto", Value: firstNonEmpty(q.proto, "udp")},
		{Name: "query", Value: q.name},
		{Name: "qclass", Value: "1"},
		{Name: "qclass_name", Value: "C_INTERNET"},
		{Name: "qtype", Value: strconv.Itoa(qtypes[q.qtype])},
		{Name: "qtype_name", Value: q.qtype},
		{Name: "rcode", Value: strconv.Itoa(rcodes[q.rcode])},
		{Name: "rcode_name", Value: q.rcode},
		{Name: "AA", Value: "false"},
		{Name: "TC", Value: "false"},
		{Name: "RD", Value: "true"},
		{Name: "RA", Value: "true"},
		{Name: "Z", Value: "0"},
		{Name: "answers", Value: strings.Join(q.answers, ",")},
		{Name: "rejected", Value: "false"},
	}
	ev := netEvent(z.p, z.in, event.ZeekDNS, event.ZeekProvider, q.t, data)
	ev.ModelledFields = q.modelled
	ev.Observations = q.observationIDs
	return ev
}

// WriteZeekLogs writes the Zeek events among events into dir as Zeek's
// JSON logs (conn.log, dns.log, http.log, ssl.log: one object per line,
// ts as epoch seconds, counts and ports as numbers, unset fields left
// out), each line with the run and context it belongs to. A log with no
// line is not written, as Zeek does not open an empty log.
func WriteZeekLogs(dir string, events []event.Event) error {
	files := map[string]*bufio.Writer{}
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	for i := range events {
		ev := &events[i]
		log := event.ZeekLog(ev.Channel)
		if log == "" {
			continue
		}
		w, ok := files[log]
		if !ok {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("zeek logs: %w", err)
			}
			f, err := os.Create(filepath.Join(dir, log+".log"))
			if err != nil {
				return fmt.Errorf("zeek logs: %w", err)
			}
			closers = append(closers, f)
			w = bufio.NewWriter(f)
			files[log] = w
		}
		if err := WriteZeekLine(w, ev); err != nil {
			return err
		}
	}
	for log, w := range files {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("zeek %s.log: %w", log, err)
		}
	}
	for _, f := range closers {
		if err := f.Close(); err != nil {
			return fmt.Errorf("zeek logs: %w", err)
		}
	}
	closers = nil
	return nil
}

// WriteZeekLine writes one Zeek event as a line of Zeek's JSON log, its
// values typed by the log's schema.
func WriteZeekLine(w io.Writer, ev *event.Event) error {
	log := event.ZeekLog(ev.Channel)
	schema, ok := ZeekSchemas[log]
	if !ok {
		return fmt.Errorf("zeek: no schema for log %q", log)
	}
	obj := make(orderedJSON, 0, len(schema)+3)
	for _, col := range schema {
		v, ok := ev.Get(col.Name)
		if !ok || v == "" && !strings.HasPrefix(col.Type, "set[") && !strings.HasPrefix(col.Type, "vector[") {
			continue
		}
		typed, err := zeekValue(col.Type, v)
		if err != nil {
			return fmt.Errorf("zeek %s.log field %s: %w", log, col.Name, err)
		}
		obj = append(obj, kv{col.Name, typed})
	}
	return append(obj, harnessKeys(ev)...).encode(w)
}

func zeekValue(typ, v string) (any, error) {
	switch {
	case typ == "time" || typ == "interval":
		return strconv.ParseFloat(v, 64)
	case typ == "count" || typ == "port":
		return strconv.ParseUint(v, 10, 64)
	case typ == "bool":
		return strconv.ParseBool(v)
	case strings.HasPrefix(typ, "vector[") || strings.HasPrefix(typ, "set["):
		if v == "" {
			return []string{}, nil
		}
		return strings.Split(v, ","), nil
	}
	return v, nil
}
