package spl

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fuzzSeeds = []string{
	seedQuery,
	`index=wineventlog EventCode=1 Image="*\\git.exe" CommandLine="*push*" | table host, CommandLine`,
	`EventCode IN (1, 3, "2*") NOT host=ci-* | stats count, dc(Image) as images, values(host) by User | sort - count`,
	`| where match(host, "(?i)(jenkins|ci[-_])") AND NOT isnull(x) OR y LIKE "a%" XOR z IN (1, 2)`,
	`a=1 | eval s=substr(lower(x), 2, 3) . "-" . tostring(n*2+1), t='Field Name' | rename s AS t2 | fields - t | dedup 2 t2 keepempty=true | head limit=5`,
	"`macro` a=1",
	"a=1 ```comment``` | sort 0 num(x), -str(y) desc",
	`(a=1 OR (b="x\"y" c<=3)) | where replace(x, "(a)", "\1")="a"`,
}

func FuzzLex(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, m := range []lexMode{modeSearch, modeList, modeExpr} {
			toks, err := lexAll(src, m)
			if err != nil {
				checkSyntaxError(t, err)
				continue
			}
			if len(toks) == 0 || toks[len(toks)-1].kind != tEOF {
				t.Fatalf("token stream does not end with EOF")
			}
			for _, tk := range toks {
				if tk.pos < 0 || tk.end > len(src) || tk.pos > tk.end {
					t.Fatalf("token %+v out of range", tk)
				}
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	events := []Event{
		{"a": "1", "b": "x", "host": "jenkins-1", "x": "abc", "n": "3", "_time": "5"},
		{"EventCode": "1", "Image": `C:\x\git.exe`, "CommandLine": "git push https://github.com/a/b"},
		{},
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			checkSyntaxError(t, err)
			return
		}
		// A query that parses must also run and explain without panicking.
		_, _ = q.Run(events)
		for _, ev := range events {
			_ = q.Explain(ev).String()
		}
	})
}

func checkSyntaxError(t *testing.T, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
	}
	if se.Line < 1 || se.Column < 1 {
		t.Fatalf("bad position %d:%d in %v", se.Line, se.Column, err)
	}
	_ = se.Error()
}

// TestLargeQuery guards against quadratic work in parsing, optimising and
// explaining: 20,000 OR'ed terms and 3,000 nested groups.
func TestLargeQuery(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("a=" + strings.Repeat("x", i%7+1))
	}
	b.WriteString(strings.Repeat(" (", 3000) + "b=1" + strings.Repeat(")", 3000))
	q, err := Parse(b.String())
	require.NoError(t, err)
	rows, err := q.Run([]Event{{"a": "xx", "b": "1"}, {"a": "y", "b": "1"}})
	require.NoError(t, err)
	assert.Len(t, rows, 1)
	x := q.Explain(Event{"a": "y"})
	assert.False(t, x.Kept)
	assert.Len(t, x.Search.Leaves(), 20001)
}

func TestExplainShapes(t *testing.T) {
	q, err := Parse(`host IN (web*, "db-1") NOT user=root failed | eval s=1 | stats count`)
	require.NoError(t, err)
	x := q.Explain(Event{"host": "web-7", "user": "root", "_raw": "login failed"})
	require.NotNil(t, x.Search)
	leaves := x.Search.Leaves()
	require.Len(t, leaves, 3)
	assert.Equal(t, "IN", leaves[0].Op)
	assert.Equal(t, []string{"web*", "db-1"}, leaves[0].Patterns)
	assert.True(t, leaves[0].Matched)
	assert.Equal(t, "=", leaves[1].Op)
	assert.True(t, leaves[1].Matched, "user=root matched, so the NOT above it failed")
	assert.False(t, x.Search.Children[1].Matched)
	assert.Equal(t, "NOT", x.Search.Children[1].Op)
	assert.Equal(t, "TERM", leaves[2].Op)
	assert.Equal(t, "_raw", leaves[2].Field)
	assert.True(t, leaves[2].Matched)
	assert.Equal(t, 1, leaves[2].Line)
	assert.Equal(t, 38, leaves[2].Column)
	assert.False(t, x.Kept)
	assert.Len(t, x.Stages, 1, "stops at the search that dropped it")
	assert.Contains(t, x.String(), "[no] NOT\n")
}
