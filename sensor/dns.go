package sensor

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// dnsTypeNames maps the common query types; others render as "TYPE<n>"
// (the RFC 3597 presentation form).
var dnsTypeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
	28: "AAAA", 33: "SRV", 35: "NAPTR", 43: "DS", 48: "DNSKEY", 52: "TLSA",
	64: "SVCB", 65: "HTTPS", 99: "SPF", 255: "ANY",
}

func dnsTypeName(t uint16) string {
	if n, ok := dnsTypeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// parseDNSQuery returns the first question of a DNS query message. It
// rejects responses and anything malformed rather than guessing, because the
// payload comes from an arbitrary program writing to port 53.
func parseDNSQuery(msg []byte) (name, qtype string, ok bool) {
	const headerLen = 12
	if len(msg) < headerLen {
		return "", "", false
	}
	if msg[2]&0x80 != 0 { // QR set: a response, not a query
		return "", "", false
	}
	if binary.BigEndian.Uint16(msg[4:6]) == 0 { // QDCOUNT
		return "", "", false
	}
	var b strings.Builder
	i := headerLen
	for {
		if i >= len(msg) {
			return "", "", false
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		// Compression pointers (0xC0) never appear in a first question;
		// 0x40/0x80 label types are obsolete.
		if l > 63 || i+l > len(msg) {
			return "", "", false
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(msg[i : i+l])
		i += l
		if b.Len() > 253 {
			return "", "", false
		}
	}
	if i+4 > len(msg) {
		return "", "", false
	}
	name = b.String()
	if name == "" {
		name = "."
	}
	return name, dnsTypeName(binary.BigEndian.Uint16(msg[i : i+2])), true
}
