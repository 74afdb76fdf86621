package harness

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/telemetry"
)

// checkNetworkGolden compares the proxy log (JSON lines and Squid's
// format) and the Zeek logs rendered for one atomic under every context
// with testdata/golden/<GUID>.network.txt, normalized: times, ports, uids
// and byte counts differ between runs (a count is kept as zero or N).
func checkNetworkGolden(t *testing.T, guid string, events []event.Event) {
	t.Helper()
	var buf bytes.Buffer
	var proxy, squid bytes.Buffer
	require.NoError(t, telemetry.WriteProxyJSONL(&proxy, events))
	require.NoError(t, telemetry.WriteSquidLog(&squid, events))
	buf.WriteString("# proxy.jsonl\n")
	buf.Write(normalizeJSONLines(t, proxy.Bytes()))
	buf.WriteString("# access.log\n")
	buf.Write(sortLines(squidVolatile.ReplaceAllString(squid.String(), "TIME ELAPSED $1 $2 N")))
	dir := t.TempDir()
	require.NoError(t, telemetry.WriteZeekLogs(dir, events))
	// dns.log is left out: how many queries a resolver sends (A, AAAA,
	// retries) depends on timing; its shape is tested in telemetry.
	for _, log := range []string{"conn", "http", "ssl"} {
		data, err := os.ReadFile(filepath.Join(dir, log+".log"))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		buf.WriteString("# zeek/" + log + ".log\n")
		buf.Write(normalizeJSONLines(t, data))
	}
	path := filepath.Join("testdata", "golden", guid+".network.txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	assert.Equal(t, string(want), buf.String())
}

// squidVolatile: time, elapsed ms, client, action/code, reply bytes.
var squidVolatile = regexp.MustCompile(`(?m)^\d+\.\d{3}\s+\d+ (\S+) (\S+) \d+`)

var volatileKeys = map[string]string{
	"@timestamp": "TIME", "ts": "TIME", "uid": "UID", "id.orig_p": "PORT", "harness_run_id": "RUN",
	"harness_observations": "OBS", // sensor line numbers depend on scheduling
	"duration":             "DURATION", "time-taken": "DURATION", "cs-bytes": "N", "sc-bytes": "N", "orig_bytes": "N",
	"resp_bytes": "N", "request_body_len": "N", "response_body_len": "N",
}

func normalizeJSONLines(t *testing.T, data []byte) []byte {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		for k, v := range m {
			repl, ok := volatileKeys[k]
			if !ok {
				continue
			}
			if n, isNum := v.(float64); repl == "N" && isNum && n == 0 { // zero bytes stays visible
				continue
			}
			m[k] = repl
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return sortLines(strings.Join(out, "\n"))
}

func sortLines(s string) []byte {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
