package spl

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		line, col int
		msg       string
	}{
		{"unclosed parenthesis", `(EventCode="3"`, 1, 15, `expected ")", found end of query`},
		{"term missing after OR, across lines", "index=wineventlog\n  ((EventCode=\"3\"\n    (DestinationHostname=\"github.com\" OR", 3, 41, "expected a search term"},
		{"pipe inside parentheses", "index=x\n  ((EventCode=\"3\" OR b=2)\n| eval x=1", 3, 1, `expected ")", found "|"`},
		{"unsupported command", `EventCode=3 | transaction host`, 1, 15, `unsupported command "transaction"`},
		{"macro", "`sysmon` EventCode=1", 1, 1, "macros are not supported; expand `sysmon` first"},
		{"macro later in the query", "EventCode=1 | where `is_ci(host)`", 2 - 1, 21, "macros are not supported; expand `is_ci(host)` first"},
		{"eval without expression", `EventCode=1 | eval x=`, 1, 22, "expected an expression, found end of query"},
		{"unclosed call", `EventCode=1 | eval x=case(a=1`, 1, 30, `expected "," or ")", found end of query`},
		{"operator without operand on line 2", "index=main\n| where x>>2", 2, 11, `expected an expression, found ">"`},
		{"unterminated string", `Image="unterminated`, 1, 7, "unterminated quoted string"},
		{"Boolean assignment", `a=1 | eval x=1==1`, 1, 14, "fields cannot be assigned a Boolean result"},
		{"stats BY without fields", `a=1 | stats count by`, 1, 21, "BY needs at least one field"},
		{"PCRE lookbehind", `a=1 | where match(x, "(?<=a)b")`, 1, 19, "lookbehind (?<=...), which is PCRE-only"},
		{"invalid regex", `a=1 | where match(x, "a(b")`, 1, 19, "missing closing )"},
		{"sort without fields", `a=1 | sort`, 1, 11, "sort needs at least one field"},
		{"dedup sortby", `a=1 | dedup EventCode sortby -x`, 1, 23, "dedup sortby is not supported"},
		{"dedup option", `a=1 | dedup consecutive=true EventCode`, 1, 13, "dedup option consecutive= is not supported"},
		{"sort direction without field", `a=1 | sort -`, 1, 13, "expected a field after the sort direction"},
		{"pipe without command", `a=1 |`, 1, 6, "expected a command name, found end of query"},
		{"NOT without operand", `NOT`, 1, 4, "expected a search term, found end of query"},
		{"OR without left operand", `OR a=1`, 1, 1, "OR needs a term on its left"},
		{"eval target must be a field", `a=1 | eval 1=2`, 1, 12, "expected a field name to assign"},
		{"unknown function", `a=1 | where foo(x)`, 1, 13, "unsupported function foo()"},
		{"wrong arity", `a=1 | where len(x, y)=1`, 1, 13, "len() takes 1 argument(s), got 2"},
		{"case with odd arguments", `a=1 | eval x=case(a=1)`, 1, 14, "case() takes condition/value pairs"},
		{"head count not a number", `a=1 | head x`, 1, 12, "head count must be a non-negative integer"},
		{"unsupported stats function", `a=1 | stats frob(x)`, 1, 13, `unsupported stats function "frob"`},
		{"stray parenthesis", `a=1 )`, 1, 5, `unexpected ")"`},
		{"bad character in expression", `a=1 | where x ~ 2`, 1, 15, `unexpected character "~"`},
		{"empty query", ``, 1, 1, "empty query"},
		{"blank query", "   \n  ", 2, 3, "empty query"},
		{"rename without AS", `a=1 | rename x y`, 1, 16, "expected AS after x"},
		{"eval assignments need commas", `a=1 | eval x=1 y=2`, 1, 16, `unexpected "y"`},
		{"unclosed IN list", `a IN (1, 2`, 1, 11, `expected a value or ")" in IN list`},
		{"where needs a Boolean", `a=1 | where "x"`, 1, 7, "where needs a Boolean expression"},
		{"value missing after =", `a = `, 1, 5, "expected a value after a=, found end of query"},
		{"== in search", `a==1`, 1, 2, "use = in search, not =="},
		{"unterminated comment", "a=1 ```note", 1, 5, "unterminated comment"},
		{"TERM() unsupported", `TERM(10.0.0.1)`, 1, 1, "TERM() is not supported"},
		{"non-literal regex", `a=1 | where match(x, y)`, 1, 13, "match() needs a string literal regular expression"},
		{"malformed number", `a=1 | eval x=12abc`, 1, 14, `malformed number "12a"`},
		{"column counts characters, not bytes", `é=1 | nope`, 1, 7, `unsupported command "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.query)
			require.Error(t, err)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "%T: %v", err, err)
			assert.Equal(t, tc.line, se.Line, "line")
			assert.Equal(t, tc.col, se.Column, "column")
			assert.Contains(t, se.Msg, tc.msg)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, 3, err.Error())
			assert.True(t, strings.HasSuffix(lines[2], "^"), "caret line: %q", lines[2])
			assert.Len(t, []rune(lines[2]), 2+tc.col, "caret under the column")
		})
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	_, err := Parse("index=x\n\t(EventCode=\"3\" (DestinationHostname=\"github.com\" OR\n| table x")
	require.Error(t, err)
	assert.Equal(t, "spl: 3:1: expected a search term, found \"|\"\n  | table x\n  ^", err.Error())

	_, err = Parse("index=x\n\t(EventCode=\"3\" | x")
	require.Error(t, err)
	// The tab before the column is kept so the caret lines up.
	assert.Equal(t, "spl: 2:17: expected \")\", found \"|\"\n  \t(EventCode=\"3\" | x\n  \t               ^", err.Error())
}
