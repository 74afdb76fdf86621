package executor

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/internal/racechild"
)

// The test binary doubles as the harness for simulated tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "replay-http" {
		os.Exit(Replay(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	racechild.Quiet()
	os.Exit(m.Run())
}

func loadEmbedded(t *testing.T) *atomics.Technique {
	t.Helper()
	tech, err := atomics.Load("T1567.001.yaml", atomics.Embedded)
	require.NoError(t, err)
	require.Len(t, tech.Tests, 5)
	return tech
}

var staging = fstest.MapFS{
	"stolen_creds.txt": {Data: []byte("user=admin\npass=FAKE\n")},
	"finance_q3.csv":   {Data: []byte("a,b\n1,2\n")},
	"hosts":            {Data: []byte("127.0.0.1 localhost\n")},
}

func testConfig(t *testing.T, proxyURL string) Config {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return Config{
		ProxyURL: proxyURL,
		CAFile:   filepath.Join(t.TempDir(), "missing-ca.pem"),
		Harness:  exe,
		WorkRoot: t.TempDir(),
		Staging:  staging,
		Timeout:  time.Minute,
	}
}

// refusingProxy answers 403 to everything and records what it was asked.
type refusingProxy struct {
	mu   sync.Mutex
	seen []string
}

func (p *refusingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host)
	p.mu.Unlock()
	http.Error(w, "refused", http.StatusForbidden)
}

func TestFailClosed(t *testing.T) {
	tech := loadEmbedded(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String()
	require.NoError(t, closed.Close()) // nothing listens there now: the emulator is stopped

	refusing := &refusingProxy{}
	srv := httptest.NewServer(refusing)
	defer srv.Close()

	for _, proxy := range []struct{ name, url string }{{"emulator stopped", closedURL}, {"proxy refusing", srv.URL}} {
		for i := range tech.Tests {
			test := &tech.Tests[i]
			t.Run(proxy.name+"/"+test.Name, func(t *testing.T) {
				args, err := test.Args(nil)
				require.NoError(t, err)
				res, err := Run(context.Background(), test, args, testConfig(t, proxy.url))
				require.NoError(t, err)
				require.NotEqual(t, NotRun, res.Execution, "prerequisites: %v", res.MissingPrereqs)
				assert.NotEqual(t, 0, res.ExitCode, "the client must fail when it cannot reach the mock\nstdout: %s\nstderr: %s", res.Stdout, res.Stderr)
				assert.False(t, res.TimedOut)
			})
		}
	}
	// Every client went to the proxy and asked for a code-repository host:
	// none of them tried to reach GitHub by itself.
	refusing.mu.Lock()
	defer refusing.mu.Unlock()
	assert.ElementsMatch(t, []string{
		"CONNECT api.github.com:443", "CONNECT github.com:443", "CONNECT api.github.com:443", "CONNECT api.github.com:443",
		"CONNECT api.github.com:443",
	}, refusing.seen)
}

const probeYAML = `attack_technique: T0000
display_name: probe
atomic_tests:
- name: probe
  description: a test-only atomic
  supported_platforms: [linux]
  input_arguments:
    marker:
      description: file the cleanup writes
      type: path
      default: cleaned
  dependencies:
  - description: a tool named no-such-tool-t1567 must be installed
    prereq_command: "command -v #{probe_tool}"
    get_prereq_command: "true"
  executor:
    name: sh
    command: "#{body}"
    cleanup_command: echo done > "#{marker_dir}/#{marker}"
`

func probe(t *testing.T) *atomics.Test {
	t.Helper()
	tech, err := atomics.Load("probe.yaml", []byte(probeYAML))
	require.NoError(t, err)
	return &tech.Tests[0]
}

func TestCleanupAlwaysRuns(t *testing.T) {
	cases := []struct {
		name        string
		body        string
		timeout     time.Duration
		cancelAfter time.Duration
		wantCode    int
		timedOut    bool
		interrupted bool
	}{
		{"success", "true", time.Minute, 0, 0, false, false},
		{"failure", "exit 3", time.Minute, 0, 3, false, false},
		{"timeout", "sleep 30 & sleep 30; wait", 300 * time.Millisecond, 0, -1, true, false},
		{"cancelled", "sleep 30", time.Minute, 300 * time.Millisecond, -1, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			test := probe(t)
			markerDir := t.TempDir()
			cfg := testConfig(t, "http://127.0.0.1:9")
			cfg.Timeout = tc.timeout
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			args := map[string]string{"marker": "cleaned", "marker_dir": markerDir, "body": tc.body, "probe_tool": "sh"}
			start := time.Now()
			res, err := Run(ctx, test, args, cfg)
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 20*time.Second, "a timeout or cancel must not wait for the sleeps")
			assert.Equal(t, Executed, res.Execution)
			assert.Equal(t, tc.timedOut, res.TimedOut)
			assert.Equal(t, tc.interrupted, res.Interrupted)
			if tc.wantCode >= 0 {
				assert.Equal(t, tc.wantCode, res.ExitCode)
			} else {
				assert.NotEqual(t, 0, res.ExitCode)
			}
			data, err := os.ReadFile(filepath.Join(markerDir, "cleaned"))
			require.NoError(t, err, "cleanup must have run")
			assert.Equal(t, "done\n", string(data))
			assert.Empty(t, res.CleanupError)
		})
	}
}

