package sigma

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func utf16le(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

func utf16be(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

// TestModifiers: the Sigma specification's (v2, appendix_modifier.md and
// the rules specification) and pySigma's documented modifier semantics,
// each as a rule with one selection against events that must and must not
// match.
func TestModifiers(t *testing.T) {
	placeholders := map[string][]string{"Administrators": {"admin", "adm_*"}, "Servers": {"SRV-*"}}
	tests := []struct {
		name string
		sel  string     // the selection's body, indented 8 spaces
		yes  [][]string // EventData of events that match
		no   [][]string // ... and of events that do not
	}{
		{"plain equality is case-insensitive", "Image: 'C:\\Windows\\System32\\CMD.exe'",
			[][]string{{"Image", `c:\windows\system32\cmd.exe`}}, [][]string{{"Image", `C:\Windows\System32\cmd.exe2`}}},
		{"contains", "CommandLine|contains: 'FOO'", [][]string{{"CommandLine", "xxfooyy"}}, [][]string{{"CommandLine", "fo o"}}},
		{"startswith", "CommandLine|startswith: 'git '", [][]string{{"CommandLine", "GIT push"}}, [][]string{{"CommandLine", " git push"}}},
		{"endswith", "Image|endswith: '\\git.exe'", [][]string{{"Image", `C:\Git\GIT.EXE`}}, [][]string{{"Image", `C:\Git\git.exe.bak`}}},
		{"list is OR", "Image|endswith:\n            - '\\curl.exe'\n            - '\\wget.exe'",
			[][]string{{"Image", `x\wget.exe`}, {"Image", `x\curl.exe`}}, [][]string{{"Image", `x\git.exe`}}},
		{"all is AND", "CommandLine|contains|all:\n            - ' -T '\n            - 'http'",
			[][]string{{"CommandLine", "curl -T f http://x"}}, [][]string{{"CommandLine", "curl -T f ftp://x"}}},
		{"cased", "CommandLine|cased: 'Foo'", [][]string{{"CommandLine", "Foo"}}, [][]string{{"CommandLine", "foo"}}},
		{"contains cased", "CommandLine|contains|cased: 'Foo'", [][]string{{"CommandLine", "xFoox"}}, [][]string{{"CommandLine", "xfoox"}}},
		{"wildcard star (after a doubled backslash)", "Image: 'C:\\Windows\\\\*\\cmd.exe'",
			[][]string{{"Image", `C:\Windows\System32\cmd.exe`}, {"Image", `c:\windows\a\b\CMD.EXE`}}, [][]string{{"Image", `C:\Tools\cmd.exe`}}},
		{"wildcard question mark", "Image|endswith: '\\cm?.exe'", [][]string{{"Image", `x\cmd.exe`}}, [][]string{{"Image", `x\cm.exe`}, {"Image", `x\cmdd.exe`}}},
		{"wildcards inside contains", "CommandLine|contains: 'Invoke-*Mimi?atz'",
			[][]string{{"CommandLine", "powershell Invoke-WebMimikatz -x"}}, [][]string{{"CommandLine", "Invoke-Mimiatz"}}},
		{"escaped star is literal", "CommandLine: 'foo\\*bar'", [][]string{{"CommandLine", "foo*bar"}}, [][]string{{"CommandLine", "fooXbar"}}},
		{"escaped star in a path", "Image: 'C:\\Windows\\*\\cmd.exe'", [][]string{{"Image", `C:\Windows*\cmd.exe`}}, [][]string{{"Image", `C:\Windows\System32\cmd.exe`}}},
		{"escaped star beside a wildcard", "CommandLine: 'foo\\*bar*'", [][]string{{"CommandLine", "foo*barX"}, {"CommandLine", "FOO*BAR"}}, [][]string{{"CommandLine", "fooXbarX"}}},
		{"escaped question mark is literal", "CommandLine: 'what\\?'", [][]string{{"CommandLine", "what?"}}, [][]string{{"CommandLine", "whatX"}}},
		{"doubled backslash before a wildcard", "Image: 'C:\\\\*'", [][]string{{"Image", `C:\Windows`}}, [][]string{{"Image", `C:Windows`}}},
		{"doubled backslash is one backslash", "Image|endswith: '\\\\evil.exe'", [][]string{{"Image", `C:\x\evil.exe`}}, [][]string{{"Image", `C:\xevil.exe`}}},
		{"single backslash stays literal", "TargetObject|contains: '\\Software\\Run'", [][]string{{"TargetObject", `HKCU\Software\Run\x`}}, [][]string{{"TargetObject", `HKCU/Software/Run`}}},
		{"percent without expand is literal", "CommandLine|contains: '%temp%'", [][]string{{"CommandLine", `copy x %TEMP%\y`}}, [][]string{{"CommandLine", `copy x C:\Temp\y`}}},
		{"null: absent or empty", "ParentImage: null", [][]string{{"Image", "x"}, {"ParentImage", ""}}, [][]string{{"ParentImage", "x"}}},
		{"empty value", "Description: ''", [][]string{{"Description", ""}}, [][]string{{"Description", "x"}, {"Image", "x"}}},
		{"exists true", "PasswordLastSet|exists: true", [][]string{{"PasswordLastSet", "x"}, {"PasswordLastSet", ""}}, [][]string{{"Image", "x"}}},
		{"exists false", "PasswordLastSet|exists: false", [][]string{{"Image", "x"}}, [][]string{{"PasswordLastSet", "x"}}},
		{"re is case-sensitive", "CommandLine|re: 'foo.*bar'", [][]string{{"CommandLine", "xfoo-barx"}}, [][]string{{"CommandLine", "FOO-BAR"}}},
		{"re|i", "CommandLine|re|i: 'foo.*bar'", [][]string{{"CommandLine", "FOO-BAR"}}, [][]string{{"CommandLine", "foo"}}},
		{"re|m", "CommandLine|re|m: '^bar$'", [][]string{{"CommandLine", "foo\nbar\nbaz"}}, [][]string{{"CommandLine", "foobar"}}},
		{"re|s", "CommandLine|re|s: 'foo.bar'", [][]string{{"CommandLine", "foo\nbar"}}, [][]string{{"CommandLine", "foo\n\nbar"}}},
		{"re without s: dot stops at newline", "CommandLine|re: 'foo.bar'", [][]string{{"CommandLine", "foo-bar"}}, [][]string{{"CommandLine", "foo\nbar"}}},
		{"base64", "CommandLine|base64: 'http://'", [][]string{{"CommandLine", "aHR0cDovLw=="}}, [][]string{{"CommandLine", "http://"}}},
		{"base64 contains", "CommandLine|base64|contains: 'abc'", [][]string{{"CommandLine", "xx" + b64("abc") + "xx"}}, [][]string{{"CommandLine", "abc"}}},
		{"base64offset contains (pySigma: foobar)", "CommandLine|base64offset|contains: 'foobar'",
			[][]string{{"CommandLine", b64("foobar")}, {"CommandLine", b64("afoobar")}, {"CommandLine", b64("abfoobar")}, {"CommandLine", b64("some text foobar and more")}},
			[][]string{{"CommandLine", b64("fooba")}, {"CommandLine", "foobar"}}},
		{"utf16le base64offset", "CommandLine|utf16le|base64offset|contains: 'ping'",
			[][]string{{"CommandLine", "-enc " + b64(utf16le("cmd /c ping 1.2.3.4"))}}, [][]string{{"CommandLine", b64("cmd /c ping 1.2.3.4")}}},
		{"wide is utf16le", "CommandLine|wide|base64offset|contains: 'ping'",
			[][]string{{"CommandLine", b64(utf16le("x ping"))}}, [][]string{{"CommandLine", b64(utf16be("x ping"))}}},
		{"utf16be base64offset", "CommandLine|utf16be|base64offset|contains: 'ping'",
			[][]string{{"CommandLine", b64(utf16be("x ping"))}}, [][]string{{"CommandLine", b64("x ping")}}},
		{"utf16 (BOM) base64", "CommandLine|utf16|base64: 'cmd'", [][]string{{"CommandLine", b64("\xff\xfe" + utf16le("cmd"))}}, [][]string{{"CommandLine", b64(utf16le("cmd"))}}},
		{"windash", "CommandLine|windash|contains: ' -enc '",
			[][]string{{"CommandLine", "powershell -enc x"}, {"CommandLine", "powershell /enc x"}, {"CommandLine", "powershell \u2013enc x"}, {"CommandLine", "powershell \u2014enc x"}, {"CommandLine", "powershell \u2015enc x"}},
			[][]string{{"CommandLine", "powershell enc x"}, {"CommandLine", "powershell _enc x"}}},
		{"windash turns / into - too", "CommandLine|windash|contains: '/s'", [][]string{{"CommandLine", "dir -s"}, {"CommandLine", "dir /S"}}, [][]string{{"CommandLine", "dir s"}}},
		{"windash leaves a hyphen inside a word", "CommandLine|windash|contains: 'x-y'", [][]string{{"CommandLine", "x-y"}}, [][]string{{"CommandLine", "x/y"}}},
		{"cidr", "DestinationIp|cidr: '10.0.0.0/8'", [][]string{{"DestinationIp", "10.1.2.3"}}, [][]string{{"DestinationIp", "11.0.0.1"}, {"DestinationIp", "not an ip"}}},
		{"cidr v6", "DestinationIp|cidr: '2001:db8::/32'", [][]string{{"DestinationIp", "2001:db8::1"}}, [][]string{{"DestinationIp", "2001:db9::1"}}},
		{"cidr list", "DestinationIp|cidr:\n            - '192.168.0.0/16'\n            - '127.0.0.0/8'", [][]string{{"DestinationIp", "127.0.0.1"}}, [][]string{{"DestinationIp", "8.8.8.8"}}},
		{"gt", "Count|gt: 10", [][]string{{"Count", "11"}}, [][]string{{"Count", "10"}, {"Count", "x"}}},
		{"gte", "Count|gte: 10", [][]string{{"Count", "10"}, {"Count", "10.5"}}, [][]string{{"Count", "9"}}},
		{"lt", "Count|lt: 10", [][]string{{"Count", "9"}, {"Count", "-1"}}, [][]string{{"Count", "10"}}},
		{"lte", "Count|lte: 10", [][]string{{"Count", "10"}}, [][]string{{"Count", "11"}}},
		{"fieldref", "TargetUserName|fieldref: SubjectUserName",
			[][]string{{"TargetUserName", "Alice", "SubjectUserName", "alice"}}, [][]string{{"TargetUserName", "alice", "SubjectUserName", "bob"}, {"TargetUserName", "alice"}}},
		{"fieldref contains", "CommandLine|fieldref|contains: TargetFilename",
			[][]string{{"CommandLine", `copy a C:\x.txt`, "TargetFilename", `C:\x.txt`}}, [][]string{{"CommandLine", "copy a b", "TargetFilename", `C:\x.txt`}}},
		{"expand", "User|expand: '%Administrators%'", [][]string{{"User", "admin"}, {"User", "ADM_bob"}}, [][]string{{"User", "alice"}}},
		{"expand with text around", "Computer|expand: 'CORP-%Servers%'", [][]string{{"Computer", "corp-srv-01"}}, [][]string{{"Computer", "srv-01"}}},
		{"expand: escaped percent is plain", "CommandLine|expand|contains: '\\%plain%Servers%'", [][]string{{"CommandLine", "x %plainSRV-1"}}, [][]string{{"CommandLine", "plainSRV-1"}}},
		{"number value", "ProcessId: 4242", [][]string{{"ProcessId", "4242"}}, [][]string{{"ProcessId", "42420"}}},
		{"map list is OR", "- Image|endswith: '\\a.exe'\n        - OriginalFileName: 'a.exe'",
			[][]string{{"Image", `x\a.exe`}, {"OriginalFileName", "A.EXE"}}, [][]string{{"Image", `x\b.exe`}}},
		{"fields with spaces (Defender)", "SourceName: 'Real-Time Protection'", [][]string{{"Source Name", "Real-Time Protection"}}, [][]string{{"Source Name", "Downloads"}}},
	}
	cfg := &Config{Placeholders: placeholders}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.sel
			if !strings.HasPrefix(body, "- ") {
				body = "        " + body
			} else {
				body = "        " + body
			}
			c, err := ParseFile("spec.yml", []byte(ruleHeader+"detection:\n    sel:\n"+body+"\n    condition: sel\n"), cfg)
			require.NoError(t, err)
			require.Len(t, c.Rules, 1)
			r := c.Rules[0]
			for _, kv := range tc.yes {
				ok, exp := mustMatch(t, r, sysmonEvent(1, workstation, kv...))
				assert.True(t, ok, "%q should match\n%s", kv, exp)
			}
			for _, kv := range tc.no {
				ok, exp := mustMatch(t, r, sysmonEvent(1, workstation, kv...))
				assert.False(t, ok, "%q should not match\n%s", kv, exp)
			}
		})
	}
}

