package sigma

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
)

// goldenEvents reads the four atomics' rendered telemetry (flat JSON
// lines), one second apart, numbered from 1.
func goldenEvents(t *testing.T) []event.Event {
	var out []event.Event
	files, err := filepath.Glob(filepath.Join(reftest.ModuleRoot(t), "harness", "testdata", "golden", "*-1567001a000[1-4].jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 4)
	for _, f := range files {
		fh, err := os.Open(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
			ev := event.Event{Channel: text(m["Channel"]), Computer: text(m["Computer"]), Provider: event.Provider{Name: text(m["Provider"])}}
			fmt.Sscan(text(m["EventID"]), &ev.EventID)
			ev.RecordID = uint64(len(out) + 1)
			ev.TimeCreated = t0.Add(time.Duration(len(out)) * time.Second)
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				switch k {
				case "Channel", "Computer", "Provider", "EventID":
				default:
					ev.Data = append(ev.Data, event.Field{Name: k, Value: text(m[k])})
				}
			}
			out = append(out, ev)
		}
		require.NoError(t, sc.Err())
		fh.Close()
	}
	return out
}

func loadSet(t *testing.T, name string, data []byte) *Set {
	t.Helper()
	c, err := ParseFile(name, data, nil)
	require.NoError(t, err)
	s, err := Compile(c)
	require.NoError(t, err)
	return s
}

func run(t *testing.T, s *Set, events []event.Event) (hits []Hit, corr []CorrelationHit) {
	t.Helper()
	eng := s.NewEngine()
	for i := range events {
		h, c, err := eng.Add(context.Background(), &events[i])
		require.NoError(t, err)
		hits = append(hits, h...)
		corr = append(corr, c...)
	}
	return hits, append(corr, eng.Flush()...)
}

// TestCorrelationOnAtomics: a value_count of distinct repository hosts per
// process fires on the four atomics' telemetry for exactly the processes
// that reached two hosts, with the events it rests on.
func TestCorrelationOnAtomics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "correlation_repo_hosts.yml"))
	require.NoError(t, err)
	s := loadSet(t, "correlation_repo_hosts.yml", data)
	events := goldenEvents(t)
	hits, corr := run(t, s, events)
	assert.Empty(t, hits, "the base rule only feeds the correlation (generate: false)")

	got := map[string]CorrelationHit{}
	for _, ch := range corr {
		require.Len(t, ch.Group, 2)
		assert.Equal(t, "Computer", ch.Group[0].Field)
		assert.Equal(t, "Image", ch.Group[1].Field)
		got[ch.Group[1].Value] = ch
		assert.Equal(t, "WS-FIN-0142.corp.example", ch.Group[0].Value, ch.String())
		assert.Equal(t, 2, ch.Count)
		require.Len(t, ch.Events, 2)
		for _, e := range ch.Events {
			ev := events[e.RecordID-1]
			assert.Equal(t, 3, ev.EventID)
			img, _ := ev.Get("Image")
			assert.Equal(t, ch.Group[1].Value, img)
			host, _ := ev.Get("DestinationHostname")
			assert.Equal(t, host, e.Value)
			assert.Equal(t, event.Recorded, e.Origin)
		}
		assert.NotEqual(t, ch.Events[0].Value, ch.Events[1].Value)
		assert.Contains(t, ch.String(), "value_count 2 (gte 2) within 10m0s of DestinationHostname for Computer=WS-FIN-0142.corp.example")
	}
	assert.ElementsMatch(t, []string{
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		`C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`,
		`C:\Windows\System32\curl.exe`,
		`C:\Users\j.doe\AppData\Local\Programs\Python\Python311\python.exe`,
	}, keys(got))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

const baseRules = `title: git push
name: git_push
id: 00000000-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
    sel:
        CommandLine|contains: 'git push'
    condition: sel
---
title: api upload
name: api_upload
id: 00000000-0000-4000-8000-000000000002
logsource: {category: network_connection, product: windows}
detection:
    sel:
        DestinationHostname: api.github.com
    condition: sel
---
`

