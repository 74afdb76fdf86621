package telemetry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
)

// RenderProxy renders the mock's ledger of one test as the web proxy log of
// an inspecting proxy in front of host context p: one line per CONNECT
// (TCP_TUNNEL, or TCP_DENIED when refused) and one per request inside the
// tunnel, with the client as the profile's host and the destination as the
// profile's resolver gives it. Byte counts are the ledger's wire counts.
func RenderProxy(p *Profile, in Input) []event.Event {
	var out []event.Event
	for _, e := range in.Ledger {
		if !e.IsRequest() {
			continue
		}
		ev := netEvent(p, in, event.ProxyChannel, event.ProxyProvider, e.Time, proxyData(p, e))
		ev.Observations = []string{ledgerID(e)}
		ev.ModelledFields = []string{"c-ip", "r-ip"}
		out = append(out, ev)
	}
	return out
}

func proxyData(p *Profile, e emulator.Entry) []event.Field {
	action := "TCP_MISS"
	uri, stem, query, ext := "", "", "", ""
	switch {
	case e.Refused:
		action = "TCP_DENIED"
	case e.Method == "CONNECT":
		action = "TCP_TUNNEL"
	}
	if e.Method == "CONNECT" || e.Path == "" || !strings.HasPrefix(e.Path, "/") {
		uri = e.Path
	} else {
		u, err := url.ParseRequestURI(e.Path)
		if err == nil {
			stem, query = u.EscapedPath(), u.RawQuery
		} else {
			stem = e.Path
		}
		uri = "https://" + e.Host + e.Path
		ext = strings.TrimPrefix(path.Ext(path.Base(stem)), ".")
	}
	rip := "-"
	if res, ok := p.Resolver[e.Host]; ok && !e.Refused {
		rip = res.IP
	}
	var taken int64
	if !e.End.IsZero() {
		taken = e.End.Sub(e.Time).Milliseconds()
	}
	return []event.Field{
		{Name: "c-ip", Value: p.Host.IP},
		{Name: "cs-method", Value: e.Method},
		{Name: "c-uri", Value: uri},
		{Name: "c-uri-stem", Value: stem},
		{Name: "c-uri-query", Value: query},
		{Name: "c-uri-extension", Value: ext},
		{Name: "cs-host", Value: e.Host},
		{Name: "cs-version", Value: "HTTP/1.1"},
		{Name: "c-useragent", Value: e.UserAgent},
		{Name: "cs-referrer", Value: e.Referer},
		{Name: "cs-content-type", Value: e.ContentType},
		{Name: "cs-bytes", Value: strconv.FormatInt(e.RequestBytes, 10)},
		{Name: "sc-bytes", Value: strconv.FormatInt(e.ResponseBytes, 10)},
		{Name: "sc-status", Value: strconv.Itoa(e.Status)},
		{Name: "s-action", Value: action},
		{Name: "time-taken", Value: strconv.FormatInt(taken, 10)},
		{Name: "r-dns", Value: e.Host},
		{Name: "r-ip", Value: rip},
		{Name: "rs-content-type", Value: e.ResponseContentType},
	}
}

// ledgerID names the ledger entry an event rests on, as the Windows
// renderer does.
func ledgerID(e emulator.Entry) string { return "ledger-" + strconv.FormatInt(e.Seq, 10) }

// netEvent is one network log line as an event of host context p.
func netEvent(p *Profile, in Input, channel string, prov event.Provider, t time.Time, data []event.Field) event.Event {
	ev := event.Event{
		Provider: prov, Channel: channel, TimeCreated: t.UTC(), Data: data, RunID: in.RunID,
		Provenance: event.Observed, Context: p.Name,
	}
	if in.Merge != "" {
		ev.Provenance = event.Simulated
	}
	return ev
}

// WriteProxyJSONL writes the proxy events among events as JSON lines: the
// time, the run and context, then the log's fields, counts as numbers.
func WriteProxyJSONL(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriter(w)
	for i := range events {
		ev := &events[i]
		if ev.Channel != event.ProxyChannel {
			continue
		}
		obj := append(orderedJSON{{"@timestamp", ev.TimeCreated.Format(time.RFC3339Nano)}}, harnessKeys(ev)...)
		for _, f := range ev.Data {
			switch f.Name {
			case "cs-bytes", "sc-bytes", "sc-status", "time-taken":
				n, err := strconv.ParseInt(f.Value, 10, 64)
				if err != nil {
					return fmt.Errorf("proxy event %s=%q: %w", f.Name, f.Value, err)
				}
				obj = append(obj, kv{f.Name, n})
			default:
				obj = append(obj, kv{f.Name, f.Value})
			}
		}
		if err := obj.encode(bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteSquidLog writes the proxy events among events in Squid's native
// access.log format:
//
//	time elapsed client action/code bytes method URL user hierarchy/peer type
func WriteSquidLog(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriter(w)
	for i := range events {
		ev := &events[i]
		if ev.Channel != event.ProxyChannel {
			continue
		}
		get := func(name string) string {
			v, _ := ev.Get(name)
			if v == "" {
				return "-"
			}
			return v
		}
		status, _ := strconv.Atoi(get("sc-status"))
		hier := "HIER_DIRECT/" + get("r-ip")
		if get("r-ip") == "-" {
			hier = "HIER_NONE/-"
		}
		ct, _, _ := strings.Cut(get("rs-content-type"), ";")
		t := ev.TimeCreated
		if _, err := fmt.Fprintf(bw, "%d.%03d %6s %s %s/%03d %s %s %s - %s %s\n",
			t.Unix(), t.Nanosecond()/1e6, get("time-taken"), get("c-ip"), get("s-action"), status,
			get("sc-bytes"), get("cs-method"), get("c-uri"), hier, strings.TrimSpace(ct)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// harnessKeys are the run, provenance and context keys a network log line
// carries besides the log's own fields, named as in events.jsonl.
func harnessKeys(ev *event.Event) orderedJSON {
	var obj orderedJSON
	if ev.RunID != "" {
		obj = append(obj, kv{jsonRunID, ev.RunID})
	}
	if ev.Provenance != "" {
		obj = append(obj, kv{jsonProvenance, string(ev.Provenance)})
	}
	if len(ev.Observations) > 0 {
		obj = append(obj, kv{jsonObservations, ev.Observations})
	}
	if len(ev.ModelledFields) > 0 {
		obj = append(obj, kv{jsonModelled, ev.ModelledFields})
	}
	if ev.Context != "" {
		obj = append(obj, kv{jsonContext, ev.Context})
	}
	return obj
}

type kv struct {
	k string
	v any
}

// orderedJSON is a JSON object written with its keys in order.
type orderedJSON []kv

func (o orderedJSON) encode(w io.Writer) error {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.k)
		if err != nil {
			return err
		}
		v, err := marshalNoEscape(f.v)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.k, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func marshalNoEscape(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
