package emulator

import (
	"bytes"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhooks(t *testing.T) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "loot.txt")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("pw=hunter2\n"))
	require.NoError(t, mw.Close())

	cases := []struct {
		name, host, path, contentType, body string
		wantStatus                          int
		wantBody                            string
		wantFiles                           []File
	}{
		{"discord file", "discord.com", "/api/webhooks/1/tok", mw.FormDataContentType(), form.String(), 204, "", []File{NewFile("loot.txt", []byte("pw=hunter2\n"))}},
		{"discord content, wait", "discord.com", "/api/webhooks/1/tok?wait=true", "application/json", `{"content":"pw"}`, 200, `"webhook_id": "1"`, []File{NewFile("content", []byte("pw"))}},
		{"discord empty", "discord.com", "/api/webhooks/1/tok", "application/json", `{}`, 400, "Cannot send an empty message", nil},
		{"discord unknown path", "discord.com", "/api/nope", "", "", 404, "404: Not Found", nil},
		{"slack text", "hooks.slack.com", "/services/T0/B0/tok", "application/json", `{"text":"pw=hunter2"}`, 200, "ok", []File{NewFile("text", []byte("pw=hunter2"))}},
		{"slack no text", "hooks.slack.com", "/services/T0/B0/tok", "application/json", `{}`, 400, "no_text", nil},
		{"slack bad json", "hooks.slack.com", "/services/T0/B0/tok", "application/json", `{`, 400, "invalid_payload", nil},
		{"teams card", "example.webhook.office.com", "/webhookb2/a@b/IncomingWebhook/c/d", "application/json", `{"text":"pw"}`, 200, "1", []File{NewFile("card", []byte(`{"text":"pw"}`))}},
		{"teams bad json", "example.webhook.office.com", "/webhookb2/a", "application/json", `nope`, 400, "Bad payload", nil},
	}
	e := newTestEmulator(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(e.Ledger().Entries())
			req := httptest.NewRequest("POST", "https://"+tc.host+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, req)
			assert.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.wantBody)
			entries := e.Ledger().Entries()[mark:]
			require.Len(t, entries, 1)
			assert.Equal(t, tc.host, entries[0].Host)
			assert.ElementsMatch(t, tc.wantFiles, entries[0].Files)
		})
	}
	for _, h := range []string{"discord.com", "hooks.slack.com", "example.webhook.office.com"} {
		assert.True(t, IsServedHost(h), h)
	}
}
