package spl

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each case states the documented Splunk behaviour it checks. Sources:
// Splunk Search Manual "Boolean expressions" and "Use wildcards", Search
// Reference for search, where, eval (and the evaluation functions), sort,
// head, dedup, stats, rename, fields and table.

var searchEvents = []Event{
	{"id": "1", "index": "main", "Image": `C:\Program Files\Git\bin\git.exe`, "CommandLine": "git push origin main", "EventCode": "1", "host": "WS-01", "Count": "10"},
	{"id": "2", "index": "main", "Image": `C:\Windows\System32\curl.exe`, "CommandLine": `curl -X POST -H "Accept: application/json" https://api.github.com/gists`, "EventCode": "3", "host": "ci-runner-1", "Count": "9"},
	{"id": "3", "index": "other", "Image": `C:\Tools\git-remote-https.exe`, "EventCode": "3", "host": "ws-02", "Count": "abc", "Empty": ""},
	{"id": "4", "index": "other", "_raw": "Accepted password for root from 10.0.0.1", "host": "linux-01", "EventCode": "4624"},
}

func TestConformanceSearch(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // ids of matching events
	}{
		{"field=value: numbers match as text", `EventCode=3`, []string{"2", "3"}},
		{"quoted value same as unquoted", `EventCode="3"`, []string{"2", "3"}},
		{"search = is a text match, 03 is not 3", `EventCode=03`, nil},
		{"\\\\ in quotes is one backslash", `Image="*\\git.exe"`, []string{"1"}},
		{"leading wildcard", `Image="*git.exe"`, []string{"1"}},
		{"wildcards at both ends", `Image=*git*`, []string{"1", "3"}},
		{"field names are case-sensitive", `image=*git*`, nil},
		{"values are case-insensitive", `Image="*\\GIT.EXE"`, []string{"1"}},
		{"trailing wildcard, case-insensitive value", `host=WS-*`, []string{"1", "3"}},
		{"wildcard prefix match", `CommandLine="git push*"`, []string{"1"}},
		{"wildcard anchors the end", `CommandLine="*push"`, nil},
		{"unquoted wildcard value", `CommandLine=*push*`, []string{"1"}},
		{"field=* requires the field", `CommandLine=*`, []string{"1", "2"}},
		{"NOT field=* matches missing fields", `NOT CommandLine=*`, []string{"3", "4"}},
		{"!= requires the field to exist", `CommandLine!=*push*`, []string{"2"}},
		{"NOT field=value matches missing fields", `NOT CommandLine=*push*`, []string{"2", "3", "4"}},
		{"!= compares case-insensitively", `host!=ws-01`, []string{"2", "3", "4"}},
		{"OR", `EventCode=1 OR EventCode=4624`, []string{"1", "4"}},
		{"implicit AND", `EventCode=3 host=ci*`, []string{"2"}},
		{"explicit AND", `EventCode=3 AND host=ci*`, []string{"2"}},
		{"search evaluates OR before AND", `EventCode=3 OR EventCode=1 host=WS-01`, []string{"1"}},
		{"explicit AND also binds looser than OR", `EventCode=3 OR EventCode=1 AND host=WS-01`, []string{"1"}},
		{"parentheses group", `(EventCode=3 OR EventCode=1) host=WS-01`, []string{"1"}},
		{"parentheses override OR-before-AND", `EventCode=3 OR (EventCode=1 host=WS-01)`, []string{"1", "2", "3"}},
		{"NOT applies only to the next term", `NOT EventCode=3 OR EventCode=1`, []string{"1", "4"}},
		{"NOT of a group", `NOT (EventCode=3 OR EventCode=1)`, []string{"4"}},
		{"double NOT", `NOT NOT id=1`, []string{"1"}},
		{"lowercase or is a search term, not an operator", `id=3 or id=4`, nil},
		{"IN list", `EventCode IN (1, 4624)`, []string{"1", "4"}},
		{"IN with quoted wildcard", `host IN ("ci*", "linux-01")`, []string{"2", "4"}},
		{"IN with one value", `host IN (WS-01)`, []string{"1"}},
		{"NOT IN", `NOT host IN (WS-01, ws-02)`, []string{"2", "4"}},
		{"> numeric when both numbers, else lexicographic", `Count>9`, []string{"1", "3"}},
		{"< numeric: 9 < 10", `Count<10`, []string{"2"}},
		{">= numeric and lexicographic", `Count>=10`, []string{"1", "3"}},
		{"<= numeric", `Count<=9`, []string{"2"}},
		{"> on an event code", `EventCode>100`, []string{"4"}},
		{"< lexicographic on text", `host<m`, []string{"1", "2", "4"}},
		{"bare term searches _raw", `password`, []string{"4"}},
		{"bare term is case-insensitive", `PASSWORD`, []string{"4"}},
		{"bare term with wildcard", `Accepted*root`, []string{"4"}},
		{"bare term without _raw searches field values", `gists`, []string{"2"}},
		{"quoted phrase", `"git push"`, []string{"1"}},
		{"bare term only searches _raw when present", `linux-01`, nil},
		{"index is an ordinary field, value case-insensitive", `index=MAIN`, []string{"1", "2"}},
		{"explicit search command", `search EventCode=1`, []string{"1"}},
		{"search later in the pipeline", `EventCode=3 | search host=ci*`, []string{"2"}},
		{"spaces around =", `EventCode = 3`, []string{"2", "3"}},
		{"unquoted backslashes are kept", `Image=C:\Tools\*`, []string{"3"}},
		{"unquoted escaped backslashes", `Image=C:\\Tools\\*`, []string{"3"}},
		{"\\\" in quotes is a quote", `CommandLine="*\"Accept*"`, []string{"2"}},
		{"time modifiers do not filter replayed events", `earliest=-24h EventCode=1`, []string{"1"}},
		{"comments are ignored", "EventCode=1 ```a comment``` OR EventCode=4624", []string{"1", "4"}},
		{"? is not a wildcard", `host=ws-0?`, nil},
		{"OR of wildcard terms", `Image="*git.exe" OR Image="*curl.exe"`, []string{"1", "2"}},
		{"contradiction", `id=1 id=2`, nil},
		{"field=\"*\" matches every event with the field", `id="*"`, []string{"1", "2", "3", "4"}},
		{"empty value matches an empty field", `Empty=""`, []string{"3"}},
		{"nested groups", `((EventCode=3 (host=ci* OR host=ws*)) OR (EventCode=1 (Image=*git.exe)))`, []string{"1", "2", "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.query)
			require.NoError(t, err)
			rows, err := q.Run(searchEvents)
			require.NoError(t, err)
			var got []string
			for _, r := range rows {
				got = append(got, r.Get("id").String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

var exprEvent = Event{"a": "5", "b": "abc", "n": "3", "s": "Hello", "path": `C:\x\git.exe`, "cmd": "git push https://github.com/x"}

func TestConformanceEval(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want Value
	}{
		{"addition", `1+2`, NumberValue(3)},
		{"numeric field text is a number", `a+1`, NumberValue(6)},
		{"multiplication", `a*2`, NumberValue(10)},
		{"division", `a/2`, NumberValue(2.5)},
		{"modulo", `a%3`, NumberValue(2)},
		{"subtraction to negative", `a-10`, NumberValue(-5)},
		{"division by zero is null", `1/0`, NullValue()},
		{"arithmetic with null is null", `missing+1`, NullValue()},
		{"concatenation with null is null", `"x".missing`, NullValue()},
		{". concatenates", `s." ".b`, StringValue("Hello abc")},
		{". concatenates numbers as text", `a.n`, StringValue("53")},
		{"+ concatenates strings", `"a"+"b"`, StringValue("ab")},
		{"unary minus", `-a`, NumberValue(-5)},
		{"* before +", `2+3*4`, NumberValue(14)},
		{"parentheses", `(2+3)*4`, NumberValue(20)},
		{"case: first true condition", `case(a=5, "five", 1==1, "other")`, StringValue("five")},
		{"case: no condition true is null", `case(a=6, "six")`, NullValue()},
		{"case: null condition is false, 1==1 default", `case(missing=1, "x", 1==1, "default")`, StringValue("default")},
		{"if true branch", `if(a>4, "big", "small")`, StringValue("big")},
		{"if with null comparison takes else", `if(missing>4, "big", "small")`, StringValue("small")},
		{"lower", `lower(s)`, StringValue("hello")},
		{"upper", `upper(s)`, StringValue("HELLO")},
		{"len", `len(s)`, NumberValue(5)},
		{"len of null is null", `len(missing)`, NullValue()},
		{"coalesce skips null", `coalesce(missing, b)`, EventValue("abc")},
		{"coalesce of nulls is null", `coalesce(missing, missing2)`, NullValue()},
		{"isnull", `if(isnull(missing), 1, 0)`, NumberValue(1)},
		{"isnotnull", `if(isnotnull(a), 1, 0)`, NumberValue(1)},
		{"tostring integer", `tostring(3)`, StringValue("3")},
		{"tostring decimal", `tostring(2.5)`, StringValue("2.5")},
		{"tostring hex", `tostring(255, "hex")`, StringValue("0xFF")},
		{"tostring Boolean is True", `tostring(1==1)`, StringValue("True")},
		{"tonumber", `tonumber("42")`, NumberValue(42)},
		{"tonumber base 16", `tonumber("ff", 16)`, NumberValue(255)},
		{"tonumber of text is null", `tonumber(b)`, NullValue()},
		{"substr is 1-based", `substr(s, 2, 3)`, StringValue("ell")},
		{"substr negative start counts from the end", `substr(s, -3)`, StringValue("llo")},
		{"substr to the end", `substr(s, 1)`, StringValue("Hello")},
		{"replace with \\1 group reference", `replace(cmd, "https://([^/]+)/.*", "\1")`, StringValue("git push github.com")},
		{"replace every match", `replace(s, "l", "L")`, StringValue("HeLLo")},
		{"mvcount of a single value", `mvcount(a)`, NumberValue(1)},
		{"mvcount of null is null", `mvcount(missing)`, NullValue()},
		{"match with (?i)", `if(match(path, "(?i)GIT\.exe$"), 1, 0)`, NumberValue(1)},
		{"match is case-sensitive", `if(match(path, "GIT\.exe$"), 1, 0)`, NumberValue(0)},
		{"match is unanchored", `if(match(cmd, "push"), 1, 0)`, NumberValue(1)},
		{"match of null is false", `if(match(missing, ".*"), 1, 0)`, NumberValue(0)},
		{"like %", `if(like(s, "H%o"), 1, 0)`, NumberValue(1)},
		{"like is case-sensitive", `if(like(s, "h%"), 1, 0)`, NumberValue(0)},
		{"like _ is one character", `if(like(s, "Hell_"), 1, 0)`, NumberValue(1)},
		{"LIKE operator", `if(s LIKE "%ll%", 1, 0)`, NumberValue(1)},
		{"round", `round(2.567, 2)`, NumberValue(2.57)},
		{"abs", `abs(-3)`, NumberValue(3)},
		{"trim", `trim("  x ")`, StringValue("x")},
		{"in()", `if(in(b, "x", "abc"), 1, 0)`, NumberValue(1)},
		{"single-quoted field name", `'a' + 1`, NumberValue(6)},
		{"null() removes the field", `null()`, NullValue()},
		{"\\\" in an eval string", `"a\"b"`, StringValue(`a"b`)},
		{"\\\\ in an eval string", `"c:\\x"`, StringValue(`c:\x`)},
		{"other escapes reach the regex engine", `"github\.com"`, StringValue(`github\.com`)},
		{"field copy keeps event text", `s`, EventValue("Hello")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse("| eval r=" + tc.expr)
			require.NoError(t, err)
			rows, err := q.Run([]Event{exprEvent})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			got, ok := rows[0].Values["r"]
			if tc.want.IsNull() {
				assert.False(t, ok, "eval assigning null removes the field, got %v", got)
				assert.NotContains(t, rows[0].Fields, "r")
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConformanceWhere(t *testing.T) {
	tests := []struct {
		name string
		cond string
		want bool
	}{
		{"= numeric", `a=5`, true},
		{"field text equals string literal", `a="5"`, true},
		{"== is =", `a==5`, true},
		{"where comparisons are case-sensitive", `s="hello"`, false},
		{"exact case matches", `s="Hello"`, true},
		{"> false", `a>10`, false},
		{">= true", `a>=5`, true},
		{"fields compare numerically", `n<a`, true},
		{"text compares lexicographically", `b>"abb"`, true},
		{"comparison with null is false", `missing>=2`, false},
		{"!= with null is false", `missing!=2`, false},
		{"NOT of a null comparison", `NOT missing=2`, true},
		{"eval/where evaluate AND before OR", `a=1 AND b="x" OR s="Hello"`, true},
		{"AND before OR, other order", `s="Hello" OR a=1 AND b="x"`, true},
		{"NOT binds tightest", `NOT a=5 OR b="abc"`, true},
		{"NOT of a group", `NOT (a=5 OR b="abc")`, false},
		{"XOR both true", `a=5 XOR b="abc"`, false},
		{"XOR one true", `a=5 XOR b="x"`, true},
		{"XOR is looser than OR", `a=5 XOR a=5 OR a=1`, false},
		{"isnull", `isnull(missing)`, true},
		{"isnotnull", `isnotnull(missing)`, false},
		{"IN operator", `a IN (1, 5)`, true},
		{"IN is case-sensitive", `b IN ("ABC")`, false},
		{"match with escaped backslash", `match(path, "\\\\git\.exe$")`, true},
		{"like()", `like(path, "%git.exe")`, true},
		{"parentheses", `a=5 AND (b="x" OR s="Hello")`, true},
		{"true()", `true()`, true},
		{"false()", `false()`, false},
		{"1==1", `1==1`, true},
		{"number vs text compares as text", `a>b`, false},
		{". binds tighter than =", `n."x"="3x"`, true},
		{"function in comparison", `len(s)=5`, true},
		{"isnum", `isnum(a)`, true},
		{"isstr", `isstr(b)`, true},
		{"searchable case()", `case(a=5, 1==1)`, true},
		{"literals compared once: false", `1==2 OR "b"<"a"`, false},
		{"field text against a string literal is text", `a>="10"`, true},
		{"field text against a number is numeric", `a>=10`, false},
		{"eval number against a string literal is text", `a*2="10"`, true},
		{"eval number against a string literal, lexicographic", `a*2<"9"`, true},
		{"Boolean against a string literal is its text", `(a=5)="true"`, true},
		{"case() with no true condition is null", `isnull(case(a=1, "x"))`, true},
		{"if() takes its else", `if(a=1, "x", "y")="y"`, true},
		{"a non-Boolean condition is false", `if(a, "x", "y")="y"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse("| where " + tc.cond)
			require.NoError(t, err)
			rows, err := q.Run([]Event{exprEvent})
			require.NoError(t, err)
			assert.Equal(t, tc.want, len(rows) == 1)
		})
	}
}

var pipeEvents = []Event{
	{"id": "1", "host": "b", "score": "3", "user": "x", "_time": "2024-01-02T00:00:00Z"},
	{"id": "2", "host": "a", "score": "10", "user": "y", "_time": "2024-01-03T00:00:00Z"},
	{"id": "3", "host": "c", "score": "abc", "user": "x", "_time": "2024-01-01T00:00:00Z"},
	{"id": "4", "host": "a", "score": "2", "_time": "2023-12-31T23:00:00Z"},
}

func TestConformancePipeline(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // JSON of each row
	}{
		{"sort: numbers numerically, before strings", `| sort score | table id`, []string{`{"id":"4"}`, `{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}},
		{"sort - field reverses", `| sort - score | table id`, []string{`{"id":"3"}`, `{"id":"2"}`, `{"id":"1"}`, `{"id":"4"}`}},
		{"sort -field", `| sort -score | table id`, []string{`{"id":"3"}`, `{"id":"2"}`, `{"id":"1"}`, `{"id":"4"}`}},
		{"sort on several keys", `| sort host, -id | table id`, []string{`{"id":"4"}`, `{"id":"2"}`, `{"id":"1"}`, `{"id":"3"}`}},
		{"sort + and - per key", `| sort + host - id | table id`, []string{`{"id":"4"}`, `{"id":"2"}`, `{"id":"1"}`, `{"id":"3"}`}},
		{"sort: missing values last ascending", `| sort user | table id`, []string{`{"id":"1"}`, `{"id":"3"}`, `{"id":"2"}`, `{"id":"4"}`}},
		{"sort: missing values last descending", `| sort - user | table id`, []string{`{"id":"2"}`, `{"id":"1"}`, `{"id":"3"}`, `{"id":"4"}`}},
		{"sort N limits the results", `| sort 2 id | table id`, []string{`{"id":"1"}`, `{"id":"2"}`}},
		{"sort limit=", `| sort limit=1 - id | table id`, []string{`{"id":"4"}`}},
		{"sort str() is lexicographic", `| sort str(score) | table id`, []string{`{"id":"2"}`, `{"id":"4"}`, `{"id":"1"}`, `{"id":"3"}`}},
		{"sort - _time orders ISO timestamps as times", `| sort - _time | table id`, []string{`{"id":"2"}`, `{"id":"1"}`, `{"id":"3"}`, `{"id":"4"}`}},
		{"sort trailing desc", `| sort id desc | table id`, []string{`{"id":"4"}`, `{"id":"3"}`, `{"id":"2"}`, `{"id":"1"}`}},
		{"head N", `| head 2 | table id`, []string{`{"id":"1"}`, `{"id":"2"}`}},
		{"head defaults to 10", `| head | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`, `{"id":"4"}`}},
		{"head limit=", `| head limit=1 | table id`, []string{`{"id":"1"}`}},
		{"head after sort", `| sort - id | head 1 | table id`, []string{`{"id":"4"}`}},
		{"dedup keeps the first", `| dedup host | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}},
		{"dedup drops results missing the field", `| dedup user | table id`, []string{`{"id":"1"}`, `{"id":"2"}`}},
		{"dedup keepempty=true", `| dedup user keepempty=true | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"4"}`}},
		{"dedup N keeps N per value", `| dedup 2 user | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}},
		{"dedup several fields", `| dedup host user | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}},
		{"stats count", `| stats count`, []string{`{"count":4}`}},
		{"stats count of nothing is 0", `id=99 | stats count`, []string{`{"count":0}`}},
		{"stats by: rows sorted by the by-field", `| stats count by host`, []string{`{"host":"a","count":2}`, `{"host":"b","count":1}`, `{"host":"c","count":1}`}},
		{"stats count(X), dc, values, AS", `| stats count(user) as n, dc(user), values(user) by host`, []string{`{"host":"a","n":1,"dc(user)":1,"values(user)":["y"]}`, `{"host":"b","n":1,"dc(user)":1,"values(user)":["x"]}`, `{"host":"c","n":1,"dc(user)":1,"values(user)":["x"]}`}},
		{"values() is sorted and distinct", `| stats values(host) AS hosts`, []string{`{"hosts":["a","b","c"]}`}},
		{"stats by omits results missing the by-field", `| stats count by user`, []string{`{"user":"x","count":2}`, `{"user":"y","count":1}`}},
		{"stats min max sum avg use the numbers", `| stats min(score), max(score), sum(score), avg(score)`, []string{`{"min(score)":2,"max(score)":10,"sum(score)":15,"avg(score)":5}`}},
		{"stats by two fields", `| stats count by host, user`, []string{`{"host":"a","user":"y","count":1}`, `{"host":"b","user":"x","count":1}`, `{"host":"c","user":"x","count":1}`}},
		{"stats then sort then head", `| stats count by host | sort - count | head 1`, []string{`{"host":"a","count":2}`}},
		{"search on stats output", `| stats count by host | search count>1`, []string{`{"host":"a","count":2}`}},
		{"values() output is searchable", `| stats values(user) as u by host | search u=y`, []string{`{"host":"a","u":["y"]}`}},
		{"rename AS", `| rename host AS h | table id, h | head 1`, []string{`{"id":"1","h":"b"}`}},
		{"rename as (lowercase)", `| rename host as h | table h | head 1`, []string{`{"h":"b"}`}},
		{"rename after table keeps the column position", `| table id host score | rename host AS h | head 1`, []string{`{"id":"1","h":"b","score":"3"}`}},
		{"rename of a missing field changes nothing", `| rename nope AS host | table host | head 1`, []string{`{"host":"b"}`}},
		{"fields - removes", `| fields - user, score, _time | head 1`, []string{`{"host":"b","id":"1"}`}},
		{"fields keeps listed fields in order, plus _time", `| fields id, host | head 1`, []string{`{"id":"1","host":"b","_time":"2024-01-02T00:00:00Z"}`}},
		{"table shows missing fields as null", `| table id, nope | head 1`, []string{`{"id":"1","nope":null}`}},
		{"table field order is the list order", `| table user score id | head 1`, []string{`{"user":"x","score":"3","id":"1"}`}},
		{"table wildcard field names", `| eval hx=1 | table id h* | head 1`, []string{`{"id":"1","host":"b","hx":1}`}},
		{"table after table drops fields", `| table id | table id host | head 1`, []string{`{"id":"1","host":null}`}},
		{"eval after table adds a column", `| table id | eval z=1 | head 1`, []string{`{"id":"1","z":1}`}},
		{"eval assignments run in order", `| eval a=1, b=a+1 | table b | head 1`, []string{`{"b":2}`}},
		{"eval null() removes the field", `| eval user=null() | stats count(user)`, []string{`{"count(user)":0}`}},
		{"eval overwrites a field", `| eval score=score*2 | where score>=6 | table id score`, []string{`{"id":"1","score":6}`, `{"id":"2","score":20}`}},
		{"where text vs number compares as text", `| where score > 2 | table id`, []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}},
		{"search after pipe is case-insensitive", `| search host=A | table id`, []string{`{"id":"2"}`, `{"id":"4"}`}},
		{"where is case-sensitive", `| where host="A" | table id`, nil},
		{"sort keeps eval's value over the event's", `| eval host="z" | table id, host | sort - id | head 1`, []string{`{"id":"4","host":"z"}`}},
		{"sort keeps a removed field removed", `| eval host=null() | table id, host | sort id | head 1`, []string{`{"id":"1","host":null}`}},
		{"rename after a sort of a table", `| table id, host | sort - id | rename host AS h | head 1`, []string{`{"id":"4","h":"a"}`}},
		{"eval after a sort of a table reads the kept values", `| table id, score | sort id | eval s=score*2 | where s>5 | table id, s`, []string{`{"id":"1","s":6}`, `{"id":"2","s":20}`}},
		{"a bare term after a sort of a table skips metadata", `| table id, host, user | sort id | search a`, nil},
		{"a bare term after a sort of a table matches the other fields", `| table id, host, user | sort id | search x | table id`, []string{`{"id":"1"}`, `{"id":"3"}`}},
		{"eval reads and replaces a field rename made", `| eval a=1 | rename a AS b | eval b=b+1, c=b*10 | table b, c | head 1`, []string{`{"b":2,"c":20}`}},
		{"eval replaces what an earlier eval assigned", `| eval s="x", s=s."y" | eval s=s."z" | table s | head 1`, []string{`{"s":"xyz"}`}},
		{"fields table left out stay out after sort", `| eval x=1 | table id | sort - id | eval y=x | table id, x, y, host | head 1`, []string{`{"id":"4","x":null,"y":null,"host":null}`}},
		{"row fields without table: sorted event fields then new fields", `| eval z=1, a0=2 | head 1`, []string{`{"_time":"2024-01-02T00:00:00Z","host":"b","id":"1","score":"3","user":"x","z":1,"a0":2}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.query)
			require.NoError(t, err)
			rows, err := q.Run(pipeEvents)
			require.NoError(t, err)
			var got []string
			for _, r := range rows {
				b, err := json.Marshal(r)
				require.NoError(t, err)
				got = append(got, string(b))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRunTimeBooleanAssignment(t *testing.T) {
	q, err := Parse("| eval x=if(a=5, a=5, 0)")
	require.NoError(t, err)
	_, err = q.Run([]Event{exprEvent})
	require.Error(t, err)
	var b errBoolAssign
	assert.ErrorAs(t, err, &b)
	assert.Contains(t, err.Error(), "spl: 1:3: eval:")
}

func TestQueryIsReusable(t *testing.T) {
	// Per-run state (head, dedup) must not leak between runs.
	q, err := Parse("| dedup host | head 2 | table id")
	require.NoError(t, err)
	for range 2 {
		rows, err := q.Run(pipeEvents)
		require.NoError(t, err)
		assert.Len(t, rows, 2)
	}
}

func TestPCREOnlyConstructs(t *testing.T) {
	for _, re := range []string{`(?=x)`, `(?!x)`, `(?<=x)`, `(?<!x)`, `(?>x)`, `(a)\1`, `a*+`, `a++`, `\k<n>`} {
		t.Run(re, func(t *testing.T) {
			_, err := Parse(`| where match(f, "` + re + `")`)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "PCRE-only and unsupported by Go's RE2 engine")
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
		})
	}
	for _, re := range []string{`(?i)abc`, `[\d]+\.exe$`, `a{2}+`, `(?P<name>x)`, `[(?=]`} {
		_, err := Parse(`| where match(f, "` + re + `")`)
		if re == `a{2}+` {
			require.Error(t, err, "possessive {n}+")
			continue
		}
		assert.NoError(t, err, re)
	}
}
