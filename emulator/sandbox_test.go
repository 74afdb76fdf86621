package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testAddresses = map[string][]netip.Addr{
	"api.github.com":     {netip.MustParseAddr("140.82.112.6")},
	"github.com":         {netip.MustParseAddr("140.82.112.3"), netip.MustParseAddr("140.82.112.4")},
	"gist.github.com":    {netip.MustParseAddr("140.82.112.4")},
	"s3.amazonaws.com":   {netip.MustParseAddr("52.217.161.8")},
	"*.s3.amazonaws.com": {netip.MustParseAddr("52.217.161.8")},
}

func TestDNSSinkhole(t *testing.T) {
	e := newTestEmulator(t, Config{Addresses: testAddresses})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ServeDNS(ctx, pc, nil) }()
	defer func() { cancel(); assert.NoError(t, <-done) }()

	cases := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers []string
	}{
		{"api.github.com.", dns.TypeA, dns.RcodeSuccess, []string{"140.82.112.6"}},
		{"GitHub.com.", dns.TypeA, dns.RcodeSuccess, []string{"140.82.112.3", "140.82.112.4"}},
		{"api.github.com.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"example.com.", dns.TypeA, dns.RcodeNameError, nil},
		{"qz7k1x.invalid.", dns.TypeA, dns.RcodeNameError, nil},
		// A bucket name is answered by the wildcard, one label deep only.
		{"loot.s3.amazonaws.com.", dns.TypeA, dns.RcodeSuccess, []string{"52.217.161.8"}},
		{"a.loot.s3.amazonaws.com.", dns.TypeA, dns.RcodeNameError, nil},
	}
	c := &dns.Client{Net: "udp"}
	for _, tc := range cases {
		t.Run(tc.name+dns.TypeToString[tc.qtype], func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion(tc.name, tc.qtype)
			r, _, err := c.Exchange(m, pc.LocalAddr().String())
			require.NoError(t, err)
			assert.Equal(t, tc.rcode, r.Rcode)
			var got []string
			for _, rr := range r.Answer {
				got = append(got, rr.(*dns.A).A.String())
			}
			assert.Equal(t, tc.answers, got)
		})
	}
	entries := e.Ledger().Entries()
	require.Len(t, entries, len(cases))
	for i, tc := range cases {
		en := entries[i]
		assert.Equal(t, KindDNS, en.Kind)
		assert.False(t, en.IsRequest())
		assert.Equal(t, strings.ToLower(strings.TrimSuffix(tc.name, ".")), en.DNS.Name)
		assert.Equal(t, dns.TypeToString[tc.qtype], en.DNS.Type)
		assert.Equal(t, dns.RcodeToString[tc.rcode], en.DNS.Rcode)
		assert.Equal(t, tc.answers, en.DNS.Answers)
		assert.Equal(t, "127.0.0.1", en.ClientIP)
		assert.NotZero(t, en.ClientPort)
		assert.Equal(t, pc.LocalAddr().(*net.UDPAddr).Port, en.DestPort)
	}
}

func TestHostAt(t *testing.T) {
	e := newTestEmulator(t, Config{Addresses: testAddresses})
	assert.Equal(t, "github.com", e.hostAt("140.82.112.4"))
	assert.Equal(t, "api.github.com", e.hostAt("140.82.112.6"))
	assert.Equal(t, "", e.hostAt("1.1.1.1"))
	assert.Equal(t, "s3.amazonaws.com", e.hostAt("52.217.161.8"), "never a wildcard")
}

func TestMaskSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"/user?access_token=ghp_abc&x=1": "/user?access_token=***&x=1",
		"/a?PRIVATE_TOKEN=glpat-x":       "/a?PRIVATE_TOKEN=***",
		"/a?tok=1":                       "/a?tok=1",
		"/plain":                         "/plain",
	} {
		assert.Equal(t, want, MaskSecrets(in), in)
	}
}

// do sends one request to host through the emulator's handler.
func do(t *testing.T, e *Emulator, method, host, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "https://"+host+path, strings.NewReader(body))
	r.Header.Set("Authorization", "token ghp_fake")
	w := httptest.NewRecorder()
	e.Handler().ServeHTTP(w, r)
	return w
}

func TestReadBack(t *testing.T) {
	e := newTestEmulator(t, Config{})
	secret := "pw=hunter2\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	require.Equal(t, 201, do(t, e, "PUT", "api.github.com", "/repos/o/r/contents/loot/a.txt", `{"message":"m","content":"`+b64+`"}`).Code)

	w := do(t, e, "GET", "api.github.com", "/repos/o/r/contents/loot/a.txt", "")
	require.Equal(t, 200, w.Code, w.Body.String())
	var got struct{ Content, Encoding, SHA string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	data, err := base64.StdEncoding.DecodeString(got.Content)
	require.NoError(t, err)
	assert.Equal(t, secret, string(data))
	assert.Equal(t, gitBlobSHA([]byte(secret)), got.SHA)

	w = do(t, e, "GET", "raw.githubusercontent.com", "/o/r/main/loot/a.txt", "")
	assert.Equal(t, secret, w.Body.String())
	assert.Equal(t, 404, do(t, e, "GET", "raw.githubusercontent.com", "/o/r/main/nope", "").Code)
	assert.Equal(t, 404, do(t, e, "GET", "api.github.com", "/repos/o/r/contents/loot/a.txt?ref=--upload-pack", "").Code)

	w = do(t, e, "POST", "api.github.com", "/gists", `{"files":{"c.txt":{"content":"`+strings.TrimSpace(secret)+`"}}}`)
	require.Equal(t, 201, w.Code)
	var g struct{ ID string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &g))
	w = do(t, e, "GET", "api.github.com", "/gists/"+g.ID, "")
	require.Equal(t, 200, w.Code)
	assert.Contains(t, w.Body.String(), `"content": "pw=hunter2"`)
	w = do(t, e, "GET", "gist.githubusercontent.com", "/exfil-operator/"+g.ID+"/raw/c.txt", "")
	assert.Equal(t, "pw=hunter2", w.Body.String())

	w = do(t, e, "POST", "api.github.com", "/repos/o/r/releases", `{"tag_name":"v1"}`)
	require.Equal(t, 201, w.Code)
	assert.Contains(t, w.Body.String(), "https://uploads.github.com/repos/o/r/releases/1001/assets")
	w = do(t, e, "POST", "uploads.github.com", "/repos/o/r/releases/1001/assets?name=dump.bin&access_token=ghp_x", secret)
	require.Equal(t, 201, w.Code, w.Body.String())
	last := e.Ledger().Entries()
	up := last[len(last)-1]
	assert.Equal(t, []File{NewFile("dump.bin", []byte(secret))}, up.Files)
	assert.Equal(t, "/repos/o/r/releases/1001/assets?name=dump.bin&access_token=***", up.Path)
}
