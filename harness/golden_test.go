package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/telemetry"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenTelemetry renders each atomic's real run under every context
// and compares it, normalized, with testdata/golden/<atomic GUID>.jsonl.
// Regenerate with: go test ./harness -run TestGoldenTelemetry -update
func TestGoldenTelemetry(t *testing.T) {
	t.Parallel()
	run, err := RunLocal(context.Background(), baseOptions(t))
	require.NoError(t, err)
	profiles, err := Contexts(nil)
	require.NoError(t, err)
	for _, tr := range run.Tests {
		t.Run(tr.Test.Name, func(t *testing.T) {
			var all []event.Event
			for _, p := range profiles {
				evs, err := run.render(tr, p, "")
				require.NoError(t, err)
				all = append(all, evs...)
			}
			require.NotEmpty(t, all)
			var windows []event.Event
			for _, e := range all {
				if !event.IsNetwork(e.Channel) {
					windows = append(windows, e)
				}
			}
			checkNetworkGolden(t, tr.Test.GUID, all)
			assertXMLRoundTrip(t, windows)
			got := normalize(t, windows)
			path := filepath.Join("testdata", "golden", tr.Test.GUID+".jsonl")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create %s", path)
			assert.Equal(t, string(want), string(got))
		})
	}
}

var (
	// git's mkstemp names (tmp_obj_XXXXXX, .git\tXXXXXX), and object
	// folders named by hashes that include the commit's time.
	gitTemp    = regexp.MustCompile(`(tmp_obj_|\\t)[A-Za-z0-9]{6}$`)
	gitObjects = regexp.MustCompile(`\\objects\\[0-9a-f]{2}\\`)
	// A loose object read back is named by a hash that includes the time.
	gitObjectFile = regexp.MustCompile(`\\objects\\[0-9a-f]{2}\\[0-9a-f]{38}$`)
)

// normalize replaces what differs between runs (times, pids, GUIDs, ports,
// binary hashes, the run id) with stable names, and sorts the lines, so the
// goldens pin structure and content, not scheduling.
func normalize(t *testing.T, events []event.Event) []byte {
	t.Helper()
	names := map[string]string{} // ProcessGuid or pid -> stable process name
	for _, e := range events {
		if e.EventID != 1 {
			continue
		}
		img, _ := e.Get("Image")
		cmd, _ := e.Get("CommandLine")
		sum := sha256.Sum256([]byte(cmd))
		name := img[strings.LastIndex(img, `\`)+1:] + "#" + hex.EncodeToString(sum[:4]) + "@" + e.Computer
		guid, _ := e.Get("ProcessGuid")
		pid, _ := e.Get("ProcessId")
		names[guid], names["pid:"+e.Computer+":"+pid] = name, name
	}
	stable := func(e event.Event, field, v string) string {
		switch field {
		case "ProcessGuid", "ParentProcessGuid":
			if n, ok := names[v]; ok {
				return "{" + n + "}"
			}
			return "{parent}"
		case "ProcessId", "ParentProcessId", "NewProcessId":
			if n, ok := names["pid:"+e.Computer+":"+decimal(v)]; ok {
				return n
			}
			return "parent-pid"
		case "UtcTime", "CreationUtcTime":
			return "TIME"
		case "SourcePort":
			return "PORT"
		case "Hashes":
			return "HASHES"
		case "ScriptBlockId":
			return "{script-block}"
		case "HandleId":
			return "HANDLE" // numbered in the order of the reads
		case "ObjectName":
			return gitObjectFile.ReplaceAllString(v, `\objects\XX\OBJECT`)
		case "TargetFilename":
			v = gitObjects.ReplaceAllString(v, `\objects\XX\`)
			return gitTemp.ReplaceAllString(v, `${1}XXXXXX`)
		}
		return v
	}
	var lines []string
	for _, e := range events {
		if img, _ := e.Get("ProcessName"); e.EventID == 4663 && strings.HasSuffix(img, `\git.exe`) {
			// git re-reads a file whose index entry is racily clean (written
			// in the second it was staged): whether it does depends on timing.
			continue
		}
		m := map[string]any{"EventID": e.EventID, "Channel": e.Channel, "Computer": e.Computer, "Provider": e.Provider.Name}
		for _, f := range e.Data {
			if e.EventID == 4688 && f.Name == "ProcessId" {
				m[f.Name] = stable(e, "ParentProcessId", f.Value)
				continue
			}
			m[f.Name] = stable(e, f.Name, f.Value)
		}
		if e.EventID == 4104 {
			m["ExecutionProcessID"] = "powershell"
		}
		// What each event rests on; observation ids are positions in a
		// file whose order follows scheduling, so only their presence.
		m["harness_provenance"] = e.Provenance
		m["harness_context"] = e.Context
		m["harness_observed"] = len(e.Observations) > 0
		if len(e.ModelledFields) > 0 {
			m["harness_modelled_fields"] = e.ModelledFields
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// decimal turns a 4688 hex pid (0x1a4) into the decimal form Sysmon uses.
func decimal(v string) string {
	if h, ok := strings.CutPrefix(v, "0x"); ok {
		if n, err := strconv.ParseInt(h, 16, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return v
}

// assertXMLRoundTrip checks that events.xml keeps exactly the shape of real
// events (nothing of the harness in it) and that, with its provenance
// sidecar, it reads back as the events rendered.
func assertXMLRoundTrip(t *testing.T, events []event.Event) {
	t.Helper()
	var xml, side bytes.Buffer
	require.NoError(t, telemetry.WriteXML(&xml, events))
	require.NoError(t, telemetry.WriteProvenance(&side, events))
	assert.False(t, strings.Contains(xml.String(), "harness_"), "no harness field in events.xml")
	assert.False(t, strings.Contains(xml.String(), "obs-"), "no observation id in events.xml")
	back, err := telemetry.ReadEvents("events.xml", &xml)
	require.NoError(t, err)
	require.NoError(t, telemetry.ApplyProvenance("events.provenance.jsonl", &side, back))
	require.Len(t, back, len(events))
	for i := range events {
		want := events[i]
		want.TimeCreated = want.TimeCreated.Truncate(100 * time.Nanosecond) // a FILETIME's resolution
		assert.Equal(t, want, back[i])
	}
}
