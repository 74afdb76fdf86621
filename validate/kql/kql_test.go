package kql

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/validate/core"
)

func docs() []core.Doc {
	return []core.Doc{
		core.FlattenDoc(map[string]any{"http": map[string]any{"request": map[string]any{"method": "GET", "referrer": "https://example.com", "body": map[string]any{"content": "A null pointer exception"}},
			"response": map[string]any{"status_code": 200.0, "bytes": 5000.0}}}),
		core.FlattenDoc(map[string]any{"http": map[string]any{"request": map[string]any{"method": "POST"}, "response": map[string]any{"status_code": 400.0, "bytes": 15000.0}},
			"process": map[string]any{"code_signature": map[string]any{"trusted": false}}}),
		core.FlattenDoc(map[string]any{"http": map[string]any{"request": map[string]any{"method": "DELETE"}, "response": map[string]any{"status_code": 404.0, "bytes": 25000.0}}}),
	}
}

func textField(f string) bool { return f == "http.request.body.content" }

// Cases follow the examples of Kibana's KQL documentation
// (www.elastic.co/guide/en/kibana/current/kuery-query.html).
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name, q string
		want    []int
	}{
		{"term", `http.response.status_code:400`, []int{1}},
		{"unquoted value", `http.request.method: GET`, []int{0}},
		{"keyword is case-sensitive", `http.request.method: get`, nil},
		{"exists", `http.request.referrer: *`, []int{0}},
		{"phrase in text", `http.request.body.content: "null pointer"`, []int{0}},
		{"phrase order", `http.request.body.content: "pointer null"`, nil},
		{"unquoted words in text, any order", `http.request.body.content: pointer null`, []int{0}},
		{"terms query", `http.response.status_code:400 401 404`, []int{1, 2}},
		{"escaped keyword", `http.request.method: \or`, nil},
		{"value list", `http.request.method: (GET or POST or DELETE)`, []int{0, 1, 2}},
		{"OR upper case", `http.request.method: (GET OR POST)`, []int{0, 1}},
		{"range <", `http.response.bytes < 10000`, []int{0}},
		{"range and", `http.response.bytes > 10000 and http.response.bytes <= 20000`, []int{1}},
		{"wildcard", `http.response.status_code: 4*`, []int{1, 2}},
		{"wildcard in keyword", `http.request.method: *ST`, []int{1}},
		{"not", `NOT http.request.method: GET`, []int{1, 2}},
		{"or across fields", `http.request.method: GET OR http.response.status_code: 400`, []int{0, 1}},
		{"grouping", `(http.request.method: GET AND http.response.status_code: 200) OR (http.request.method: POST AND http.response.status_code: 400)`, []int{0, 1}},
		{"not inside list", `http.request.method: (not GET)`, []int{1, 2}},
		{"quoted special characters", `http.request.referrer: "https://example.com"`, []int{0}},
		{"escaped special characters", `http.request.referrer: https\://example.com`, []int{0}},
		{"boolean", `process.code_signature.trusted:false`, []int{1}},
		{"question mark is literal", `http.request.method: ?ET`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.q, Options{Text: textField})
			require.NoError(t, err)
			var got []int
			for i, d := range docs() {
				if q.Match(d) {
					got = append(got, i)
				}
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ q, msg string }{
		{`a:(b or c`, "kql: 1:10: expected \")\"\n  a:(b or c\n           ^"},
		{`a:"b`, "kql: 1:3: unterminated quoted string\n  a:\"b\n    ^"},
		{`just words`, "kql: 1:1: a value without a field (full-text search) is not supported; write field:value\n  just words\n  ^"},
		{``, "kql: 1:1: empty query\n  \n  ^"},
	} {
		_, err := Parse(c.q, Options{})
		var se *core.SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", c.q, err)
		assert.Equal(t, c.msg, err.Error())
	}
}

func TestExplain(t *testing.T) {
	q, err := Parse(`http.request.method:GET and http.response.status_code:404`, Options{})
	require.NoError(t, err)
	got := q.Explain(docs())
	assert.Contains(t, got, "meets 1 of 2 conditions")
	assert.Contains(t, got, "FAIL http.response.status_code:404")
}
