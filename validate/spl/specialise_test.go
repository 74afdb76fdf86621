package spl

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyedEvent is an Event map that declares index, sourcetype and
// EventCode constant per (sourcetype, EventCode), as a Windows view does
// per channel and code.
type keyedEvent struct{ Event }

func (e keyedEvent) Key() Key {
	code, _ := strconv.Atoi(e.Event["EventCode"])
	if _, ok := e.Event["EventCode"]; !ok {
		code = -1 // no code is a key of its own
	}
	return Key{Class: e.Event["index"] + "|" + e.Event["sourcetype"], Code: code}
}

func (keyedEvent) Constant(name string) bool {
	return name == "index" || name == "sourcetype" || name == "EventCode"
}

// runStream runs q over events through a Stream, each wrapped by wrap.
func runStream(t *testing.T, q *Query, events []Event, wrap func(Event) Fields) []Row {
	t.Helper()
	var rows []Row
	s := q.Stream(context.Background(), func(r Row) error { rows = append(rows, r); return nil })
	for _, ev := range events {
		require.NoError(t, s.Push(wrap(ev)))
	}
	require.NoError(t, s.Close())
	return rows
}

// A search specialised per key keeps exactly the rows of the unspecialised
// one, whatever the terms on constant fields: negated, ranged, missing.
func TestSpecialisedSearchKeepsTheRows(t *testing.T) {
	events := benchEvents(400)
	for i := range events {
		events[i]["index"] = "wineventlog"
		events[i]["sourcetype"] = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
	}
	// Other logs and an event without a code share the stream.
	events = append(events,
		Event{"index": "proxy", "sourcetype": "squid", "EventCode": "3", "Image": gitExe, "DestinationHostname": "github.com", "_time": "1"},
		Event{"index": "wineventlog", "sourcetype": "XmlWinEventLog:Security", "Image": gitExe, "CommandLine": "git push https://github.com/a", "_time": "2"},
		Event{"index": "wineventlog", "sourcetype": "XmlWinEventLog:Security", "EventCode": "4688", "NewProcessName": gitExe, "_time": "3"},
	)
	for _, tc := range []struct{ name, src string }{
		{"seed", seedQuery},
		{"negated code", `index=wineventlog NOT EventCode=11 Image="*\\git.exe"`},
		{"ranges", `EventCode>2 EventCode<=22 NOT (EventCode=3 OR EventCode=4688) | stats count by EventCode`},
		{"mixed OR", `NOT index=proxy (EventCode=1 OR CommandLine="*push*")`},
		{"all constant", `index=nothing OR sourcetype=squid`},
		{"missing code", `NOT EventCode=* | table _time`},
		{"later where", `EventCode IN (1, 3) | where EventCode=3 | table _time, Image`},
		{"case on the code", `| eval s=case(EventCode="3", "net", EventCode="1" AND match(CommandLine, "push"), "push", 1==1, "other") | stats count by s`},
		{"a reassigned code", `| eval EventCode=if(match(Image, "git"), 1, EventCode+100) | where EventCode=1 OR EventCode>=103 | stats count by EventCode, Image`},
		{"xor, not, if, a case with no true branch", `| eval a=if(EventCode=11 XOR match(Image, "git"), 1, 0), b=if(NOT EventCode=22 OR match(index, "^win"), "y", "n"), c=coalesce(case(EventCode=99, 1), "none") | stats count by a, b, c`},
		{"where mixing constant and other terms", `| where EventCode=3 OR EventCode=1 AND match(sourcetype, "Sysmon") AND match(CommandLine, "git") | table _time, EventCode`},
		{"expressions left as they are", `| eval t=EventCode . "-" . index, n=len(sourcetype) + EventCode | stats count by t, n`},
		{"an eval's literal read by later commands", `| eval s=if(EventCode=3, "net", "other"), t=s."!" | eval s=if(match(Image, "git"), "g", s) | where s!="x" | eval u=if(s="g", "git", t) | stats count by u`},
		{"after table", `| table EventCode, Image | eval x=EventCode | where x=3 | stats count by x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.src)
			require.NoError(t, err)
			plain := runStream(t, q, events, func(e Event) Fields { return e })
			keyed := runStream(t, q, events, func(e Event) Fields { return keyedEvent{e} })
			assert.Equal(t, plain, keyed)
		})
	}
}

// Specialised for a Sysmon file event, the seed search is decided without
// a lookup; for a network event only the host and image terms remain.
func TestSpecialiseDecidesTheConstantTerms(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)
	search := q.search.fast
	base := Event{"index": "wineventlog", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"}
	at := func(code string) *sNode {
		ev := Event{"EventCode": code}
		for k, v := range base {
			ev[k] = v
		}
		r := &record{}
		r.reset(ev)
		return search.specialise(r, keyedEvent{ev})
	}
	assert.Same(t, falseNode, at("11"))
	net := at("3")
	require.Equal(t, sAnd, net.op)
	var fields []string
	for _, k := range net.kids {
		fields = append(fields, k.field)
	}
	assert.ElementsMatch(t, []string{"DestinationHostname", "Image"}, fields)
}

// Specialised for a network event, the seed query's Signal is decided; for
// a process creation event, only the command line tests remain.
func TestSpecialiseDecidesTheSeedSignal(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)
	eval := q.cmds[1].(*evalCmd)
	require.True(t, eval.keyed)
	at := func(code string) expr {
		ev := Event{"index": "wineventlog", "EventCode": code}
		r := &record{}
		r.reset(ev)
		return specExpr(eval.assigns[0].e, &specEnv{r: r, k: keyedEvent{ev}, assigned: eval.assigned})
	}
	lit, ok := at("3").(*litExpr)
	require.True(t, ok, "decided for Sysmon 3")
	assert.Equal(t, "NetworkConnectionToCodeRepo", lit.v.String())
	proc, ok := at("1").(*caseExpr)
	require.True(t, ok)
	assert.Len(t, proc.conds, 2, "the two command-line branches")
	require.NotNil(t, proc.els)
	assert.Equal(t, "Unknown", proc.els.eval(nil).String())
	assert.Equal(t, "Unknown", at("11").eval(nil).String())
}

// Keys that share a slot of the cache keep their specialisations: a stream
// alternating them makes each once.
func TestSpecCacheKeepsClashingKeys(t *testing.T) {
	c := specCache{cmds: 1}
	a := keyedEvent{Event{"EventCode": "1"}}
	b := keyedEvent{Event{"EventCode": "33"}} // 33 % 32 == 1, the same class
	first := map[string]*keySpec{}
	for range 3 {
		for _, ev := range []keyedEvent{a, b} {
			ks := c.lookup(ev)
			require.Equal(t, ev.Key(), ks.key)
			code := ev.Event["EventCode"]
			if first[code] == nil {
				first[code] = ks
			}
			assert.Same(t, first[code], ks, "made once per key")
		}
	}
	assert.Len(t, c.all, 2)
}

// The seed's SuspicionScore, specialised for a network event after Signal
// was decided, keeps only the branches a network connection can take.
func TestSpecialiseCarriesAnEvalsLiteral(t *testing.T) {
	q, err := Parse(seedQuery)
	require.NoError(t, err)
	ev := Event{"index": "wineventlog", "EventCode": "3"}
	r := &record{}
	r.reset(ev)
	ks := &keySpec{}
	for _, c := range q.cmds[1:5] {
		e := c.(*evalCmd)
		sp := &specEnv{r: r, k: keyedEvent{ev}, assigned: e.assigned, ks: ks}
		for _, a := range e.assigns {
			x := specExpr(a.e, sp)
			ks.assigned(a.field, x)
			if a.field == "SuspicionScore" {
				c, ok := x.(*caseExpr)
				require.True(t, ok)
				assert.Len(t, c.conds, 2, "the two NetworkConnectionToCodeRepo branches")
			}
		}
	}
	require.Len(t, ks.consts, 1)
	assert.Equal(t, "Signal", ks.consts[0].name)
}

// Only a query that begins with search, where or eval looks its events'
// keys up.
func TestKeyedQueries(t *testing.T) {
	for src, want := range map[string]bool{
		seedQuery:                           true,
		`| eval x=1 | stats count by x`:     true,
		`| where x=1 | table x`:             true,
		`| stats count by EventCode`:        false,
		`| table EventCode | where x=1`:     false,
		`| dedup host | search EventCode=1`: false,
	} {
		q, err := Parse(src)
		require.NoError(t, err)
		assert.Equal(t, want, q.keyed, src)
	}
}
