package elastic

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/validate/core"
)

// Every reference rule loads, or is refused with the reason; which ones is
// pinned so that a change in the engines shows here.
func TestReferenceRulesLoad(t *testing.T) {
	dir, ok := reftest.Lookup(t, "elastic")
	if !ok {
		t.Skipf("no reference corpus at %s (set HARNESS_REFERENCE)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	got := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		r, err := Load(filepath.Base(f), data)
		switch {
		case err == nil:
			got[r.ID] = r.Type
		case IsRefused(err):
			got[filepath.Base(f)] = "refused: " + err.Error()
		default:
			t.Errorf("%s: %v", f, err)
		}
	}
	want := map[string]string{
		"command_and_control_certreq_postdata":                                     "eql",
		"command_and_control_common_webservices":                                   "eql",
		"command_and_control_dns_query_to_sus_top_level_domain":                    "eql",
		"command_and_control_dns_to_commonly_abused_webservices":                   "eql",
		"command_and_control_git_repo_or_file_download_to_sus_dir":                 "eql",
		"command_and_control_tool_transfer_via_curl":                               "eql",
		"command_and_control_unusual_network_connection_to_suspicious_web_service": "new_terms",
		"execution_github_high_number_of_cloned_repos_from_pat":                    "threshold",
		"execution_posh_hacktool_functions":                                        "query",
		"exfiltration_github_private_repository_turned_public":                     "eql",
		"exfiltration_high_number_of_cloning_by_user":                              "esql",
		"impact_github_repository_activity_from_unusual_ip":                        "new_terms",
		"impact_high_number_of_closed_pull_requests_by_user":                       "esql",
		"impact_high_number_of_failed_protected_branch_force_pushes_by_user":       "esql",
		"impact_high_number_of_protected_branch_force_pushes_by_user":              "esql",
	}
	assert.Equal(t, want, got)
}

func TestRefusals(t *testing.T) {
	for _, c := range []struct{ toml, reason string }{
		{"[rule]\ntype = \"machine_learning\"\nmachine_learning_job_id = \"x\"\n", `rule type "machine_learning" cannot run here`},
		{"[rule]\ntype = \"query\"\nlanguage = \"lucene\"\nquery = \"a:b\"\n", `only kuery (KQL) is supported`},
		{"[rule]\ntype = \"eql\"\nlanguage = \"eql\"\nquery = \"process where x = 1\"\n", "r.toml:4: EQL query: eql: 1:17: use == to compare"},
		{"[rule]\ntype = \"esql\"\nlanguage = \"esql\"\nquery = '''\nfrom x\n| where a = 1\n'''\n", "r.toml:6: ES|QL query: esql: 2:11: use == to compare\n  | where a = 1\n            ^"},
	} {
		_, err := Load("r.toml", []byte(c.toml))
		require.Error(t, err)
		assert.True(t, IsRefused(err), "%v", err)
		assert.Contains(t, err.Error(), c.reason)
	}
	_, err := Load("r.toml", []byte("not toml ["))
	assert.False(t, IsRefused(err))
	assert.ErrorContains(t, err, "r.toml")
}

func doc(m map[string]any) core.Doc { return core.FlattenDoc(m) }

func TestQueryRuleWithFilterAndThreshold(t *testing.T) {
	r, err := Load("x.toml", []byte(`[rule]
type = "threshold"
language = "kuery"
index = ["logs-github.audit-*"]
query = 'event.action:"git.clone" and github.repository_public:false'
[[rule.filters]]
[rule.filters.meta]
negate = true
[rule.filters.query.wildcard."github.repo"]
case_insensitive = true
value = "ACME/IGNORED*"
[rule.threshold]
field = ["github.hashed_token"]
value = 1
[[rule.threshold.cardinality]]
field = "github.repo"
value = 3
`))
	require.NoError(t, err)
	var docs []core.Doc
	for _, repo := range []string{"acme/a", "acme/b", "acme/ignored-1", "acme/ignored-2", "acme/a"} {
		docs = append(docs, doc(map[string]any{"data_stream": map[string]any{"dataset": "github.audit"},
			"event": map[string]any{"action": "git.clone"}, "github": map[string]any{"repo": repo, "repository_public": false, "hashed_token": "T"}}))
	}
	assert.Empty(t, r.Run(docs), "two distinct repositories once the filter drops the ignored ones")
	assert.Contains(t, r.Explain(docs), "3 documents match the query; the threshold is 1 per [github.hashed_token] with at least 3 distinct github.repo")
	docs = append(docs, doc(map[string]any{"data_stream": map[string]any{"dataset": "github.audit"},
		"event": map[string]any{"action": "git.clone"}, "github": map[string]any{"repo": "acme/c", "repository_public": false, "hashed_token": "T"}}))
	alerts := r.Run(docs)
	require.Len(t, alerts, 1)
	assert.Equal(t, "3", alerts[0].Values.Get("threshold_result.cardinality.github.repo").String())
	sort.Ints(alerts[0].Sources)
	assert.Equal(t, []int{0, 1, 4, 5}, alerts[0].Sources)
}

func TestNewTermsFirstSighting(t *testing.T) {
	r, err := Load("x.toml", []byte(`[rule]
type = "new_terms"
language = "kuery"
index = ["logs-github.audit-*"]
query = 'event.action:("git.push" or "git.clone")'
[rule.new_terms]
field = "new_terms_fields"
value = ["source.ip", "github.repo"]
`))
	require.NoError(t, err)
	mk := func(ts, ip string) core.Doc {
		return doc(map[string]any{"@timestamp": ts, "data_stream": map[string]any{"dataset": "github.audit"},
			"event": map[string]any{"action": "git.push"}, "source": map[string]any{"ip": ip}, "github": map[string]any{"repo": "acme/a"}})
	}
	alerts := r.Run([]core.Doc{mk("2026-01-01T00:00:02Z", "10.0.0.1"), mk("2026-01-01T00:00:01Z", "10.0.0.1"), mk("2026-01-01T00:00:03Z", "10.0.0.2")})
	require.Len(t, alerts, 2)
	assert.Equal(t, []int{1}, alerts[0].Sources)
	assert.Equal(t, []int{2}, alerts[1].Sources)
}

func TestIndexSelection(t *testing.T) {
	r, err := Load("x.toml", []byte("[rule]\ntype = \"eql\"\nlanguage = \"eql\"\nindex = [\"logs-endpoint.events.network-*\"]\nquery = \"network where true\"\n"))
	require.NoError(t, err)
	sysmon := doc(map[string]any{"event": map[string]any{"category": "network"}, "data_stream": map[string]any{"dataset": "windows.sysmon_operational"}})
	defend := doc(map[string]any{"event": map[string]any{"category": "network"}, "data_stream": map[string]any{"dataset": "endpoint.events.network"}})
	assert.Len(t, r.Run([]core.Doc{sysmon, defend}), 1)
	assert.Contains(t, r.Explain([]core.Doc{sysmon}), "0 of 1 ECS documents are in the rule's indices (logs-endpoint.events.network-*); the events are in logs-windows.sysmon_operational-default")
}

// A threshold over a long stream keeps a count and the distinct
// cardinality values per group, and cites only the group's first
// core.MaxSources documents.
func TestThresholdKeepsCounts(t *testing.T) {
	r, err := Load("x.toml", []byte(`[rule]
type = "threshold"
language = "kuery"
index = ["logs-github.audit-*"]
query = 'event.action:"git.clone"'
[rule.threshold]
field = ["user.name"]
value = 50000
[[rule.threshold.cardinality]]
field = "github.repo"
value = 3
`))
	require.NoError(t, err)
	var alerts []Alert
	s := r.Stream(t.Context(), func(a Alert) error { alerts = append(alerts, a); return nil })
	const n = 100_000
	for i := range n {
		_, err := s.Push(core.Doc{"data_stream.dataset": core.StringValue("github.audit"), "event.action": core.StringValue("git.clone"),
			"user.name": core.StringValue([]string{"mallory", "bob"}[i%2]), "github.repo": core.StringValue([]string{"a", "b", "c"}[i%3])}, i)
		require.NoError(t, err)
	}
	assert.Equal(t, 2*core.MaxSources, s.Held(), "two groups, each citing its first documents")
	id, ok := s.Oldest()
	assert.True(t, ok)
	assert.Zero(t, id)
	require.NoError(t, s.Close())
	require.Len(t, alerts, 2)
	assert.Equal(t, "50000", alerts[0].Values.Get("threshold_result.count").String())
	assert.Equal(t, "3", alerts[0].Values.Get("threshold_result.cardinality.github.repo").String())
	assert.Len(t, alerts[0].Sources, core.MaxSources)
}

// Every Elastic stream stops when its context is done.
func TestStreamCancels(t *testing.T) {
	r, err := Load("x.toml", []byte("[rule]\ntype = \"eql\"\nlanguage = \"eql\"\nquery = \"any where true\"\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	s := r.Stream(ctx, func(Alert) error { return nil })
	cancel()
	var pushed int
	for pushed = 0; pushed < 1000; pushed++ {
		if _, err = s.Push(core.Doc{}, pushed); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, pushed, ctxEvery)
	assert.ErrorIs(t, s.Close(), context.Canceled)
}
