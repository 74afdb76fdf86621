package sensor

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// dnsQuery builds a minimal query message for name/qtype.
func dnsQuery(name string, qtype uint16) []byte {
	msg := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		msg = append(msg, byte(len(l)))
		msg = append(msg, l...)
	}
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint16(msg, qtype)
	return binary.BigEndian.AppendUint16(msg, 1)
}

func TestParseDNSQuery(t *testing.T) {
	response := dnsQuery("example.com", 1)
	response[2] |= 0x80
	tests := []struct {
		name     string
		msg      []byte
		wantName string
		wantType string
		wantOK   bool
	}{
		{"A", dnsQuery("api.github.com", 1), "api.github.com", "A", true},
		{"AAAA", dnsQuery("example.com", 28), "example.com", "AAAA", true},
		{"HTTPS", dnsQuery("example.com", 65), "example.com", "HTTPS", true},
		{"unknown type", dnsQuery("example.com", 4242), "example.com", "TYPE4242", true},
		{"response", response, "", "", false},
		{"short", []byte{1, 2, 3}, "", "", false},
		{"truncated question", dnsQuery("example.com", 1)[:20], "", "", false},
		{"no question", append([]byte{0, 0, 1, 0, 0, 0}, make([]byte, 6)...), "", "", false},
		{"compression pointer", append([]byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0xc0, 0x0c, 0, 1, 0, 1), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, typ, ok := parseDNSQuery(tt.msg)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantName, name)
			assert.Equal(t, tt.wantType, typ)
		})
	}
}