// TestConditions: the condition grammar (spec: precedence or < and < not
// < x of < brackets; them leaves out _-prefixed searches; a list of
// conditions is OR).
func TestConditions(t *testing.T) {
	det := `    sel_a:
        CommandLine|contains: 'a'
    sel_b:
        CommandLine|contains: 'b'
    sel-c.1:
        CommandLine|contains: 'c'
    filter_1:
        CommandLine|contains: 'x'
    _aux:
        CommandLine|contains: 'zzz'
`
	tests := []struct {
		cond string
		yes  []string
		no   []string
	}{
		{"sel_a or sel_b and sel-c.1", []string{"a", "bc"}, []string{"b", "c"}},
		{"(sel_a or sel_b) and sel-c.1", []string{"ac", "bc"}, []string{"a", "ab"}},
		{"not sel_a and sel_b", []string{"b"}, []string{"ab", "a"}},
		{"not (sel_a and sel_b)", []string{"a", "b", ""}, []string{"ab"}},
		{"1 of sel_* and not 1 of filter_*", []string{"a", "b"}, []string{"ax", "c"}},
		{"all of sel_*", []string{"ab"}, []string{"a", "b"}},
		{"1 of sel*", []string{"c"}, []string{"x"}},
		{"all of them", []string{"abcx"}, []string{"abc"}},
		{"1 of them", []string{"x"}, []string{"zzz"}},
		{"1 of sel_a", []string{"a"}, []string{"b"}},
		{"all of filter_1", []string{"x"}, []string{"a"}},
		{"SEL_A AND NOT filter_1", nil, nil}, // identifiers are case-sensitive: refused below
		{"[sel_a, sel_b]", []string{"a", "b"}, []string{"c"}},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			cond := "    condition: " + tc.cond + "\n"
			if strings.HasPrefix(tc.cond, "[") {
				cond = "    condition:\n        - sel_a\n        - sel_b\n"
			}
			r, err := Load("cond.yml", []byte(ruleHeader+"detection:\n"+det+cond))
			if tc.yes == nil {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `search identifier "SEL_A" is not defined`)
				return
			}
			require.NoError(t, err)
			for _, cl := range tc.yes {
				ok, exp := mustMatch(t, r, sysmonEvent(1, workstation, "CommandLine", cl))
				assert.True(t, ok, "%q\n%s", cl, exp)
			}
			for _, cl := range tc.no {
				ok, exp := mustMatch(t, r, sysmonEvent(1, workstation, "CommandLine", cl))
				assert.False(t, ok, "%q\n%s", cl, exp)
			}
		})
	}
}

