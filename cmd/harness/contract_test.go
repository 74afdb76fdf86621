package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/reports"
)

const curlTest = "Exfiltrate Data via GitHub Gist API Using curl"

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "--version")
	require.Equal(t, 0, code)
	assert.Regexp(t, `^harness \S+, commit \S+.*, go\d`, out)
	assert.Contains(t, out, runtime.Version())
}

func TestNameErrorsListTheValidNames(t *testing.T) {
	t.Parallel()
	code, _, stderr := cli(t, "run", "--test", "nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `no atomic test named "nope"`)
	assert.Contains(t, stderr, `"Git Push Sensitive Files to External Repository from Command Shell" (5b3c6f0e-8a8e-4c2f-9f35-1567001a0002)`)

	code, _, stderr = cli(t, "run", "--context", "nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `no host context "nope" in fixtures/profiles; valid: build-agent, ci-runner, ide, workstation, workstation-sysmon-dns`)
}

func TestRunHelpListsEveryFileOutWrites(t *testing.T) {
	t.Parallel()
	code, help, _ := cli(t, "run", "--help")
	require.Equal(t, 0, code)
	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--test", curlTest, "--context", "workstation", "--out", out)
	require.Equal(t, 0, code, stdout, stderr)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var written, listed []string
	for _, e := range entries {
		written = append(written, e.Name())
		assert.Contains(t, help, "  "+e.Name()+" ", "run --help lists %s", e.Name())
	}
	for _, f := range reports.OutFiles {
		listed = append(listed, f.Name)
	}
	slices.Sort(written)
	slices.Sort(listed)
	assert.Equal(t, listed, written, "--out writes exactly the files the help lists")
	assert.Contains(t, stdout, "Report files in "+out+":\n  "+filepath.Join(out, "report.html"), "the report says where its files are")
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"0", "0s", "-1s"} {
		code, _, stderr := cli(t, "run", "--timeout", bad)
		assert.Equal(t, 2, code, bad)
		assert.Contains(t, stderr, "must be more than 0", bad)
	}
	code, stdout, _ := cli(t, "run", "--timeout", "1ms", "--test", curlTest, "--context", "workstation")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "timed out after 1ms")
	assert.NotContains(t, stdout, "observations.jsonl", "no sensor path stands for the cause")
}

// copyProfiles copies the shipped profiles to a folder of their own.
func copyProfiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := fixtures.FS.ReadDir("profiles")
	require.NoError(t, err)
	for _, e := range entries {
		data, err := fixtures.FS.ReadFile("profiles/" + e.Name())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	return dir
}

func TestProfilesFromAFolder(t *testing.T) {
	t.Parallel()
	dir := copyProfiles(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(`name: lab
base: windows-base
host: {name: LAB-PC-7, domain: lab.example}
user: {name: trainee, domain: LAB, sid: S-1-5-21-1-2-3-1001}
temp: C:\Users\trainee\AppData\Local\Temp
work_dir: C:\lab
parent: {image: C:\Windows\explorer.exe}
`), 0o600))
	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--profiles", dir, "--context", "lab", "--test", curlTest, "--out", out)
	require.Equal(t, 0, code, stdout, stderr)
	events, err := os.ReadFile(filepath.Join(out, "events.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(events), "LAB-PC-7.lab.example", "the events are the folder's profile's")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte("name: lab\nbase: windows-base\nhost:\n  nmae: typo\n"), 0o600))
	code, _, stderr = cli(t, "run", "--profiles", dir, "--context", "lab", "--test", curlTest)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, filepath.Join(dir, "lab.yaml")+":4: nmae: unknown field")
	assert.NotContains(t, stderr, "struct", "no Go type in a profile error")
}

