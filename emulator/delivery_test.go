package emulator

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brokenWriter is a client gone before its answer: every write fails.
type brokenWriter struct{ header http.Header }

func (b *brokenWriter) Header() http.Header       { return b.header }
func (b *brokenWriter) WriteHeader(int)           {}
func (b *brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
func (b *brokenWriter) FlushError() error         { return errors.New("broken pipe") }

func TestUploadIsDeliveredOnlyOnceAnswered(t *testing.T) {
	tests := []struct {
		name        string
		w           http.ResponseWriter
		undelivered bool
	}{
		{"answered", httptest.NewRecorder(), false},
		{"answer lost", &brokenWriter{header: http.Header{}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEmulator(t, Config{})
			req := httptest.NewRequest("POST", "https://api.github.com/gists", strings.NewReader(`{"files":{"a.txt":{"content":"b"}}}`))
			req.Header.Set("Authorization", "token x")
			e.Handler().ServeHTTP(tt.w, req)
			entries := e.Ledger().Entries()
			require.Len(t, entries, 1)
			assert.Equal(t, http.StatusCreated, entries[0].Status)
			assert.Len(t, entries[0].Files, 1, "what arrived is still recorded")
			assert.Equal(t, tt.undelivered, entries[0].Undelivered)
		})
	}
}