func TestKeywords(t *testing.T) {
	r, err := Load("kw.yml", []byte(ruleHeader+`detection:
    keywords:
        - 'event::clear'
        - 'Mimi*atz'
    keywords_all:
        '|all':
            - 'OabVirtualDirectory'
            - ' -ExternalUrl '
    condition: keywords or keywords_all
`))
	require.NoError(t, err)
	for _, tc := range []struct {
		kv   []string
		want bool
	}{
		{[]string{"CommandLine", "Invoke-MIMIKATZ x"}, true},
		{[]string{"Image", "x", "CommandLine", "lsadump event::clear"}, true},
		{[]string{"CommandLine", "Set-OabVirtualDirectory -ExternalUrl http://x"}, true},
		{[]string{"CommandLine", "Set-OabVirtualDirectory", "Description", "x -ExternalUrl y"}, true},
		{[]string{"CommandLine", "Set-OabVirtualDirectory"}, false},
		{[]string{"CommandLine", "mimi"}, false},
	} {
		ok, exp := mustMatch(t, r, sysmonEvent(1, workstation, tc.kv...))
		assert.Equal(t, tc.want, ok, "%q\n%s", tc.kv, exp)
	}
}

// TestHostnameField: a rule's Hostname reads the event's own Hostname
// field where it has one, Computer otherwise.
func TestHostnameField(t *testing.T) {
	r, err := Load("h.yml", []byte(ruleHeader+"detection:\n    sel:\n        Hostname: 'laptop-7'\n    condition: sel\n"))
	require.NoError(t, err)
	own := sysmonEvent(1, "dc01.corp.local", "Hostname", "LAPTOP-7", "Image", "x")
	ok, exp := mustMatch(t, r, own)
	assert.True(t, ok, exp.String())
	ok, _ = mustMatch(t, r, sysmonEvent(1, "laptop-7"))
	assert.True(t, ok, "no Hostname field: Computer")
	ok, _ = mustMatch(t, r, sysmonEvent(1, "laptop-7", "Hostname", "other"))
	assert.False(t, ok, "the event's own Hostname wins over Computer")
}

