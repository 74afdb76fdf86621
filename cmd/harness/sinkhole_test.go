package main

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
)

// TestSinkholeAnswers: --dns-answer table answers each served host with its
// real service's addresses (container mode, like the local sandbox); an
// address answers every served host with that one.
func TestSinkholeAnswers(t *testing.T) {
	for _, tc := range []struct {
		answer string
		host   string
		want   []netip.Addr
	}{
		{"table", "api.github.com", []netip.Addr{netip.MustParseAddr("140.82.112.6")}},
		{"table", "github.com", []netip.Addr{netip.MustParseAddr("140.82.112.3"), netip.MustParseAddr("140.82.112.4")}},
		{"table", "gitlab.com", []netip.Addr{netip.MustParseAddr("172.65.251.78")}},
		{"192.0.2.9", "api.github.com", []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
	} {
		t.Run(tc.answer+"/"+tc.host, func(t *testing.T) {
			got, err := sinkholeAnswers(tc.answer)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got[tc.host])
			for _, h := range emulator.ServedHosts() {
				assert.NotEmpty(t, got[h], "served host %s has an answer", h)
			}
		})
	}
	_, err := sinkholeAnswers("not-an-address")
	assert.Error(t, err)
}
