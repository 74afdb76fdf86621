package validate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/rules"
)

func sysmon(id int, host string, data ...string) event.Event {
	ev := event.Event{Provider: event.Sysmon, EventID: id, Channel: event.SysmonChannel, Computer: host}
	for i := 0; i+1 < len(data); i += 2 {
		ev.Data = append(ev.Data, event.Field{Name: data[i], Value: data[i+1]})
	}
	return ev
}

const (
	ws       = "WS-FIN-0142.corp.example"
	ci       = "GITLAB-RUNNER-W03.build.corp.example"
	curlExe  = `C:\Windows\System32\curl.exe`
	gitExe   = `C:\Program Files\Git\mingw64\bin\git.exe`
	remote   = `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`
	codeExe  = `C:\Users\a.dev\AppData\Local\Programs\Microsoft VS Code\Code.exe`
	explorer = `C:\Windows\explorer.exe`
)

func netEvent(host, image, dest string) event.Event {
	return sysmon(3, host, "Image", image, "DestinationHostname", dest, "DestinationIp", "140.82.112.6", "DestinationPort", "443")
}

func procEvent(host, image, cmdline, parent string) event.Event {
	return sysmon(1, host, "Image", image, "CommandLine", cmdline, "ParentImage", parent)
}

func seedRule(t *testing.T) Rule {
	t.Helper()
	loaded, unsupported, err := LoadRules(rules.FS, Options{})
	require.NoError(t, err)
	for _, u := range unsupported {
		t.Logf("unsupported: %s: %s", u.Path, u.Reason)
	}
	r := ByID(loaded)["seed_t1567_001_code_repo_exfil"]
	require.NotNil(t, r, "the seed rule ships with the harness")
	return r
}

func score(n int) *int { return &n }

func TestCheckSeedRule(t *testing.T) {
	rule := seedRule(t)
	cases := []struct {
		name    string
		events  []event.Event
		exp     atomics.Expectation
		pass    bool
		gap     bool
		explain []string
	}{
		{"curl upload fires", []event.Event{procEvent(ws, curlExe, `curl.exe -X POST https://api.github.com/gists -d @g.json`, explorer)},
			atomics.Expectation{Fires: true, Signal: "CodeRepoAPIUpload", Score: score(3)}, true, false, nil},
		{"wrong score fails", []event.Event{netEvent(ws, curlExe, "api.github.com")},
			atomics.Expectation{Fires: true, Signal: "NetworkConnectionToCodeRepo", Score: score(3)}, false, false,
			[]string{"Signal=NetworkConnectionToCodeRepo", "SuspicionScore=2"}},
		{"CI host is silent", []event.Event{netEvent(ci, curlExe, "api.github.com")},
			atomics.Expectation{Fires: false}, true, false, nil},
		{"CI host expected to fire: explanation shows the score", []event.Event{netEvent(ci, curlExe, "api.github.com")},
			atomics.Expectation{Fires: true, Signal: "NetworkConnectionToCodeRepo", Score: score(2)}, false, false,
			[]string{"passes the search", "IsCISystem=1", "SuspicionScore=0", "where SuspicionScore >= 2"}},
		{"git-remote-https misses the image list", []event.Event{netEvent(ws, remote, "github.com")},
			atomics.Expectation{Fires: true, Signal: "NetworkConnectionToCodeRepo"}, false, false,
			[]string{`Image="*\\git.exe"`, "git-remote-https.exe", "Nearest misses"}},
		{"silence on one signal while another fires", []event.Event{procEvent(ws, gitExe, `git push --force https://github.com/x/y.git`, explorer), netEvent(ws, remote, "github.com")},
			atomics.Expectation{Fires: false, Signal: "NetworkConnectionToCodeRepo"}, true, false, nil},
		{"IDE exception cannot apply to Sysmon 3: a gap", []event.Event{netEvent(ws, curlExe, "api.github.com")},
			atomics.Expectation{Fires: true, Signal: "NetworkConnectionToCodeRepo", Score: score(2),
				Intent: &atomics.Intent{Fires: false, Signal: "NetworkConnectionToCodeRepo"}}, true, true,
			[]string{"has no", "ParentImage", "IsKnownIDE=0"}},
		{"IDE parent lowers a process event? no: EID 1 from Code.exe still scores 3", []event.Event{procEvent(ws, curlExe, `curl.exe -X POST https://api.github.com/gists`, codeExe)},
			atomics.Expectation{Fires: true, Signal: "CodeRepoAPIUpload", Score: score(3)}, true, false, nil},
		{"PTR names defeat the host list", []event.Event{netEvent(ws, curlExe, "lb-140-82-112-6-iad.github.com")},
			atomics.Expectation{Fires: true, Signal: "NetworkConnectionToCodeRepo"}, false, false,
			[]string{"DestinationHostname", "lb-140-82-112-6-iad.github.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.exp.Rule = rule.ID()
			v, err := NewEvaluation([]Rule{rule}, tc.events).Check(context.Background(), tc.exp)
			require.NoError(t, err)
			assert.Equal(t, tc.pass, v.Pass, v.Explanation)
			assert.Equal(t, tc.gap, v.Gap != "", "gap: %s", v.Gap)
			text := v.Explanation + v.Gap
			for _, want := range tc.explain {
				assert.Contains(t, text, want)
			}
			if tc.pass && !tc.gap {
				assert.Empty(t, text)
			}
			assert.Equal(t, v, checkStream(t, []Rule{rule}, tc.events, tc.exp)[0], "a Checker over the events as a stream gives the same verdict")
		})
	}
}