// TestEveryWindowsLogsource: each Sysmon event ID 1-29 and 255 is in some
// category, and a rule on Sysmon 16 or Security 4701 sees its events.
func TestEveryWindowsLogsource(t *testing.T) {
	m, err := DefaultMapping()
	require.NoError(t, err)
	for id := 1; id <= 29; id++ {
		ev := sysmonEvent(id, workstation, "EventType", "CreateKey")
		ls := m.Logsources(&ev)
		cats := 0
		for _, l := range ls {
			if l.Category != "" {
				cats++
			}
		}
		assert.Positive(t, cats, "Sysmon %d has no category: %v", id, ls)
		assert.Contains(t, ls, Logsource{Product: "windows", Service: "sysmon"})
	}
	ev := sysmonEvent(255, workstation)
	assert.Contains(t, m.Logsources(&ev), Logsource{Product: "windows", Category: "sysmon_error"})

	rule := func(ls, sel string) *Rule {
		r, err := Load("x.yml", []byte("title: t\nlogsource:\n"+ls+"detection:\n    sel:\n"+sel+"    condition: sel\n"))
		require.NoError(t, err)
		return r
	}
	r := rule("    product: windows\n    category: sysmon_status\n", "        State: Stopped\n")
	ok, exp := mustMatch(t, r, sysmonEvent(16, workstation, "State", "Stopped"))
	assert.True(t, ok, exp.String())
	r = rule("    product: windows\n    service: security\n", "        EventID: 4701\n        TaskName|contains: 'evil'\n")
	sec := security4688(workstation, "x", "y", "z")
	sec.EventID = 4701
	sec.Data = fieldsOf([]string{"TaskName", `\evil task`})
	ok, exp = mustMatch(t, r, sec)
	assert.True(t, ok, exp.String())
	r = rule("    product: windows\n    category: registry_add\n", "        TargetObject|contains: 'Run'\n")
	ok, _ = mustMatch(t, r, sysmonEvent(12, workstation, "EventType", "CreateKey", "TargetObject", `HKLM\Run`))
	assert.True(t, ok)
	ok, exp = mustMatch(t, r, sysmonEvent(12, workstation, "EventType", "DeleteKey", "TargetObject", `HKLM\Run`))
	assert.False(t, ok)
	assert.False(t, exp.Applies, "registry_add is Sysmon 12 with EventType CreateKey only")
}

