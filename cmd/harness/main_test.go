package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/racechild"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

// The test binary is the harness binary for its own children: the sensor,
// its trampoline and the simulated test's replay.
func TestMain(m *testing.M) {
	if sensor.MaybeTrampoline() || sandbox.MaybeInit() {
		return
	}
	if os.Getenv(asHarness) == "1" {
		os.Exit(runWithSignals(os.Args[1:]))
	}
	if len(os.Args) > 1 && (os.Args[1] == "replay-http" || os.Args[1] == "replay-mega" || os.Args[1] == "sensor") {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	racechild.Quiet()
	code := m.Run()
	if recorded.dir != "" {
		_ = os.RemoveAll(recorded.dir)
	}
	os.Exit(code)
}

func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestBadInputExitsTwoNamingFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`attack_technique: T1
display_name: x
atomic_tests:
- name: a
  description: b
  supported_platforms: [linux]
  executor:
    command: echo
`), 0o600))
	for _, args := range [][]string{{"list", "--atomics", bad}, {"run", "--atomics", bad}} {
		code, _, stderr := cli(t, args...)
		assert.Equal(t, 2, code, stderr)
		assert.Contains(t, stderr, bad+":7:")
		assert.Contains(t, stderr, "atomic_tests[0].executor.name")
	}
	code, _, stderr := cli(t, "run", "--test", "no such test")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no such test")
	code, _, _ = cli(t, "run", "--bogus-flag")
	assert.Equal(t, 2, code)
	code, _, stderr = cli(t, "run", "--mode", "satellite")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "satellite")
	code, _, stderr = cli(t, "run", "--lanes", "-1")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--lanes -1")
}

func TestList(t *testing.T) {
	t.Parallel()
	code, out, _ := cli(t, "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "5b3c6f0e-8a8e-4c2f-9f35-1567001a0002  Git Push Sensitive Files")
}

func TestRunWritesTheContractShapes(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--test", "Exfiltrate Data via GitHub Gist API Using curl",
		"--test", "Exfiltrate Data via GitHub Contents API Using PowerShell", "--out", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "arrived intact")
	assert.Contains(t, stdout, "2 of 2 atomics delivered every staged file intact")

	var results struct {
		RunID   string `json:"run_id"`
		Mode    string `json:"mode"`
		Sandbox string `json:"sandbox"`
		Atomics []struct {
			Name      string `json:"name"`
			GUID      string `json:"guid"`
			Execution string `json:"execution"`
			ExitCode  *int   `json:"exit_code"`
			Uploads   []struct {
				Host, Method, Path, File, SHA256 string
				Intact                           bool
			} `json:"uploads"`
		} `json:"atomics"`
		Verdicts []any `json:"verdicts"`
	}
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &results))
	assert.NotEmpty(t, results.RunID)
	assert.Equal(t, "local", results.Mode)
	assert.Equal(t, "on", results.Sandbox)
	assert.Contains(t, stdout, "sandbox: on")
	require.Len(t, results.Atomics, 2)
	assert.NotNil(t, results.Verdicts)
	for _, a := range results.Atomics {
		require.NotNil(t, a.ExitCode)
		assert.Equal(t, 0, *a.ExitCode)
		require.NotEmpty(t, a.Uploads)
		for _, u := range a.Uploads {
			assert.True(t, u.Intact)
			assert.Len(t, u.SHA256, 64)
			assert.Equal(t, "api.github.com", u.Host)
		}
	}
	if results.Atomics[1].Execution == "simulated" {
		assert.Contains(t, stdout, "SIMULATED (not a real run of the tool)")
	}

	for _, name := range []string{"proxy.jsonl", "access.log", "zeek/conn.log", "zeek/http.log", "zeek/ssl.log"} {
		st, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err, "the network logs are written")
		assert.NotZero(t, st.Size(), name)
	}

	var ledger struct {
		RunID   string           `json:"run_id"`
		Entries []map[string]any `json:"entries"`
	}
	data, err = os.ReadFile(filepath.Join(out, "ledger.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ledger))
	assert.Equal(t, results.RunID, ledger.RunID)
	var requests, queries, conns int
	for _, name := range []string{"events.xml", "events.provenance.jsonl", "events.jsonl", "junit.xml"} {
		assert.FileExists(t, filepath.Join(out, name))
	}
	if results.Atomics[1].Execution == "simulated" {
		junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
		require.NoError(t, err)
		assert.Contains(t, string(junit), "[simulated]", "a simulated atomic's test cases say so")
		simulated := map[bool]int{}
		for _, e := range ledger.Entries {
			if e["simulated"] == true {
				simulated[e["kind"] == "dns"]++
			}
		}
		assert.Equal(t, 2, simulated[false], "the replay's upload and its TLS connection")
		assert.NotZero(t, simulated[true], "the replay's DNS queries")
	}
	for _, e := range ledger.Entries {
		keys := []string{"time", "client_ip", "client_port", "host", "method", "path", "bytes_received", "status"}
		switch e["kind"] {
		case "tls":
			conns++
			keys = []string{"time", "end", "client_port", "sni", "request_bytes", "response_bytes", "tls_version"}
		case "dns":
			queries++
			keys = []string{"time", "client_ip", "client_port", "dest_ip", "dest_port", "host", "dns"}
		default:
			requests++
			assert.Equal(t, "140.82.112.6", e["dest_ip"], "the client dialled api.github.com's address")
		}
		for _, k := range keys {
			assert.Contains(t, e, k)
		}
	}
	assert.Equal(t, 2, requests, "two uploads, straight to the mock (no proxy in the sandbox)")
	assert.Equal(t, 2, conns, "and their two TLS connections' summaries")
	assert.GreaterOrEqual(t, queries, 2, "each client resolved api.github.com at the sinkhole")
}

func TestRuleRegressionFailsTheBuild(t *testing.T) {
	t.Parallel()
	// A copy of the shipped rules in which a careless edit drops curl from
	// both image lists of the SPL.
	dir := t.TempDir()
	entries, err := fs.ReadDir(rules.FS, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue // rules/elastic: not needed here
		}
		src, err := rules.FS.ReadFile(e.Name())
		require.NoError(t, err)
		if e.Name() == "seed_t1567_001_code_repo_exfil.spl" {
			edited := strings.ReplaceAll(string(src), `Image="*\\curl.exe" OR `, "")
			require.NotEqual(t, string(src), edited, "the edit must change the rule")
			src = []byte(edited)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), src, 0o600))
	}

	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--rules", dir, "--test", "Exfiltrate Data via GitHub Gist API Using curl", "--out", out)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "an expectation failed")
	assert.Contains(t, stdout, "FAIL workstation / Exfiltrate Data via GitHub Gist API Using curl")
	assert.Contains(t, stdout, `curl.exe`)

	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	require.NoError(t, err)
	// The upload still fires from the parent powershell.exe, whose command
	// line names api.github.com/gists; the connection curl.exe makes does not.
	assert.Contains(t, string(junit), `<failure message="expected fires NetworkConnectionToCodeRepo/2, got silent"`)
	assert.Regexp(t, `none of Image=.*matched Image=&#34;C:\\\\Windows\\\\System32\\\\curl.exe&#34;`, string(junit))

	// The unedited rule passes the same run.
	code, stdout, stderr = cli(t, "run", "--test", "Exfiltrate Data via GitHub Gist API Using curl")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "74 of 74 expectations hold", "19 for the seed's rules, 55 for the other seeds' eleven")
}