// checkStream checks exps with a Checker over events pushed one at a
// time, and pushed again when a verdict needs an explanation.
func checkStream(t *testing.T, rules []Rule, events []event.Event, exps ...atomics.Expectation) []Verdict {
	t.Helper()
	c := NewChecker(context.Background(), rules, exps)
	for i := range events {
		ev := events[i]
		require.NoError(t, c.Push(&ev))
	}
	again, err := c.Close()
	require.NoError(t, err)
	if again {
		for i := range events {
			ev := events[i]
			require.NoError(t, c.Explain(&ev))
		}
	}
	return c.Verdicts()
}

func TestCheckMissingRuleFails(t *testing.T) {
	v, err := NewEvaluation(nil, nil).Check(context.Background(), atomics.Expectation{Rule: "nope", Fires: false})
	require.NoError(t, err)
	assert.False(t, v.Pass)
	assert.Contains(t, v.Explanation, `rule "nope" is not among the loaded rules`)
}

// fakeRule yields fixed rows, to pin Check's rules independent of any
// engine, and counts how often it ran.
type fakeRule struct {
	rows []Row
	runs *int
}

func (f fakeRule) ID() string   { return "fake" }
func (f fakeRule) Kind() string { return "fake" }
func (f fakeRule) Start(_ context.Context, emit func(Row) error) Feed {
	if f.runs != nil {
		*f.runs++
	}
	return &fakeFeed{rows: f.rows, emit: emit}
}
func (f fakeRule) Explainer(_ context.Context, want Outcome, _ []Row) Explainer {
	return fakeExplainer("explained " + want.String())
}

// fakeFeed emits its rows at Close.
type fakeFeed struct {
	rows []Row
	emit func(Row) error
}

func (f *fakeFeed) Push(*event.Event) error { return nil }
func (f *fakeFeed) Kept() bool              { return true }
func (f *fakeFeed) Done() bool              { return false }
func (f *fakeFeed) Held() int               { return len(f.rows) }
func (f *fakeFeed) Oldest() int             { return 0 }
func (f *fakeFeed) Close() error {
	for _, r := range f.rows {
		if err := f.emit(r); err != nil {
			return err
		}
	}
	return nil
}

type fakeExplainer string

func (x fakeExplainer) Push(*event.Event) error { return nil }
func (x fakeExplainer) String() string          { return string(x) }

// row is a row resting on the first event of the evaluation.
func row(kv ...string) Row {
	r := Row{Sources: []int{0}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.add(kv[i], kv[i+1])
	}
	return r
}

// value is r's value of field, which it must have.
func value(t *testing.T, r Row, field string) string {
	t.Helper()
	v, ok := r.Value(field)
	assert.True(t, ok, "the row has no value of %s", field)
	return v
}

// present is r's fields that have a value, with their values.
func present(r Row) map[string]string {
	m := map[string]string{}
	for i, f := range r.Fields {
		if v, ok := r.at(i); ok {
			m[f] = v
		}
	}
	return m
}

