package elastic

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/validate/core"
)

// BenchmarkCommonWebservices runs the largest reference EQL rule (90
// wildcard domains, 19 excluded paths, 15 signer exclusions) over 1000
// Elastic Defend DNS documents.
func BenchmarkCommonWebservices(b *testing.B) {
	dir, ok := reftest.Lookup(b, "elastic")
	if !ok {
		b.Skipf("no reference corpus at %s", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "command_and_control_common_webservices.toml"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := Load("command_and_control_common_webservices.toml", data)
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"api.github.com", "www.microsoft.com", "raw.githubusercontent.com", "example.org"}
	docs := make([]core.Doc, 1000)
	for i := range docs {
		docs[i] = core.FlattenDoc(map[string]any{
			"event":       map[string]any{"category": []any{"network"}},
			"data_stream": map[string]any{"type": "logs", "dataset": "endpoint.events.network", "namespace": "default"},
			"host":        map[string]any{"os": map[string]any{"type": "windows"}},
			"dns":         map[string]any{"question": map[string]any{"name": names[i%len(names)]}},
			"process": map[string]any{"name": "curl.exe", "executable": fmt.Sprintf(`C:\Users\u%d\curl.exe`, i),
				"code_signature": map[string]any{"subject_name": "Microsoft Windows", "trusted": true}},
			"user": map[string]any{"id": "S-1-5-21-1", "domain": "CORP"},
		})
	}
	b.ResetTimer()
	for range b.N {
		if n := len(r.Run(docs)); n != 500 {
			b.Fatalf("%d alerts, want 500", n)
		}
	}
}