func TestMissingPrerequisiteIsNamed(t *testing.T) {
	test := probe(t)
	markerDir := t.TempDir()
	args := map[string]string{"marker": "cleaned", "marker_dir": markerDir, "body": "touch ran", "probe_tool": "no-such-tool-t1567"}
	res, err := Run(context.Background(), test, args, testConfig(t, "http://127.0.0.1:9"))
	require.NoError(t, err)
	assert.Equal(t, NotRun, res.Execution)
	require.Len(t, res.MissingPrereqs, 1)
	assert.Contains(t, res.MissingPrereqs[0], "no-such-tool-t1567")
	assert.NoFileExists(t, filepath.Join(res.WorkDir, "ran"), "nothing runs when a prerequisite is missing")
}

func TestSimulationOnlyWhenToolMissing(t *testing.T) {
	for _, tc := range []struct {
		requires, check string
		want            Execution
	}{
		{"sh", "", Executed},
		{"no-such-tool-t1567", "", Simulated},
		// The tool is there, but its check says it cannot do the test
		// (an rclone without its mega backend).
		{"sh", "test -e no-such-file", Simulated},
		{"sh", "test -e which-not-yet || true", Executed},
	} {
		t.Run(tc.requires+" "+tc.check, func(t *testing.T) {
			test := &atomics.Test{
				Name:       "sim " + tc.requires,
				Executor:   atomics.Executor{Name: "sh", Command: "echo real > which"},
				Simulation: &atomics.Simulation{Requires: tc.requires, Check: tc.check, Command: "echo simulated > which"},
			}
			res, err := Run(context.Background(), test, nil, testConfig(t, "http://127.0.0.1:9"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Execution)
			got, err := os.ReadFile(filepath.Join(res.WorkDir, "which"))
			require.NoError(t, err)
			assert.Equal(t, map[Execution]string{Executed: "real\n", Simulated: "simulated\n"}[tc.want], string(got))
			if tc.want == Simulated {
				assert.Contains(t, res.SimulationReason, tc.requires)
			}
		})
	}
}

func TestEnvironPointsEverythingAtTheProxy(t *testing.T) {
	t.Setenv("NO_PROXY", "github.com")
	t.Setenv("https_proxy", "http://elsewhere:3128")
	t.Setenv("GIT_CONFIG_GLOBAL", "/root/.gitconfig")
	t.Setenv("AWS_CA_BUNDLE", "/elsewhere/aws-ca.pem")
	t.Setenv("AWS_ENDPOINT_URL_S3", "https://elsewhere.example")
	env := Environ(Config{ProxyURL: "http://127.0.0.1:1", CAFile: "/ca.pem"}, "/home/x")
	joined := "\n" + strings.Join(env, "\n") + "\n"
	assert.NotContains(t, joined, "elsewhere")
	assert.NotContains(t, joined, "NO_PROXY=github.com")
	assert.NotContains(t, joined, "/root/.gitconfig")
	for _, want := range []string{"HTTPS_PROXY=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1", "ALL_PROXY=http://127.0.0.1:1",
		"SSL_CERT_FILE=/ca.pem", "CURL_CA_BUNDLE=/ca.pem", "GIT_SSL_CAINFO=/ca.pem", "REQUESTS_CA_BUNDLE=/ca.pem",
		"NO_PROXY=", "HOME=/home/x", "GIT_TERMINAL_PROMPT=0"} {
		assert.Contains(t, joined, "\n"+want+"\n")
	}
}

func TestStagedFileMissingIsAnError(t *testing.T) {
	test := &atomics.Test{Name: "x", StagedFiles: []string{"nope.txt"}, Executor: atomics.Executor{Name: "sh", Command: "true"}}
	_, err := Run(context.Background(), test, nil, testConfig(t, "http://127.0.0.1:9"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope.txt")
}

func TestExecutorNames(t *testing.T) {
	_, pwshErr := exec.LookPath("pwsh")
	cases := []struct {
		name    string
		want    Execution
		because string
	}{
		{"sh", Executed, ""},
		{"bash", Executed, ""},
		{"command_prompt", NotRun, "cmd.exe"},
		{"manual", NotRun, "manual"},
		{"osascript", NotRun, `executor "osascript" is not one this harness runs`},
	}
	if pwshErr != nil {
		cases = append(cases, struct {
			name    string
			want    Execution
			because string
		}{"powershell", NotRun, "needs pwsh, which is not installed"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			test := &atomics.Test{Name: tc.name, Executor: atomics.Executor{Name: tc.name, Command: "echo ran > which"}}
			res, err := Run(context.Background(), test, nil, testConfig(t, "http://127.0.0.1:9"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Execution)
			if tc.want == NotRun {
				require.Len(t, res.MissingPrereqs, 1)
				assert.Contains(t, res.MissingPrereqs[0], tc.because)
				assert.NoFileExists(t, filepath.Join(res.WorkDir, "which"), "nothing ran")
			} else {
				assert.FileExists(t, filepath.Join(res.WorkDir, "which"))
			}
		})
	}
}

// TestRunnerCallsAreBatched: where each command costs a round trip (a
// Runner), a test whose tools were looked up for the run takes one call for
// its prerequisite checks, command and cleanup; a failed check stops it
// before the command, as a check on its own would; a command that times out
// still gets its cleanup, in a call of its own.
func TestRunnerCallsAreBatched(t *testing.T) {
	for _, tc := range []struct {
		name      string
		found     map[string]bool
		tool      string
		body      string
		timeout   time.Duration
		calls     int
		want      Execution
		wantCode  int
		cleanedUp bool
	}{
		{"tools known, checks pass", map[string]bool{"sh": true}, "sh", "touch ran; exit 4", time.Minute, 1, Executed, 4, true},
		{"tools known, a check fails", map[string]bool{"sh": true}, "no-such-tool-t1567", "touch ran", time.Minute, 1, NotRun, -1, false},
		{"tools to look up", nil, "sh", "touch ran", time.Minute, 2, Executed, 0, true},
		{"timed out", map[string]bool{"sh": true}, "sh", "touch ran; sleep 30", 500 * time.Millisecond, 2, Executed, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			cfg := testConfig(t, "http://127.0.0.1:9")
			cfg.Found, cfg.Timeout = tc.found, tc.timeout
			cfg.Runner = func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				return runCommand(ctx, argv, dir, env, stdout, stderr)
			}
			markerDir := t.TempDir()
			args := map[string]string{"marker": "cleaned", "marker_dir": markerDir, "body": tc.body, "probe_tool": tc.tool}
			res, err := Run(context.Background(), probe(t), args, cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.calls, calls, "runner calls")
			assert.Equal(t, tc.want, res.Execution)
			if tc.wantCode >= 0 {
				assert.Equal(t, tc.wantCode, res.ExitCode)
			} else {
				assert.NotEqual(t, 0, res.ExitCode)
			}
			if tc.want == NotRun {
				require.Len(t, res.MissingPrereqs, 1)
				assert.Contains(t, res.MissingPrereqs[0], "no-such-tool-t1567")
				assert.Empty(t, res.Command)
				assert.NoFileExists(t, filepath.Join(res.WorkDir, "ran"), "nothing runs when a prerequisite is missing")
			} else {
				assert.FileExists(t, filepath.Join(res.WorkDir, "ran"))
			}
			if tc.cleanedUp {
				data, err := os.ReadFile(filepath.Join(markerDir, "cleaned"))
				require.NoError(t, err, "cleanup must have run")
				assert.Equal(t, "done\n", string(data))
			} else {
				assert.NoFileExists(t, filepath.Join(markerDir, "cleaned"))
			}
			assert.Empty(t, res.CleanupError)
			left, err := filepath.Glob(filepath.Join(cfg.WorkRoot, ".batch-*"))
			require.NoError(t, err)
			assert.Empty(t, left, "the batch's status files are removed")
		})
	}
}

// TestBatchReportsAFailedCleanup: a cleanup that fails inside the batch is
// reported with its status and output, as one run on its own is.
func TestBatchReportsAFailedCleanup(t *testing.T) {
	test := &atomics.Test{Name: "cleanup fails", Executor: atomics.Executor{Name: "sh", Command: "true", CleanupCommand: "echo nope >&2; exit 5"}}
	cfg := testConfig(t, "http://127.0.0.1:9")
	cfg.Found = map[string]bool{"sh": true}
	cfg.Runner = runCommand
	res, err := Run(context.Background(), test, nil, cfg)
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "cleanup exited 5: nope", res.CleanupError)
}