func TestCheckSemantics(t *testing.T) {
	a := row("Signal", "A", "SuspicionScore", "3")
	b := row("Signal", "B", "SuspicionScore", "2")
	plain := row("title", "match")
	cases := []struct {
		name string
		rows []Row
		exp  atomics.Expectation
		pass bool
		want string
	}{
		{"fires any", []Row{plain}, atomics.Expectation{Fires: true}, true, ""},
		{"silent with rows", []Row{plain}, atomics.Expectation{Fires: false}, false, "explained silent"},
		{"silent without rows", nil, atomics.Expectation{Fires: false}, true, ""},
		{"signal and score", []Row{a, b}, atomics.Expectation{Fires: true, Signal: "B", Score: score(2)}, true, ""},
		{"signal with other score", []Row{a, b}, atomics.Expectation{Fires: true, Signal: "B", Score: score(3)}, false, "explained fires B/3"},
		{"absent signal", []Row{a}, atomics.Expectation{Fires: true, Signal: "B"}, false, "explained fires B"},
		{"no row of one signal", []Row{a}, atomics.Expectation{Fires: false, Signal: "B"}, true, ""},
		{"rows without Signal cannot answer a signal", []Row{plain}, atomics.Expectation{Fires: true, Signal: "A"}, false, "without a Signal field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.exp.Rule = "fake"
			v, err := NewEvaluation([]Rule{fakeRule{rows: tc.rows}}, []event.Event{procEvent(ws, curlExe, "curl", "")}).Check(context.Background(), tc.exp)
			require.NoError(t, err)
			assert.Equal(t, tc.pass, v.Pass)
			assert.Contains(t, v.Explanation, tc.want)
			assert.Equal(t, v, checkStream(t, []Rule{fakeRule{rows: tc.rows}}, []event.Event{procEvent(ws, curlExe, "curl", "")}, tc.exp)[0])
			raw, err := json.Marshal(v)
			require.NoError(t, err)
			for _, k := range []string{`"atomic"`, `"context"`, `"rule"`, `"expected"`, `"actual"`, `"pass"`} {
				assert.Contains(t, string(raw), k, "results.json shape")
			}
		})
	}
}

func TestLoadRulesReportsSyntaxErrorWithFileAndPosition(t *testing.T) {
	fsys := fstest.MapFS{"broken.spl": {Data: []byte("index=x\n| eval a=case(1==1, \"x\"\n| table a\n")}}
	_, _, err := LoadRules(fsys, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.spl")
	assert.Regexp(t, `\d+:\d+`, err.Error())
	assert.Contains(t, err.Error(), "^")
}

func TestSPLEventFields(t *testing.T) {
	ev := SPLEvent(netEvent(ws, curlExe, "api.github.com"), Options{}.withDefaults())
	assert.Equal(t, "wineventlog", ev["index"])
	assert.Equal(t, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", ev["sourcetype"])
	assert.Equal(t, "3", ev["EventCode"])
	assert.Equal(t, ws, ev["host"])
	custom := SPLEvent(netEvent(ws, curlExe, "x"), Options{Index: "sysmon", Sourcetype: "xmlwineventlog"}.withDefaults())
	assert.Equal(t, "sysmon", custom["index"])
	assert.Equal(t, "xmlwineventlog", custom["sourcetype"])
}

func TestSeedRuleIsVerbatim(t *testing.T) {
	doc, err := os.ReadFile(reftest.Seed(t, "004_ecbec7d42abb12da.txt"))
	require.NoError(t, err)
	rule, err := rules.FS.ReadFile("seed_t1567_001_code_repo_exfil.spl")
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(doc), strings.TrimSpace(string(rule))), "the shipped rule must be the seed query, byte for byte")
}

func TestEvaluationRunsEachRuleOnce(t *testing.T) {
	runs := 0
	eval := NewEvaluation([]Rule{fakeRule{rows: []Row{row("Signal", "A", "SuspicionScore", "3")}, runs: &runs}}, []event.Event{procEvent(ws, curlExe, "curl", "")})
	for _, exp := range []atomics.Expectation{
		{Rule: "fake", Fires: true, Signal: "A"},
		{Rule: "fake", Fires: false, Signal: "B"},
		{Rule: "fake", Fires: true, Signal: "A", Score: score(3)},
	} {
		v, err := eval.Check(context.Background(), exp)
		require.NoError(t, err)
		assert.True(t, v.Pass, "%+v", exp)
	}
	assert.Equal(t, 1, runs)
}