func TestYAMLErrorsWithoutALineFromYAMLNameFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	head := "attack_technique: T1\ndisplay_name: x\natomic_tests:\n- name: a\n  description: b\n  supported_platforms: [linux]\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"control character": {head + "  executor: {name: sh, command: \"echo \x01\"}\n", ":7: control characters are not allowed"},
		"invalid UTF-8":     {head + "  executor: {name: sh, command: echo \xff}\n", ":7: invalid leading UTF-8 octet"},
		"nesting too deep":  {head + "  executor: " + strings.Repeat("[", 10001) + "\n", ":7: exceeded max depth of 10000"},
		"unknown executor":  {head + "  executor: {name: zsh, command: echo}\n", ":7:20: atomic_tests[0].executor.name: unknown executor \"zsh\""},
		"one line early":    {head + "  executor:\n    name: sh\n   command: echo\n", ":9: did not find expected key"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.yaml), 0o600))
			code, _, stderr := cli(t, "list", "--atomics", file)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, file+tc.want)
		})
	}
}

func TestASigmaRuleThatDoesNotLoadIsBadInput(t *testing.T) {
	t.Parallel()
	out := recordRun(t)
	rules := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(rules, "broken.yml"), []byte("title: broken\nlogsource: {product: windows}\ndetection: {condition: nope}\n"), 0o600))
	for _, cmd := range []string{"sigma", "validate"} {
		code, _, stderr := cli(t, cmd, "--rules", rules, "--events", filepath.Join(out, "events.jsonl"))
		assert.Equal(t, 2, code, cmd)
		assert.Contains(t, stderr, filepath.Join(rules, "broken.yml"), cmd)
	}
}

func TestValidateJSONWithoutExpect(t *testing.T) {
	t.Parallel()
	out := recordRun(t)
	code, stdout, stderr := cli(t, "validate", "--events", filepath.Join(out, "events.jsonl"), "--json")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	seen := map[string]int{}
	for _, l := range lines {
		var row struct {
			Rule    string         `json:"rule"`
			Kind    string         `json:"kind"`
			Rows    int            `json:"rows"`
			Signals map[string]int `json:"signals"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &row), l)
		require.NotEmpty(t, row.Rule)
		seen[row.Rule]++
		if row.Rule == "seed_t1567_001_code_repo_exfil" {
			assert.Equal(t, "spl", row.Kind)
			assert.Positive(t, row.Signals["CodeRepoAPIUpload"])
		}
	}
	assert.Equal(t, 1, seen["seed_t1567_001_code_repo_exfil"], "one line per rule")
	assert.Equal(t, 1, seen["seed_t1567_001_code_repo_exfil_net"])
}

func TestCleanRefusesAnEmptyRunID(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cli(t, "clean", "--run-id", "")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--run-id is empty")
	assert.Empty(t, stdout, "nothing removed")
}

func TestInterruptedContainerSetUpIsNotBadInput(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as SIGINT during set-up
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"run", "--mode", "container", "--test", curlTest}, &out, &errOut)
	assert.Contains(t, []int{1, 130}, code, errOut.String())
	assert.Contains(t, errOut.String(), "interrupted")
}

// cancelOnWrite cancels the run as soon as stderr says the second test
// started, as a SIGINT would.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("[2/3] ")) && bytes.Contains(p, []byte(" ...")) {
		c.cancel()
	}
	return c.Buffer.Write(p)
}

func TestAnInterruptedRunWritesWhatItFinished(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOnWrite{cancel: cancel}
	out := t.TempDir()
	var stdout bytes.Buffer
	// One lane: the second test starts once the first ended.
	code := run(ctx, []string{"run", "--lanes", "1", "--test", curlTest, "--test", "Automated Data Exfiltration via Python GitHub API Script",
		"--test", "Git Push Sensitive Files to External Repository from Command Shell",
		"--context", "workstation", "--out", out}, &stdout, stderr)
	assert.Contains(t, []int{1, 130}, code, "interrupted, not bad input; stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "interrupted")
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	require.NoError(t, err)
	doc := string(junit)
	assert.Contains(t, doc, `name="delivery :: `+curlTest+`"`)
	assert.Contains(t, doc, `<testsuite name="workstation :: seed_t1567_001_code_repo_exfil :: `+curlTest+`"`, "the finished test's verdicts")
	assert.Contains(t, doc, `<error message="the run ended before this test started: context canceled" type="interrupted">`)
	assert.Regexp(t, `<testsuites name="[^"]+" time="[0-9.]+" tests="\d+" failures="0" errors="1">`, doc)
	assert.Contains(t, stdout.String(), "not started: Git Push Sensitive Files to External Repository from Command Shell (context canceled)")
}