// recorded is the --out folder of one run of the curl atomic, shared by
// the tests that only read it; TestMain removes it.
var recorded struct {
	once sync.Once
	dir  string
	err  error
}

// recordRun runs the curl atomic once per test binary and returns its
// --out folder, which the caller must not change.
func recordRun(t *testing.T) string {
	t.Helper()
	recorded.once.Do(func() {
		if recorded.dir, recorded.err = os.MkdirTemp("", "t1567-cmd-recorded-"); recorded.err != nil {
			return
		}
		code, stdout, stderr := cli(t, "run", "--test", "Exfiltrate Data via GitHub Gist API Using curl", "--out", recorded.dir)
		if code != 0 {
			recorded.err = fmt.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
	require.NoError(t, recorded.err)
	return recorded.dir
}

func TestSPLAndValidateOnRecordedEvents(t *testing.T) {
	t.Parallel()
	out := recordRun(t)
	query := "../../rules/seed_t1567_001_code_repo_exfil.spl"
	for _, file := range []string{"events.xml", "events.jsonl"} {
		t.Run(file, func(t *testing.T) {
			code, stdout, stderr := cli(t, "spl", "--query", query, "--events", filepath.Join(out, file), "--json")
			require.Equal(t, 0, code, stderr)
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			// Uploads from powershell.exe (its command line runs curl.exe) and
			// curl.exe, and curl's connection, on the workstation, the IDE
			// host and the build agent; with Sysmon's reverse lookup the
			// connection does not match, and the CI runner is excepted.
			require.Len(t, lines, 11)
			var first map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
			assert.Equal(t, "3", first["SuspicionScore"])
			signals := map[string]int{}
			for _, l := range lines {
				var row map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &row))
				signals[row["Signal"].(string)]++
				assert.NotContains(t, row["host"], "RUNNER", "the CI host is excepted")
			}
			assert.Equal(t, map[string]int{"CodeRepoAPIUpload": 8, "NetworkConnectionToCodeRepo": 3}, signals)
		})
	}

	expect := filepath.Join(t.TempDir(), "expect.yaml")
	require.NoError(t, os.WriteFile(expect, []byte(`expect:
  workstation:
  - rule: seed_t1567_001_code_repo_exfil
    fires: true
    signal: NetworkConnectionToCodeRepo
    score: 2
  ci-runner:
  - rule: seed_t1567_001_code_repo_exfil
    fires: true
    signal: CodeRepoAPIUpload
`), 0o600))
	code, stdout, stderr := cli(t, "validate", "--events", filepath.Join(out, "events.jsonl"), "--expect", expect)
	assert.Equal(t, 1, code, "the CI expectation is wrong on purpose")
	assert.Contains(t, stdout, "1 of 2 expectations hold")
	assert.Contains(t, stdout, "IsCISystem=1", "the failing verdict is explained from a second reading of the file")
	assert.Equal(t, 1, strings.Count(stderr, "event(s) read"), "the second reading is quiet:\n%s", stderr)

	bad := filepath.Join(t.TempDir(), "bad.spl")
	require.NoError(t, os.WriteFile(bad, []byte("index=wineventlog\n| eval Signal=case(EventCode=\"3\", \"x\"\n| table Signal\n"), 0o600))
	code, _, stderr = cli(t, "spl", "--query", bad, "--events", filepath.Join(out, "events.jsonl"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, bad)
	assert.Contains(t, stderr, "^")

	// workstation and workstation-sysmon-dns share a host name: each
	// context is checked against the events rendered under it.
	require.NoError(t, os.WriteFile(expect, []byte(`expect:
  workstation-sysmon-dns:
  - rule: seed_t1567_001_code_repo_exfil
    fires: false
    signal: NetworkConnectionToCodeRepo
  workstation:
  - rule: seed_t1567_001_code_repo_exfil
    fires: true
    signal: NetworkConnectionToCodeRepo
`), 0o600))
	for _, file := range []string{"events.jsonl", "events.xml"} {
		code, stdout, _ = cli(t, "validate", "--events", filepath.Join(out, file), "--expect", expect)
		assert.Equal(t, 0, code, "%s: scoped by harness_context, not host name:\n%s", file, stdout)
	}

	nowhere := filepath.Join(t.TempDir(), "nowhere.yaml")
	require.NoError(t, os.WriteFile(nowhere, []byte("expect:\n  laptop:\n  - rule: seed_t1567_001_code_repo_exfil\n    fires: false\n"), 0o600))
	code, _, stderr = cli(t, "validate", "--events", filepath.Join(out, "events.jsonl"), "--expect", nowhere)
	assert.Equal(t, 2, code, "a context with no event checks nothing: bad input, not a pass")
	assert.Contains(t, stderr, `context "laptop": no event was rendered under it`)

	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	for _, args := range [][]string{
		{"spl", "--query", query, "--events", empty},
		{"sigma", "--events", empty},
		{"validate", "--events", empty},
		{"validate", "--events", empty, "--expect", expect},
	} {
		code, stdout, stderr := cli(t, args...)
		assert.Equal(t, 2, code, "%v: %s", args, stdout)
		assert.Contains(t, stderr, empty+": holds no event")
	}

	broken := filepath.Join(t.TempDir(), "broken.jsonl")
	require.NoError(t, os.WriteFile(broken, []byte("{\"EventID\":1}\nnot json\n"), 0o600))
	code, _, stderr = cli(t, "spl", "--query", query, "--events", broken)
	assert.Equal(t, 0, code, "a line that cannot be read is skipped")
	assert.Contains(t, stderr, "skipped "+broken+":2")
	assert.Contains(t, stderr, broken+": 1 event(s) read, 1 skipped (json)")
	code, _, stderr = cli(t, "spl", "--query", query, "--events", broken, "--strict")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, broken+":2")
}

// TestContainerModeWithoutDockerSaysSoAndExitsTwo runs the harness in a
// mount namespace where the Docker socket is masked, as on a machine with
// no engine.
func TestContainerModeWithoutDockerSaysSoAndExitsTwo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to hide the Docker socket in a private mount namespace")
	}
	bin := filepath.Join(t.TempDir(), "harness")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	cmd := exec.Command("unshare", "--mount", "sh", "-c",
		`for s in /var/run/docker.sock /run/docker.sock; do [ -e "$s" ] && mount --bind /dev/null "$s"; done; exec "$0" run --mode container`, bin)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/t1567-docker.sock")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "stderr: %s", stderr.String())
	assert.Equal(t, 2, exitErr.ExitCode())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	assert.Len(t, lines, 1, "one line: %s", stderr.String())
	assert.Contains(t, lines[0], "harness: --mode container: no Docker engine answers")
	assert.Empty(t, stdout.String(), "nothing ran")
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cli(t, "run", "--test", "Exfiltrate Data via GitHub Gist API Using curl", "--context", "workstation", "--json")
	require.Equal(t, 0, code, stderr)
	var res struct {
		RunID    string                       `json:"run_id"`
		Atomics  []struct{ Execution string } `json:"atomics"`
		Verdicts []struct{ Pass bool }        `json:"verdicts"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "stdout is one JSON document: %s", stdout)
	assert.NotEmpty(t, res.RunID)
	require.Len(t, res.Atomics, 1)
	assert.Equal(t, "executed", res.Atomics[0].Execution)
	assert.Len(t, res.Verdicts, 15, "the seed's three rules and the other seeds' twelve, in one context")
}

// TestSigmaPlaceholders: --sigma-placeholders gives expand its values; a
// broken file is bad input naming its file and line.
func TestSigmaPlaceholders(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	require.NoError(t, os.Mkdir(rulesDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rulesDir, "admins.yml"), []byte("title: admin activity\nlogsource: {category: process_creation, product: windows}\ndetection:\n    sel:\n        User|expand: '%Administrators%'\n    condition: sel\n"), 0o600))
	events := filepath.Join(dir, "events.jsonl")
	require.NoError(t, os.WriteFile(events, []byte(`{"Channel":"Microsoft-Windows-Sysmon/Operational","Provider":"Microsoft-Windows-Sysmon","Computer":"WS-1","EventID":1,"EventRecordID":7,"Image":"C:\\x.exe","User":"CORP\\adm_bob"}`+"\n"), 0o600))
	ph := filepath.Join(dir, "placeholders.yml")
	require.NoError(t, os.WriteFile(ph, []byte("Administrators: ['CORP\\adm_*']\n"), 0o600))

	code, out, stderr := cli(t, "sigma", "--rules", rulesDir, "--events", events, "--sigma-placeholders", ph, "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, `"title":"admin activity"`)
	assert.Contains(t, out, `"RecordID":"7"`)

	// Without values the rule cannot load: bad input for sigma, as any
	// rule that cannot load.
	code, out, stderr = cli(t, "sigma", "--rules", rulesDir, "--events", events, "--json")
	assert.Equal(t, 2, code, stderr)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "placeholder %Administrators% has no values")

	require.NoError(t, os.WriteFile(ph, []byte("Administrators:\n  - {a: b}\n"), 0o600))
	code, _, stderr = cli(t, "sigma", "--rules", rulesDir, "--events", events, "--sigma-placeholders", ph)
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, ph+":2:")
}

// TestInterruptStopsAQuery: a query over a large recording stops at the
// context's end (Ctrl-C, SIGTERM) with the interrupted status, not with
// results.
func TestInterruptStopsAQuery(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, `{"EventID":1,"Computer":"ws%d","Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\git.exe","CommandLine":"git push https://github.com/x/y"}`+"\n", i)
	}
	require.NoError(t, os.WriteFile(events, []byte(b.String()), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"spl", "--query", "../../rules/seed_t1567_001_code_repo_exfil.spl", "--events", events, "--json"}, &out, &errOut)
	assert.Equal(t, exitInterrupted, code, errOut.String())
	assert.Contains(t, errOut.String(), "harness: interrupted")
	assert.Empty(t, out.String(), "no rows from an interrupted query")
}

// TestBaselineRegressionExitsOne: a baseline written with the harness's
// rules, then a run with the seed query edited to miss wget, exits 1 and
// names the wget variant.
func TestBaselineRegressionExitsOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.json")
	args := []string{"run", "--test", "wget --method=PUT to the Contents API", "--context", "workstation"}
	code, stdout, stderr := cli(t, append(args, "--write-baseline", base)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	code, _, stderr = cli(t, append(args, "--baseline", base)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "coverage holds against the baseline")

	edited := filepath.Join(dir, "rules")
	require.NoError(t, os.CopyFS(edited, rules.FS))
	spl := filepath.Join(edited, "seed_t1567_001_code_repo_exfil.spl")
	data, err := os.ReadFile(spl)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(spl, bytes.ReplaceAll(data, []byte(` OR Image="*\\wget.exe"`), nil), 0o644))
	code, _, stderr = cli(t, append(args, "--baseline", base, "--rules", edited)...)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "coverage regression: seed_t1567_001_code_repo_exfil in workstation: detection rate 100% -> 0%; now misses wget --method=PUT to the Contents API")

	require.NoError(t, os.WriteFile(base, []byte("{}"), 0o644))
	code, _, stderr = cli(t, append(args, "--baseline", base)...)
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "no rates")
}
