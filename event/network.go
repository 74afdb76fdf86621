package event

import "strings"

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
