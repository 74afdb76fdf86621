package eql

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/validate/core"
)

func docs() []core.Doc {
	return []core.Doc{
		core.FlattenDoc(map[string]any{"@timestamp": "2026-01-01T00:00:00Z", "event": map[string]any{"category": []any{"process"}, "type": []any{"start"}},
			"process": map[string]any{"name": "cmd.exe", "pid": 2013.0, "entity_id": "A", "args": []any{"cmd.exe", "/c", "whoami"},
				"executable": `C:\Windows\System32\cmd.exe`, "command_line": "cmd.exe /c whoami"}}),
		core.FlattenDoc(map[string]any{"@timestamp": "2026-01-01T00:00:05Z", "event": map[string]any{"category": "file", "type": "creation"},
			"process": map[string]any{"entity_id": "A"}, "file": map[string]any{"name": "scrobj.dll", "path": `C:\tmp\scrobj.dll`}}),
		core.FlattenDoc(map[string]any{"@timestamp": "2026-01-01T00:00:20Z", "event": map[string]any{"category": "process", "type": "start"},
			"process": map[string]any{"name": "Regsvr32.EXE", "pid": 4.0, "entity_id": "B", "code_signature": map[string]any{"trusted": true}}}),
	}
}

// Cases follow the examples of Elastic's EQL syntax reference
// (www.elastic.co/guide/en/elasticsearch/reference/current/eql-syntax.html).
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name, q string
		want    [][]int
	}{
		{"== is case-sensitive", `process where process.name == "CMD.EXE"`, nil},
		{"== exact", `process where process.name == "cmd.exe"`, [][]int{{0}}},
		{": is case-insensitive", `process where process.name : "CMD.EXE"`, [][]int{{0}}},
		{": wildcard *", `process where process.name : "*.exe"`, [][]int{{0}, {2}}},
		{": wildcard ?", `process where process.name : "cm?.exe"`, [][]int{{0}}},
		{": list", `process where process.name : ("foo", "regsvr32.exe")`, [][]int{{2}}},
		{"like is case-sensitive", `process where process.name like "REG*"`, nil},
		{"like~", `process where process.name like~ "REG*"`, [][]int{{2}}},
		{"regex whole value", `process where process.name regex "cmd"`, nil},
		{"regex", `process where process.name regex "c.d\\.exe"`, [][]int{{0}}},
		{"regex~", `process where process.name regex~ "regsvr32\\.exe"`, [][]int{{2}}},
		{"in", `process where process.name in ("cmd.exe", "regsvr32.exe")`, [][]int{{0}}},
		{"in~", `process where process.name in~ ("cmd.exe", "regsvr32.exe")`, [][]int{{0}, {2}}},
		{"not in", `process where process.name not in ("cmd.exe")`, [][]int{{2}}},
		{"!=", `process where process.name != "cmd.exe"`, [][]int{{2}}},
		{"numbers", `process where process.pid > 1000`, [][]int{{0}}},
		{"null", `any where process.name == null`, [][]int{{1}}},
		{"not null", `any where process.name != null`, [][]int{{0}, {2}}},
		{"optional field", `process where ?process.parent.name == null and process.pid <= 4`, [][]int{{2}}},
		{"boolean", `process where process.code_signature.trusted == true`, [][]int{{2}}},
		{"multivalue args", `process where process.args : "/C"`, [][]int{{0}}},
		{"escaped backslashes", `process where process.executable : "?:\\Windows\\System32\\*.exe"`, [][]int{{0}}},
		{"raw string", `process where process.executable : """C:\Windows\System32\cmd.exe"""`, [][]int{{0}}},
		{"not and or", `process where not (process.name : "cmd.exe" or process.pid == 1)`, [][]int{{2}}},
		{"startsWith~", `process where startsWith~(process.name, "REG")`, [][]int{{2}}},
		{"stringContains", `any where stringContains(file.name, "obj")`, [][]int{{1}}},
		{"any where true", `any where true`, [][]int{{0}, {1}, {2}}},
		{"comment", "process where /* c */ process.pid == 4 // end", [][]int{{2}}},
		{"sequence by", `sequence by process.entity_id with maxspan=10s [process where true] [file where file.name : "scrobj.dll"]`, [][]int{{0, 1}}},
		{"sequence maxspan", `sequence by process.entity_id with maxspan=2s [process where true] [file where true]`, nil},
		{"sequence until", `sequence [process where process.pid > 1000] [process where true] until [file where true]`, nil},
		{"null join key drops the event", `sequence by process.code_signature.trusted [process where process.pid > 1000] [file where true]`, nil},
		{"optional join key may be null", `sequence by ?process.code_signature.trusted [process where process.pid > 1000] [file where true]`, [][]int{{0, 1}}},
		{"quoted category", `"process" where process.pid == 4`, [][]int{{2}}},
		{"backquoted field", "process where `process.pid` == 4", [][]int{{2}}},
		{"sequence no join", `sequence [process where process.pid > 1000] [process where true]`, [][]int{{0, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.q)
			require.NoError(t, err)
			var got [][]int
			for _, m := range q.Run(docs()) {
				got = append(got, m.Events)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ q, msg string }{
		{`process where process.name = "x"`, "eql: 1:28: use == to compare (or : for case-insensitive matching)\n  process where process.name = \"x\"\n                             ^"},
		{"process where\n  process.name : \"x", "eql: 2:18: unterminated string\n    process.name : \"x\n                   ^"},
		{`process where foo(process.name)`, "eql: 1:15: function foo() is not supported\n  process where foo(process.name)\n                ^"},
		{`process where true | head 1`, "eql: 1:20: pipes (| head, | tail, ...) are not supported\n  process where true | head 1\n                     ^"},
	} {
		_, err := Parse(c.q)
		var se *core.SyntaxError
		require.True(t, errors.As(err, &se), "%v", err)
		assert.Equal(t, c.msg, err.Error())
	}
}

func TestExplain(t *testing.T) {
	q, err := Parse(`process where process.name : "cmd.exe" and process.pid == 5`)
	require.NoError(t, err)
	got := q.Explain(docs())
	assert.Contains(t, got, "none of 2 process events match")
	assert.Contains(t, got, "FAIL process.pid == 5  [process.pid=2013]")
}

// A sequence over a long stream keeps only the partial sequences that can
// still complete: maxspan drops the others, and so does until.
func TestSequenceKeepsOnlyLivePartials(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	doc := func(i int, category, id string) core.Doc {
		return core.Doc{"@timestamp": core.StringValue(t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339)),
			"event.category": core.StringValue(category), "process.entity_id": core.StringValue(id)}
	}
	for _, c := range []struct {
		name, q string
		bound   int
	}{
		// Every event starts a partial sequence; 10 s hold 10 of them,
		// and a sweep comes every sweepEvery documents.
		{"maxspan", `sequence by process.entity_id with maxspan=10s [process where true] [network where true]`, 10 + sweepEvery},
		{"until", `sequence by process.entity_id [process where true] [network where true] until [file where true]`, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.q)
			require.NoError(t, err)
			matches := 0
			s := q.Stream(func(Match) { matches++ })
			peak := 0
			const n = 50_000
			for i := range n {
				id := strconv.Itoa(i)
				s.Push(doc(i, "process", id), 2*i)
				if c.name == "until" {
					s.Push(doc(i, "file", id), 2*i+1)
				}
				peak = max(peak, s.Held())
			}
			// One sequence at the very end completes.
			s.Push(doc(n, "process", "last"), 2*n)
			s.Push(doc(n, "network", "last"), 2*n+1)
			assert.Equal(t, 1, matches)
			assert.LessOrEqual(t, peak, c.bound, "partials held at once over %d process starts", n)
		})
	}
}