func at(sec int, ev event.Event, rec uint64) event.Event {
	ev.TimeCreated = t0.Add(time.Duration(sec) * time.Second)
	ev.RecordID = rec
	return ev
}

func TestCorrelationTypes(t *testing.T) {
	push := func(sec int, host string, rec uint64) event.Event {
		return at(sec, procCreate(host, gitExe, "git push https://github.com/x/y", cmdExe), rec)
	}
	upload := func(sec int, host string, rec uint64) event.Event {
		return at(sec, netConnect(host, curlExe, "api.github.com"), rec)
	}
	tests := []struct {
		name   string
		corr   string
		events []event.Event
		// want: per fired hit, its group value and record ids.
		want []string
	}{
		{"event_count fires once the count is reached, per group",
			"type: event_count\n    rules: [git_push]\n    group-by: [Computer]\n    timespan: 1m\n    condition: {gte: 3}",
			[]event.Event{push(0, "A", 1), push(10, "B", 2), push(20, "A", 3), push(30, "A", 4), push(40, "B", 5)},
			[]string{"A: 1 3 4"}},
		{"event_count window slides: old events leave",
			"type: event_count\n    rules: [git_push]\n    group-by: [Computer]\n    timespan: 1m\n    condition: {gte: 3}",
			[]event.Event{push(0, "A", 1), push(50, "A", 2), push(70, "A", 3), push(100, "A", 4)},
			[]string{"A: 2 3 4"}},
		{"event_count with an upper bound is judged when the window closes",
			"type: event_count\n    rules: [git_push]\n    group-by: [Computer]\n    timespan: 1m\n    condition: {gte: 2, lt: 4}",
			[]event.Event{push(0, "A", 1), push(10, "A", 2), push(0, "B", 3), push(1, "B", 4), push(2, "B", 5), push(3, "B", 6)},
			[]string{"A: 1 2"}},
		{"temporal: both rules in any order",
			"type: temporal\n    rules: [git_push, api_upload]\n    group-by: [Computer]\n    timespan: 1m",
			[]event.Event{upload(0, "A", 1), push(10, "A", 2), push(20, "B", 3), upload(200, "B", 4)},
			[]string{"A: 1 2"}},
		{"temporal_ordered: only in the given order",
			"type: temporal_ordered\n    rules: [git_push, api_upload]\n    group-by: [Computer]\n    timespan: 1m",
			[]event.Event{upload(0, "A", 1), push(10, "A", 2), push(20, "B", 3), upload(30, "B", 4)},
			[]string{"B: 3 4"}},
		{"no group-by: one group",
			"type: event_count\n    rules: [git_push, api_upload]\n    timespan: 1m\n    condition: {gte: 2}",
			[]event.Event{push(0, "A", 1), upload(5, "B", 2)},
			[]string{": 1 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSet(t, "c.yml", []byte(baseRules+"title: c\nid: c1\ncorrelation:\n    "+tc.corr+"\n"))
			_, corr := run(t, s, tc.events)
			var got []string
			for _, ch := range corr {
				g := ""
				if len(ch.Group) > 0 {
					g = ch.Group[0].Value
				}
				ids := ""
				for _, e := range ch.Events {
					ids += fmt.Sprintf(" %d", e.RecordID)
				}
				got = append(got, g+":"+ids)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestCorrelationAliasesAndChains: the specification's aliases example
// (a field named differently in each rule) and a chain (a correlation
// counting another's hits).
func TestCorrelationAliasesAndChains(t *testing.T) {
	s := loadSet(t, "c.yml", []byte(baseRules+`title: pushes
name: many_pushes
id: c-many
correlation:
    type: event_count
    rules: [git_push]
    group-by: [User]
    timespan: 5m
    condition: {gte: 2}
---
title: many pushes then an upload by the same user
id: c-chain
correlation:
    type: temporal_ordered
    rules: [many_pushes, api_upload]
    group-by: [account]
    aliases:
        account:
            many_pushes: User
            api_upload: User
    timespan: 10m
`))
	evs := []event.Event{
		at(0, procCreate("A", gitExe, "git push x", cmdExe), 1),
		at(10, procCreate("A", gitExe, "git push y", cmdExe), 2),
		at(20, netConnect("A", curlExe, "api.github.com"), 3),
	}
	_, corr := run(t, s, evs)
	require.Len(t, corr, 2, "%v", corr)
	assert.Equal(t, "c-many", corr[0].Correlation.ID)
	assert.True(t, corr[0].Silent, "many_pushes only feeds the chain")
	assert.Equal(t, "c-chain", corr[1].Correlation.ID)
	assert.Equal(t, []GroupValue{{Field: "account", Value: `CORP\alice`}}, corr[1].Group)
	var ids []uint64
	for _, e := range corr[1].Events {
		ids = append(ids, e.RecordID)
	}
	assert.Equal(t, []uint64{1, 2, 3}, ids, "the chain rests on every event below it")
}

func TestCorrelationLoadErrors(t *testing.T) {
	tests := []struct{ corr, want string }{
		{"type: event_count\n    rules: [git_push]\n    timespan: 1m", "event_count correlation needs a condition"},
		{"type: value_count\n    rules: [git_push]\n    timespan: 1m\n    condition: {gte: 2}", "value_count correlation needs condition field"},
		{"type: sequence\n    rules: [git_push]\n    timespan: 1m", `correlation type "sequence" is not one of`},
		{"type: temporal\n    rules: [git_push]\n    timespan: 1 hour", `timespan "1 hour"`},
		{"type: temporal\n    rules: [git_push]", "correlation has no timespan"},
		{"type: event_count\n    rules: [git_push]\n    timespan: 1m\n    condition: {around: 2}", `correlation condition "around" is not one of`},
	}
	for _, tc := range tests {
		_, err := ParseFile("c.yml", []byte(baseRules+"title: c\ncorrelation:\n    "+tc.corr+"\n"), nil)
		require.Error(t, err, tc.corr)
		assert.Contains(t, err.Error(), tc.want)
		assert.Regexp(t, `^c\.yml:\d+: `, err.Error())
	}
	c, err := ParseFile("c.yml", []byte(baseRules+"title: c\ncorrelation:\n    type: temporal\n    rules: [git_push, nowhere]\n    timespan: 1m\n"), nil)
	require.NoError(t, err)
	_, err = Compile(c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rule "nowhere" is not loaded`)
}

// TestComplete: a correlation naming a correlation of another file brings
// it, and what it counts, from the library.
func TestComplete(t *testing.T) {
	lib, err := ParseFile("lib.yml", []byte(baseRules+"title: pushes\nname: many_pushes\nid: c-many\ncorrelation:\n    type: event_count\n    rules: [git_push]\n    group-by: [User]\n    timespan: 5m\n    condition: {gte: 2}\n"), nil)
	require.NoError(t, err)
	c, err := ParseFile("chain.yml", []byte("title: chain\nid: c-chain\ncorrelation:\n    type: temporal_ordered\n    rules: [many_pushes, api_upload]\n    group-by: [User]\n    timespan: 10m\n"), nil)
	require.NoError(t, err)
	_, err = Compile(c)
	assert.ErrorContains(t, err, `rule "many_pushes" is not loaded`)
	full := c.Complete(lib)
	require.Len(t, full.Correlations, 2)
	assert.Len(t, full.Rules, 2, "git_push for many_pushes, api_upload for the chain")
	s, err := Compile(full)
	require.NoError(t, err)
	_, corr := run(t, s, []event.Event{
		at(0, procCreate("A", gitExe, "git push x", cmdExe), 1),
		at(10, procCreate("A", gitExe, "git push y", cmdExe), 2),
		at(20, netConnect("A", curlExe, "api.github.com"), 3),
	})
	require.Len(t, corr, 2)
	assert.Equal(t, "c-chain", corr[1].Correlation.ID)
	assert.False(t, corr[1].Silent)
}

// text renders a golden JSON value as the event's field text.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