// TestOtherSources: proxy, GitHub audit and Zeek events carry their
// source in Channel.
func TestOtherSources(t *testing.T) {
	for _, tc := range []struct{ ls, channel string }{
		{"    category: proxy\n", "proxy"},
		{"    product: github\n    service: audit\n", "github.audit"},
		{"    product: zeek\n    service: http\n", "zeek.http"},
	} {
		r, err := Load("x.yml", []byte("title: t\nlogsource:\n"+tc.ls+"detection:\n    sel:\n        action: repo.create\n    condition: sel\n"))
		require.NoError(t, err, tc.ls)
		ev := sysmonEvent(0, "", "action", "repo.create")
		ev.Provider, ev.Channel = event.Provider{}, tc.channel
		ok, exp := mustMatch(t, r, ev)
		assert.True(t, ok, exp.String())
		assert.Contains(t, exp.String(), "matched "+tc.channel+";")
		ev.Channel = "Security"
		ok, _ = mustMatch(t, r, ev)
		assert.False(t, ok, "%s rule on a Security event", tc.channel)
	}
}

// TestFilters: the specification's filter example: a filter suppresses
// the matches of the rules it names where it holds, and says so.
func TestFilters(t *testing.T) {
	c, err := ParseFile("mf.yml", []byte(`title: Data compressed with rar
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource: {category: process_creation, product: windows}
detection:
    selection:
        Image|endswith: '\rar.exe'
        CommandLine|contains: ' a '
    condition: selection
---
title: Filter Administrator account
id: mf-admins
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe
    selection:
        User|startswith: 'adm_'
    condition: selection
`), nil)
	require.NoError(t, err)
	require.Len(t, c.Filters, 1)
	set, err := Compile(c)
	require.NoError(t, err)
	r := set.Rules()[0]
	assert.Empty(t, c.Rules[0].filters, "Compile leaves the loaded rule as it is")

	user := func(u string) event.Event {
		return sysmonEvent(1, workstation, "Image", `C:\Program Files\WinRAR\rar.exe`, "CommandLine", "rar.exe a loot.rar docs", "User", u)
	}
	ok, exp := mustMatch(t, r, user(`CORP\alice`))
	assert.True(t, ok, exp.String())
	ok, exp = mustMatch(t, r, user(`adm_bob`))
	assert.False(t, ok)
	assert.Equal(t, "mf-admins (Filter Administrator account)", exp.SuppressedBy)
	assert.Contains(t, exp.String(), "but filter mf-admins (Filter Administrator account) suppresses it")
	assert.Contains(t, exp.String(), `filter mf-admins: selection: matched (User|startswith "adm_" matched "adm_bob")`)
	ev := user("adm_bob")
	hits, err := set.Match(context.Background(), &ev)
	require.NoError(t, err)
	assert.Empty(t, hits)

	_, err = Compile(&Collection{Filters: c.Filters})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `filter mf-admins: none of the rules it names (6f3e2987-db24-4c78-a860-b4f4095a7095) is loaded`)
}

