package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Channels of the network logs collected at the interception point: one
// web proxy log and Zeek's logs, each as its own channel ("zeek.conn").
const (
	ProxyChannel    = "proxy"
	ZeekChannelBase = "zeek."
	ZeekConn        = ZeekChannelBase + "conn"
	ZeekDNS         = ZeekChannelBase + "dns"
	ZeekHTTP        = ZeekChannelBase + "http"
	ZeekSSL         = ZeekChannelBase + "ssl"
)

// Providers of the network logs.
var (
	ProxyProvider = Provider{Name: "proxy"}
	ZeekProvider  = Provider{Name: "zeek"}
)

// IsNetwork reports whether channel is one of the network logs rather than
// a Windows event log.
func IsNetwork(channel string) bool {
	return channel == ProxyChannel || strings.HasPrefix(channel, ZeekChannelBase)
}

// ZeekLog is the log name of a Zeek channel ("conn" for "zeek.conn"), or
// "" for any other channel.
func ZeekLog(channel string) string {
	if log, ok := strings.CutPrefix(channel, ZeekChannelBase); ok {
		return log
	}
	return ""
}

// SplunkSource is the index and sourcetype Splunk gives a network log (the
// Splunk Add-ons for Squid and Zeek); ok is false for Windows channels.
func SplunkSource(channel string) (index, sourcetype string, ok bool) {
	if channel == ProxyChannel {
		return "proxy", "squid:access:json", true
	}
	if log := ZeekLog(channel); log != "" {
		return "zeek", "bro:" + log + ":json", true
	}
	return "", "", false
}

// RecognizeNetworkLog gives a JSON line read back without a Channel the
// channel of the network log it is a line of, by its fields: a proxy
// log line (telemetry.WriteProxyJSONL) or a Zeek log line (conn, dns, http or ssl,
// as telemetry.WriteZeekLine and Zeek itself write them). Its time comes from
// @timestamp or ts, and Zeek's arrays become comma-joined values, as
// rendered events hold them. Other lines are left as they are.
func RecognizeNetworkLog(e *Event) error {
	has := func(name string) bool { _, ok := e.Get(name); return ok }
	switch {
	case has("cs-method") && has("c-ip"):
		e.Channel, e.Provider = ProxyChannel, ProxyProvider
		if ts, ok := e.Get("@timestamp"); ok {
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return fmt.Errorf("@timestamp %q: %w", ts, err)
			}
			e.TimeCreated = t
		}
	case has("uid") && has("id.orig_h"):
		log := ""
		switch {
		case has("conn_state") || has("orig_bytes"):
			log = "conn"
		case has("query") || has("qtype_name"):
			log = "dns"
		case has("method") || has("status_code"):
			log = "http"
		case has("server_name") || has("cipher") || has("established"):
			log = "ssl"
		default:
			return nil
		}
		e.Channel, e.Provider = ZeekChannelBase+log, ZeekProvider
		if ts, ok := e.Get("ts"); ok {
			f, err := strconv.ParseFloat(ts, 64)
			if err != nil {
				return fmt.Errorf("ts %q: %w", ts, err)
			}
			e.TimeCreated = time.UnixMicro(int64(f * 1e6)).UTC()
		}
		for i, f := range e.Data {
			var list []string
			if strings.HasPrefix(f.Value, "[") && json.Unmarshal([]byte(f.Value), &list) == nil {
				e.Data[i].Value = strings.Join(list, ",")
			}
		}
	}
	return nil
}
