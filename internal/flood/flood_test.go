package flood

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	ok := func(name, sum string) Upload { return Upload{Name: name, Status: 201, SHA256: sum} }
	ups := []Upload{ok("f-0.txt", "a"), ok("f-1.txt", "b"), {Name: "f-2.txt", Error: "reset", SHA256: "c"}, {Name: "f-3.txt", Status: 500, SHA256: "d"}}
	tests := []struct {
		name      string
		delivered []Delivery
		want      Tally
	}{
		{"all delivered", []Delivery{{"f/f-0.txt", "a"}, {"f-1.txt", "b"}}, Tally{Failures: 2}},
		{"one accepted but never delivered", []Delivery{{"f-0.txt", "a"}}, Tally{Failures: 2, Lost: 1}},
		{"stored though the client saw it fail", []Delivery{{"f-0.txt", "a"}, {"f-1.txt", "b"}, {"f-2.txt", "c"}}, Tally{Failures: 2, Lost: 1}},
		{"other bytes", []Delivery{{"f-0.txt", "a"}, {"f-1.txt", "x"}}, Tally{Failures: 2, Corrupt: 1}},
		{"delivered twice", []Delivery{{"f-0.txt", "a"}, {"f-0.txt", "a"}, {"f-1.txt", "b"}}, Tally{Failures: 2, Duplicate: 1}},
		{"others' files ignored", []Delivery{{"f-0.txt", "a"}, {"f-1.txt", "b"}, {"g-0.txt", "z"}}, Tally{Failures: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Check(ups, tt.delivered))
		})
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ups []Upload
	for i := 100; i >= 1; i-- {
		ups = append(ups, Upload{Latency: time.Duration(i) * time.Millisecond})
	}
	p50, p95 := Percentiles(ups)
	assert.Equal(t, 51*time.Millisecond, p50)
	assert.Equal(t, 96*time.Millisecond, p95)
	p50, p95 = Percentiles(nil)
	assert.Zero(t, p50+p95)
}

// TestRunSendsWhatItRecords decodes every request of a flood as GitHub
// would (base64 Contents, gist text) and hashes the file: what the flood
// records as sent is what went on the wire, each file named once.
func TestRunSendsWhatItRecords(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []Delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Content string
			Files   map[string]struct{ Content string }
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var d Delivery
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/repos/o/r"):
			raw, err := base64.StdEncoding.DecodeString(body.Content)
			if err != nil {
				http.Error(w, "not base64", http.StatusUnprocessableEntity)
				return
			}
			d = Delivery{Name: path.Base(r.URL.Path), SHA256: hash(raw)}
		case r.Method == http.MethodPost && r.URL.Path == "/gists" && len(body.Files) == 1:
			for name, f := range body.Files {
				d = Delivery{Name: name, SHA256: hash([]byte(f.Content))}
			}
		default:
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	res := Run(context.Background(), srv.Client(), srv.URL, "t", 20)
	require.Len(t, res.Uploads, 20)
	methods := map[string]int{}
	for _, u := range res.Uploads {
		assert.True(t, u.OK(), "%s: %d %s", u.Name, u.Status, u.Error)
		methods[u.Method]++
	}
	assert.Equal(t, map[string]int{"PUT": 10, "POST": 10}, methods)
	assert.Equal(t, Tally{}, Check(res.Uploads, got))
	assert.Positive(t, res.Elapsed)
}

func TestCount(t *testing.T) {
	t.Setenv("HARNESS_FLOOD_N", "")
	assert.Equal(t, 1000, Count())
	t.Setenv("HARNESS_FLOOD_N", "200")
	assert.Equal(t, 200, Count())
	t.Setenv("HARNESS_FLOOD_N", "-3")
	assert.Equal(t, 1000, Count())
}