// TestSigmaCorrelationRows: a Sigma file with a correlation yields a row
// per window that fired, naming the records it rests on.
func TestSigmaCorrelationRows(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("sigma", "testdata", "correlation_repo_hosts.yml"))
	require.NoError(t, err)
	loaded, unsupported, err := LoadRules(fstest.MapFS{"repo_hosts.yml": {Data: data}}, Options{})
	require.NoError(t, err)
	require.Empty(t, unsupported)
	r := ByID(loaded)["repo_hosts"]
	require.NotNil(t, r)
	events := []event.Event{netEvent(ws, curlExe, "api.github.com"), netEvent(ws, curlExe, "lb-140-82-112-6-iad.github.com"), netEvent(ci, curlExe, "api.github.com")}
	for i := range events {
		events[i].RecordID = uint64(10 + i)
	}
	rows, err := Evaluate(context.Background(), r, events)
	require.NoError(t, err)
	require.Len(t, rows, 1, "the base rule only feeds the correlation")
	assert.Equal(t, "value_count", value(t, rows[0], "correlation"))
	assert.Equal(t, "2", value(t, rows[0], "count"))
	assert.Equal(t, "10 11", value(t, rows[0], "RecordIDs"))
	assert.Equal(t, []int{0, 1}, rows[0].Sources, "the row rests on the two events it counted")
	assert.Equal(t, ws, value(t, rows[0], "Computer"))
	assert.Equal(t, curlExe, value(t, rows[0], "Image"))
	assert.Contains(t, Explain(context.Background(), r, events, Outcome{Fires: true}), "1 correlation window(s) fired")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Evaluate(ctx, r, events)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCheckEvidence(t *testing.T) {
	events := func(provs ...event.Provenance) []event.Event {
		var out []event.Event
		for i, p := range provs {
			e := procEvent(ws, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "curl.exe -X POST https://api.github.com/gists", "")
			e.RecordID, e.Provenance, e.Observations = uint64(120001+i), p, []string{"obs-1"}
			out = append(out, e)
		}
		return out
	}
	on := func(src ...int) Row { r := row("Signal", "A", "SuspicionScore", "3"); r.Sources = src; return r }
	cases := []struct {
		name     string
		events   []event.Event
		rows     []Row
		evidence []string
		pass     bool
		want     []string
		restsOn  string
	}{
		{"observed", events(event.Observed), []Row{on(0)}, nil, true, nil, "observed"},
		{"recorded telemetry counts", events(""), []Row{on(0)}, nil, true, nil, "recorded"},
		{"declared only", events(event.Declared), []Row{on(0)}, nil, false,
			[]string{"on no observed event", "row 1 rests on Event ID 1 record 120001 on " + ws + ", declared (taken from the atomic's windows_executor text", "windows_executor", "observed evidence only"}, "declared"},
		{"declared accepted", events(event.Declared), []Row{on(0)}, []string{"declared"}, true, nil, "declared"},
		{"simulated not accepted as declared", events(event.Simulated), []Row{on(0)}, []string{"declared"}, false, []string{", simulated (a replay stood in", "observed or declared evidence"}, "simulated"},
		{"one observed row is enough", events(event.Declared, event.Observed), []Row{on(0), on(1)}, nil, true, nil, "observed+declared"},
		{"a stats row over both", events(event.Declared, event.Observed), []Row{on(0, 1)}, nil, true, nil, "observed+declared"},
		{"a row that names no event", events(event.Observed), []Row{on()}, nil, false, []string{"rests on no event"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewEvaluation([]Rule{fakeRule{rows: tc.rows}}, tc.events).Check(context.Background(),
				atomics.Expectation{Rule: "fake", Fires: true, Signal: "A", Score: score(3), Evidence: tc.evidence})
			require.NoError(t, err)
			assert.Equal(t, tc.pass, v.Pass, v.Explanation)
			for _, w := range tc.want {
				assert.Contains(t, v.Explanation, w)
			}
			assert.Equal(t, tc.restsOn, v.Basis())
			assert.Equal(t, v, checkStream(t, []Rule{fakeRule{rows: tc.rows}}, tc.events,
				atomics.Expectation{Rule: "fake", Fires: true, Signal: "A", Score: score(3), Evidence: tc.evidence})[0], "a Checker gives the same verdict")
			require.Len(t, v.Actual.Evidence, len(tc.rows))
		})
	}
	// Silence needs no evidence.
	v, err := NewEvaluation([]Rule{fakeRule{}}, events(event.Declared)).Check(context.Background(), atomics.Expectation{Rule: "fake", Fires: false})
	require.NoError(t, err)
	assert.True(t, v.Pass)
}