// TestValueTransforms: the transforms against pySigma's documented
// outputs.
func TestValueTransforms(t *testing.T) {
	assert.Equal(t, []string{"Zm9vYmFy", "Zvb2Jhc", "mb29iYX"}, base64Offsets("foobar"))
	assert.Equal(t, []string{"L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"}, base64Offsets("/bin/bash"))
	assert.Equal(t, []string{"SUVY", "lFW", "JRV"}, base64Offsets("IEX"))
	// windash: only a dash that starts a word; every dash character.
	m, err := compileSString(windash(parseSString(" -param-name ")), false)
	require.NoError(t, err)
	for _, d := range []string{"-", "/", "\u2013", "\u2014", "\u2015"} {
		assert.True(t, m.match(" "+d+"param-name "), d)
	}
	assert.False(t, m.match(" -param/name "))
	// Escapes: \\ is one backslash, \* and \? are literal, a lone \ stays.
	for in, want := range map[string]sstring{
		`a\a`:   {{kind: tokLit, lit: `a\a`}},
		`a\\a`:  {{kind: tokLit, lit: `a\a`}},
		`a\*a`:  {{kind: tokLit, lit: `a*a`}},
		`a\\*`:  {{kind: tokLit, lit: `a\`}, {kind: tokStar}},
		`a\\\?`: {{kind: tokLit, lit: `a\?`}},
		`a?b*`:  {{kind: tokLit, lit: "a"}, {kind: tokOne}, {kind: tokLit, lit: "b"}, {kind: tokStar}},
	} {
		assert.Equal(t, want, parseSString(in), in)
	}
}

func TestParsePlaceholders(t *testing.T) {
	p, err := ParsePlaceholders("ph.yml", []byte("Administrators:\n  - admin\n  - 'adm_*'\nServers: 'SRV-*'\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"Administrators": {"admin", "adm_*"}, "Servers": {"SRV-*"}}, p)
	_, err = ParsePlaceholders("ph.yml", []byte("Administrators:\n  - {a: b}\n"))
	require.Error(t, err)
	assert.Equal(t, "ph.yml:2: placeholder Administrators: a value must be a string", err.Error())
	_, err = ParsePlaceholders("ph.yml", []byte("- a\n"))
	assert.ErrorContains(t, err, "ph.yml:1: placeholders: expected a mapping")
}

func TestParseMappingErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"sources:\n  - {category: x, events: [{channel: c, fieldmap: nope}]}\n", `unknown fieldmap "nope"`},
		{"fieldmaps:\n  m:\n    Image: {from: [A], transform: rot13}\nsources: []\n", `unknown transform "rot13"`},
		{"fieldmaps:\n  m:\n    User: {from: [A], transform: domain_user}\nsources: []\n", `transform "domain_user" takes 2 field(s), got 1`},
		{"sources:\n  - {events: [{channel: c}]}\n", "source 1 has no product, category or service"},
		{"sources:\n  - {category: x, events: [{event_id: [1]}]}\n", "an event needs a channel or a provider"},
		{"sources:\n  - {category: x}\n", "category x selects no events"},
		{"sources: [\n", "logsource mapping m.yml"},
	} {
		_, err := ParseMapping("m.yml", []byte(tc.yaml))
		require.Error(t, err, tc.yaml)
		assert.Contains(t, err.Error(), tc.want)
	}
	m, err := ParseMapping("m.yml", []byte("sources:\n  - {product: acme, service: audit, events: [{channel: acme.audit}]}\n"))
	require.NoError(t, err)
	c, err := ParseFile("r.yml", []byte("title: t\nlogsource: {product: acme, service: audit}\ndetection:\n    sel:\n        action: x\n    condition: sel\n"), &Config{Mapping: m})
	require.NoError(t, err, "a new log source is data")
	ev := event.Event{Channel: "acme.audit", Data: []event.Field{{Name: "action", Value: "X"}}}
	ok, _ := mustMatch(t, c.Rules[0], ev)
	assert.True(t, ok)
}
