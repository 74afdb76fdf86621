package esql

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/validate/core"
)

func index(d core.Doc) string {
	ds, _ := d.Get("data_stream.dataset").Text()
	return "logs-" + ds + "-default"
}

func clones(n int, user string) []core.Doc {
	var out []core.Doc
	for i := range n {
		out = append(out, core.FlattenDoc(map[string]any{
			"data_stream": map[string]any{"dataset": "github.audit"},
			"event":       map[string]any{"action": "git.clone", "type": []any{"change", "access"}},
			"github":      map[string]any{"repo": fmt.Sprintf("acme/r%d", i%3), "reasons": map[string]any{"code": []any{"force_push", "x"}}},
			"user":        map[string]any{"name": user},
		}))
	}
	return out
}

const cloneQuery = `from logs-github.audit-* metadata _id, _index, _version
| where
  data_stream.dataset == "github.audit" and event.type == "change" and event.action == "git.clone"
| stats
  Esql.event_count = COUNT(*),
  Esql.github_repo_values = values(github.repo),
  Esql.user_name_values = values(user.name)
  by user.name
| keep Esql.*
| where
  Esql.event_count >= 25`

func TestStatsThreshold(t *testing.T) {
	q, err := Parse(cloneQuery)
	require.NoError(t, err)
	assert.Equal(t, []string{"logs-github.audit-*"}, q.Indices)
	assert.Empty(t, q.Run(clones(24, "mallory"), index))
	docs := append(clones(25, "mallory"), clones(3, "bob")...)
	rows := q.Run(docs, index)
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"Esql.event_count", "Esql.github_repo_values", "Esql.user_name_values"}, rows[0].Columns)
	assert.Equal(t, "25", rows[0].Values.Get("Esql.event_count").String())
	assert.Equal(t, []string{"acme/r0", "acme/r1", "acme/r2"}, rows[0].Values.Get("Esql.github_repo_values").Values())
	assert.Len(t, rows[0].Sources, 25)

	why := q.Explain(clones(24, "mallory"), index)
	assert.Contains(t, why, "from logs-github.audit-*: 24 of 24 documents")
	assert.Contains(t, why, "Esql.event_count=24")
	assert.Contains(t, why, "| where Esql.event_count >= 25: 0 rows")
}

func TestCommands(t *testing.T) {
	docs := clones(5, "a")
	for _, c := range []struct {
		q    string
		want []string
	}{
		{`from logs-* | where mv_contains(github.reasons.code, "force_push") | stats n = count(*)`, []string{"5"}},
		{`from logs-* | where mv_contains(github.reasons.code, "other") | stats n = count(*)`, []string{"0"}},
		{`from other-* | stats n = count(*)`, []string{"0"}},
		{`from logs-* | stats n = count_distinct(github.repo) by user.name | keep n`, []string{"3"}},
		{`from logs-* | eval n = to_upper(user.name) | keep n | limit 1`, []string{"A"}},
		{`from logs-* | stats n = count(*) by github.repo | sort n desc, github.repo | keep n`, []string{"2", "2", "1"}},
		{`from logs-* | where github.repo in ("acme/r1", "acme/r2") and user.name is not null | stats n = count(*)`, []string{"3"}},
		{`from logs-* | where github.repo like "*r1" | stats n = count(*)`, []string{"2"}},
		{`from logs-* metadata _index | where _index == "logs-github.audit-default" | stats n = count(*)`, []string{"5"}},
		{`from logs-* | where not github.repo rlike "acme/r[01]" | stats n = count(*)`, []string{"1"}},
	} {
		q, err := Parse(c.q)
		require.NoError(t, err, c.q)
		var got []string
		for _, r := range q.Run(docs, index) {
			got = append(got, r.Values.Get("n").String())
		}
		assert.Equal(t, c.want, got, c.q)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ q, msg string }{
		{"from x | where a = 1", "esql: 1:18: use == to compare\n  from x | where a = 1\n                   ^"},
		{"from x\n| dissect a", "esql: 2:3: command \"dissect\" is not supported (from, where, stats, eval, keep, drop, sort, limit)\n  | dissect a\n    ^"},
		{"from x | stats median(a)", "esql: 1:16: expected an aggregation (count, count_distinct, values, min, max, sum, avg), found \"median\"\n  from x | stats median(a)\n                 ^"},
	} {
		_, err := Parse(c.q)
		var se *core.SyntaxError
		require.True(t, errors.As(err, &se), "%v", err)
		assert.Equal(t, c.msg, err.Error())
	}
}