// TestSigmaPlaceholders: Options.SigmaPlaceholders give expand its values;
// without them the rule is unsupported, with the reason.
func TestSigmaPlaceholders(t *testing.T) {
	rule := []byte("title: t\nlogsource: {category: process_creation, product: windows}\ndetection:\n    sel:\n        User|expand: '%Administrators%'\n    condition: sel\n")
	fsys := fstest.MapFS{"admins.yml": {Data: rule}}
	_, unsupported, err := LoadRules(fsys, Options{})
	require.NoError(t, err)
	require.Len(t, unsupported, 1)
	assert.Contains(t, unsupported[0].Reason, "admins.yml:5: placeholder %Administrators% has no values in the configuration")

	loaded, unsupported, err := LoadRules(fsys, Options{SigmaPlaceholders: map[string][]string{"Administrators": {`CORP\adm_*`}}})
	require.NoError(t, err)
	require.Empty(t, unsupported)
	rows, err := Evaluate(context.Background(), ByID(loaded)["admins"], []event.Event{sysmon(1, ws, "User", `CORP\adm_bob`), sysmon(1, ws, "User", `CORP\alice`)})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, []int{0}, rows[0].Sources)
}

// TestSigmaStream: a Sigma rule file streamed: each row goes out at the
// event that makes it, resting on events by their stream position.
func TestSigmaStream(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("sigma", "testdata", "correlation_repo_hosts.yml"))
	require.NoError(t, err)
	r, err := NewSigmaRule("repo_hosts.yml", data)
	require.NoError(t, err)
	var got []Row
	st := r.stream(context.Background(), func(row Row) error { got = append(got, row); return nil })
	events := []event.Event{netEvent(ws, curlExe, "api.github.com"), netEvent(ci, curlExe, "api.github.com"), netEvent(ws, curlExe, "lb-140-82-112-6-iad.github.com")}
	for i := range events {
		kept, err := st.push(&events[i])
		require.NoError(t, err)
		assert.True(t, kept, "event %d feeds the correlation's window", i)
		if i < 2 {
			assert.Empty(t, got, "no row before the second host of %s", ws)
		}
	}
	require.Len(t, got, 1, "the correlation's row goes out at the event that completes it")
	assert.Equal(t, []int{0, 2}, got[0].Sources)
	require.NoError(t, st.close())
	assert.Len(t, got, 1)
}

// TestSigmaAcrossFiles: in a rules folder, a correlation may count, and a
// filter may tune, rules written in other files; a filter naming no rule
// of the folder is unsupported.
func TestSigmaAcrossFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"push.yml":   {Data: []byte("title: git push\nname: git_push\nlogsource: {category: process_creation, product: windows}\ndetection:\n    sel:\n        CommandLine|contains: 'git push'\n    condition: sel\n")},
		"pushes.yml": {Data: []byte("title: two pushes\ncorrelation:\n    type: event_count\n    rules: [git_push]\n    group-by: [Computer]\n    timespan: 5m\n    condition: {gte: 2}\n")},
		"admins.yml": {Data: []byte("title: admins push\nlogsource: {category: process_creation, product: windows}\nfilter:\n    rules: [git_push]\n    sel:\n        User|startswith: 'adm_'\n    condition: sel\n")},
		"typo.yml":   {Data: []byte("title: typo\nlogsource: {category: process_creation, product: windows}\nfilter:\n    rules: [git_pusj]\n    sel:\n        User: x\n    condition: sel\n")},
	}
	loaded, unsupported, err := LoadRules(fsys, Options{})
	require.NoError(t, err)
	require.Len(t, unsupported, 1)
	assert.Equal(t, "typo.yml", unsupported[0].Path)
	assert.Contains(t, unsupported[0].Reason, "none of the rules it names (git_pusj) is loaded")
	byID := ByID(loaded)
	require.Contains(t, byID, "push")
	require.Contains(t, byID, "pushes")
	assert.NotContains(t, byID, "admins", "a file of filters only is no rule of its own")

	events := []event.Event{
		sysmon(1, ws, "CommandLine", "git push a", "User", "alice"),
		sysmon(1, ws, "CommandLine", "git push b", "User", "adm_root"),
		sysmon(1, ws, "CommandLine", "git push c", "User", "alice"),
	}
	rows, err := Evaluate(context.Background(), byID["push"], events)
	require.NoError(t, err)
	require.Len(t, rows, 2, "the admins filter suppresses the second push")
	assert.Equal(t, []int{0}, rows[0].Sources)
	assert.Equal(t, []int{2}, rows[1].Sources)
	rows, err = Evaluate(context.Background(), byID["pushes"], events)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, []int{0, 2}, rows[0].Sources, "the correlation counts the filtered rule's matches")
}

func TestElasticRuleExplainsAnUnwantedAlert(t *testing.T) {
	toECS := func(e *event.Event) []map[string]any {
		action, _ := e.Get("action")
		return []map[string]any{{"event.category": []any{"configuration"}, "event.action": action,
			"data_stream.dataset": "github.audit", "github.visibility": "public"}}
	}
	r, err := NewElasticRule("public.toml", []byte("[rule]\nname = \"Public\"\ntype = \"eql\"\nlanguage = \"eql\"\nquery = 'configuration where event.action == \"repo.access\"'\n"), toECS)
	require.NoError(t, err)
	events := []event.Event{{Channel: "github.audit", Data: []event.Field{{Name: "action", Value: "repo.access"}}}, {Channel: "github.audit", Data: []event.Field{{Name: "action", Value: "git.push"}}}}
	rows, err := Evaluate(context.Background(), r, events)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, []int{0}, rows[0].Sources)
	assert.Equal(t, "repo.access", value(t, rows[0], "event.action"))
	why := Explain(context.Background(), r, events, Outcome{})
	assert.Contains(t, why, "rule public (Public) fires 1 time(s) where it should stay silent:")
	assert.Contains(t, why, "on 1 event(s): event.action=repo.access")

	_, err = NewElasticRule("public.toml", []byte("[rule]\ntype = \"eql\"\n"), nil)
	assert.ErrorContains(t, err, "no ECS mapping")
}

// TestSPLRowsShareFields: rows of one query may share their field list,
// yet appending to one row's fields leaves the others as they were, and a
// row with other fields gets its own list.
func TestSPLRowsShareFields(t *testing.T) {
	r, err := NewSPLRule("t", `EventCode=1 | table host, Image, CommandLine | eval n=if(Image="x", 1, null())`, Options{})
	require.NoError(t, err)
	events := []event.Event{procEvent(ws, "y", "c", explorer), procEvent(ci, "x", "c", explorer), procEvent(ws, "y", "c", explorer), procEvent(ws, "y", "c", explorer)}
	rows, err := Evaluate(context.Background(), r, events)
	require.NoError(t, err)
	require.Len(t, rows, 4)
	three := []string{"host", "Image", "CommandLine"}
	assert.Equal(t, three, rows[0].Fields)
	assert.Equal(t, append(three, "n"), rows[1].Fields)
	assert.Equal(t, three, rows[2].Fields)
	rows[2].Fields = append(rows[2].Fields, "extra")
	rows[3].Fields = append(rows[3].Fields, "other")
	assert.Equal(t, append(three, "extra"), rows[2].Fields, "a row's own changes stay its own")
	assert.Equal(t, append(three, "other"), rows[3].Fields)
	assert.Equal(t, "1", value(t, rows[1], "n"))
	assert.Equal(t, ws, value(t, rows[2], "host"))
}

// TestRowTellsNullFromEmpty: an SPL field set to "" has a value, one set
// to null has none, and JSON writes them as "" and null, in field order.
func TestRowTellsNullFromEmpty(t *testing.T) {
	r, err := NewSPLRule("t", `EventCode=1 | eval e="", n=null(), q="a\"<b>" | table q, n, host, e`, Options{})
	require.NoError(t, err)
	rows, err := Evaluate(context.Background(), r, []event.Event{procEvent(ws, curlExe, "c", explorer)})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	row := rows[0]
	tests := []struct {
		field string
		want  string
		ok    bool
	}{
		{"e", "", true},
		{"n", "", false},
		{"host", ws, true},
		{"q", `a"<b>`, true},
		{"absent", "", false},
	}
	for _, tc := range tests {
		v, ok := row.Value(tc.field)
		assert.Equal(t, tc.ok, ok, tc.field)
		assert.Equal(t, tc.want, v, tc.field)
	}
	data, err := json.Marshal(row)
	require.NoError(t, err)
	assert.Equal(t, `{"q":"a\"\u003cb\u003e","n":null,"host":"`+ws+`","e":""}`, string(data))
	data, err = json.Marshal(Row{Fields: []string{"a", "b"}, Values: []string{"x"}})
	require.NoError(t, err)
	assert.Equal(t, `{"a":"x","b":null}`, string(data), "a field past Values has no value")
}
