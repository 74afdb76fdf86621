// Package executor runs one atomic test on this machine: it stages the
// test's files in a fresh work directory, checks its prerequisites, runs its
// command unmodified with `sh`, confined where the caller says how (the
// local mode's network sandbox), with an environment that trusts the run's
// CA (and, without a sandbox, points every client at the emulator's
// proxy), and always runs the cleanup
// command, on success, failure, timeout and cancellation alike. When a tool
// the test needs is missing and the test says how, the test's network
// exchange is replayed by a child process instead and the result is marked
// simulated, never executed.
package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/t1567001/harness/atomics"
)

// Execution says how a test's behaviour came about.
type Execution string

const (
	// Executed: the test's own command ran.
	Executed Execution = "executed"
	// Simulated: a missing tool was stood in for by a replay of its traffic.
	Simulated Execution = "simulated"
	// NotRun: a prerequisite was missing and nothing ran.
	NotRun Execution = "not-run"
)

// Config says where and how tests run.
type Config struct {
	// ProxyURL is the emulator's CONNECT proxy (http://127.0.0.1:port).
	ProxyURL string
	// CAFile is the run's CA certificate in PEM: the clients' own stores
	// (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, ...) point
	// at it.
	CAFile string
	// SSHCommand, when set, is the GIT_SSH_COMMAND that sends git over SSH
	// to the emulator.
	SSHCommand string
	// Harness is the binary that provides `replay-http` and `replay-mega`; #{harness} in a
	// simulation command expands to it.
	Harness string
	// WorkRoot holds each test's fresh work directory.
	WorkRoot string
	// Staging is where staged_files are read from.
	Staging fs.FS
	// Timeout bounds the test's command; cleanup gets its own budget.
	Timeout time.Duration
	// Wrap, when set, turns the command's argv into the argv that runs,
	// for example under the sensor; it is told the test's work and home
	// directories.
	Wrap func(argv []string, workDir, homeDir string) []string
	// Output, when set, also receives the command's stdout and stderr live.
	Output io.Writer
	// Runner runs one command where the tests run; nil runs it on this
	// machine in its own process group. It returns the exit code, or an
	// error when the command could not be run at all. Where each command
	// costs a round trip (a container exec), a test's prerequisite checks,
	// command and cleanup go in one call when they can.
	Runner Runner
	// Found says, for tools already looked up where the tests run (see
	// [LookUpTools]), whether each is installed, so that a test looks up
	// only the others.
	Found map[string]bool
	// BaseEnv is the environment tests start from; nil means this
	// process's environment.
	BaseEnv []string
	// ExtraEnv is added to every test's environment (KEY=value), for
	// example a tag by which the run's processes can be found.
	ExtraEnv []string
	// Isolate, when set, confines each test: it returns the runner for
	// all of the test's commands (prerequisites, command, cleanup), for
	// example inside a fresh sandbox, and a function that ends the
	// confinement once the test is over. It overrides Runner.
	Isolate func(ctx context.Context) (Runner, func(), error)
}

// Runner runs argv in dir with env, like a shell would.
type Runner func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error)

const (
	defaultTimeout = 2 * time.Minute
	cleanupTimeout = 30 * time.Second
	waitDelay      = 5 * time.Second
)

// Staged is one file copied into the work directory before the test ran.
type Staged struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Result is what happened when a test ran.
type Result struct {
	Name             string    `json:"name"`
	GUID             string    `json:"guid"`
	Execution        Execution `json:"execution"`
	SimulationReason string    `json:"simulation_reason,omitempty"`
	MissingPrereqs   []string  `json:"missing_prereqs,omitempty"`
	Command          string    `json:"command"`
	WorkDir          string    `json:"work_dir"`
	HomeDir          string    `json:"home_dir"`
	ExitCode         int       `json:"exit_code"`
	TimedOut         bool      `json:"timed_out,omitempty"`
	Interrupted      bool      `json:"interrupted,omitempty"`
	Stdout           string    `json:"stdout,omitempty"`
	Stderr           string    `json:"stderr,omitempty"`
	CleanupError     string    `json:"cleanup_error,omitempty"`
	Staged           []Staged  `json:"staged"`
	Started          time.Time `json:"started"`
	Ended            time.Time `json:"ended"`
}

// Run runs test t with its input arguments (defaults with overrides
// applied). The returned error is for failures of the harness itself; a
// test that fails is a Result with a non-zero ExitCode.
func Run(ctx context.Context, t *atomics.Test, args map[string]string, cfg Config) (*Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	run := cfg.Runner
	if run == nil {
		run = runCommand
	}
	res := &Result{Name: t.Name, GUID: t.GUID, Started: time.Now().UTC(), ExitCode: -1}
	defer func() { res.Ended = time.Now().UTC() }()
	if cfg.Isolate != nil {
		confined, end, err := cfg.Isolate(ctx)
		if err != nil {
			return nil, fmt.Errorf("confining %q: %w", t.Name, err)
		}
		defer end()
		run = confined
	}

	dir, err := os.MkdirTemp(cfg.WorkRoot, slug(t.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("work dir for %q: %w", t.Name, err)
	}
	res.WorkDir = dir
	if res.Staged, err = stage(cfg.Staging, t.StagedFiles, dir); err != nil {
		return nil, fmt.Errorf("staging files for %q: %w", t.Name, err)
	}
	home, err := os.MkdirTemp(cfg.WorkRoot, "home-")
	if err != nil {
		return nil, fmt.Errorf("home dir for %q: %w", t.Name, err)
	}
	res.HomeDir = home
	env := Environ(cfg, home)
	vars := withBuiltins(args, cfg)

	command := t.Executor.Command
	shell, why := interpreter(t.Executor.Name)
	res.Execution = Executed
	// Every tool not known yet is looked up at once, where the test runs
	// (which need not be this machine).
	missing := map[string]bool{}
	var tools []string
	for _, tool := range Tools(t) {
		if found, known := cfg.Found[tool]; known {
			missing[tool] = !found
		} else {
			tools = append(tools, tool)
		}
	}
	// Where each command costs a container exec, the prerequisite checks
	// go in one command: the lookup's, while there is one and no
	// simulation to choose, else the test's own (see batch).
	shDeps := t.DependencyExecutorName == "" || t.DependencyExecutorName == "sh" || t.DependencyExecutorName == "bash"
	var prereqs []string
	if cfg.Runner != nil && why == "" && shDeps && (len(tools) == 0 || t.Simulation == nil) {
		for _, d := range t.Dependencies {
			prereqs = append(prereqs, atomics.Substitute(d.PrereqCommand, vars))
		}
	}
	var prereqCodes []int
	if len(tools) > 0 {
		found, codes, _ := lookUp(ctx, cfg.Runner, tools, prereqs, dir, env)
		for tool, m := range found {
			missing[tool] = m
		}
		prereqCodes, prereqs = codes, nil
	}
	unable := false // the tool is there, but its check fails
	if sim := t.Simulation; sim != nil && sim.Check != "" && !missing[sim.Requires] {
		cctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
		code, err := run(cctx, []string{"sh", "-c", sim.Check}, dir, env, io.Discard, io.Discard)
		cancel()
		unable = err != nil || code != 0
	}
	if sim := t.Simulation; sim != nil && (missing[sim.Requires] || unable) {
		command, shell, why = sim.Command, []string{"sh", "-c"}, ""
		res.Execution = Simulated
		res.SimulationReason = sim.Reason
		switch {
		case res.SimulationReason != "":
		case unable:
			res.SimulationReason = fmt.Sprintf("%s cannot do this test (%s fails)", sim.Requires, sim.Check)
		default:
			res.SimulationReason = sim.Requires + " is not installed"
		}
		prereqs = nil
	}
	if why != "" {
		res.Execution = NotRun
		res.MissingPrereqs = []string{why}
		return res, nil
	}
	batched := cfg.Runner != nil && (shell[0] == "sh" || shell[0] == "bash")
	if res.Execution == Executed {
		if missing[shell[0]] {
			res.Execution = NotRun
			res.MissingPrereqs = []string{fmt.Sprintf("the %s executor needs %s, which is not installed", t.Executor.Name, shell[0])}
			return res, nil
		}
		switch {
		case prereqCodes != nil:
			res.MissingPrereqs = missingPrereqs(t, vars, prereqCodes)
		case len(prereqs) > 0 && batched:
		default:
			prereqs = nil
			res.MissingPrereqs = checkPrereqs(ctx, run, t, vars, dir, env)
		}
		if len(res.MissingPrereqs) > 0 {
			res.Execution = NotRun
			return res, nil
		}
	}
	res.Command = atomics.Substitute(command, vars)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	argv := append(append([]string(nil), shell...), res.Command)
	if cfg.Wrap != nil {
		argv = cfg.Wrap(argv, dir, home)
	}
	cleanup := strings.TrimSpace(t.Executor.CleanupCommand) != ""
	var b *batch
	if batched {
		var cshell, ccmd string
		if cleanup {
			cshell, ccmd = shell[0], atomics.Substitute(t.Executor.CleanupCommand, vars)
		}
		if b, err = newBatch(cfg.WorkRoot, prereqs, cshell, ccmd); err != nil {
			return nil, fmt.Errorf("running %q: %w", t.Name, err)
		}
		defer b.remove()
		argv = b.argv(argv)
	}
	var stdout, stderr bytes.Buffer
	res.ExitCode, err = run(runCtx, argv, dir, env, tee(&stdout, cfg.Output), tee(&stderr, cfg.Output))
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		res.TimedOut = true
	case ctx.Err() != nil:
		res.Interrupted = true
	}
	if b != nil {
		st := b.read()
		if codes := st.prereqs; len(codes) == len(prereqs) && slices.ContainsFunc(codes, func(c int) bool { return c != 0 }) {
			// Nothing ran: the same result as a check on its own.
			res.Execution, res.MissingPrereqs = NotRun, missingPrereqs(t, vars, codes)
			res.Command, res.ExitCode, res.Stdout, res.Stderr = "", -1, "", ""
			return res, nil
		}
		if st.cleaned {
			if st.cleanupCode != 0 {
				res.CleanupError = fmt.Sprintf("cleanup exited %d: %s", st.cleanupCode, strings.TrimSpace(st.cleanupOut))
			}
			cleanup = false
		}
	}

	// Cleanup runs whatever happened, even after the caller gave up (when
	// it did not run with the command).
	if c := t.Executor.CleanupCommand; cleanup {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer ccancel()
		var cout bytes.Buffer
		code, cerr := run(cctx, append(append([]string(nil), shell...), atomics.Substitute(c, vars)), dir, env, &cout, &cout)
		switch {
		case cerr != nil:
			res.CleanupError = cerr.Error()
		case code != 0:
			res.CleanupError = fmt.Sprintf("cleanup exited %d: %s", code, strings.TrimSpace(cout.String()))
		}
	}
	if err != nil && !res.TimedOut && !res.Interrupted {
		return res, fmt.Errorf("running %q: %w", t.Name, err)
	}
	return res, nil
}

// routesAround matches inherited variables that could send a client around
// the proxy or make it trust another CA.
var routesAround = regexp.MustCompile(`(?i)^(https?_proxy|all_proxy|no_proxy|ftp_proxy|ssl_cert_(file|dir)|curl_ca_bundle|requests_ca_bundle|node_extra_ca_certs|node_tls_reject_unauthorized|git_ssl_.*|git_config.*|git_proxy_command|home|xdg_config_home|curl_home|pythonhttpsverify|aws_ca_bundle|aws_endpoint_url.*|rclone_config.*)=`)

// Environ is the environment a test runs with: the base environment, less
// anything that could route around the proxy or trust another CA, plus the
// proxy and the run's CA for every client the atomics use (where the run has
// a proxy and a CA file: in containers, names resolve to the emulator and
// the CA is in the system store).
func Environ(cfg Config, home string) []string {
	base := cfg.BaseEnv
	if base == nil {
		base = os.Environ()
	}
	var env []string
	for _, kv := range base {
		if !routesAround.MatchString(kv) {
			env = append(env, kv)
		}
	}
	if cfg.ProxyURL != "" {
		for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
			env = append(env, k+"="+cfg.ProxyURL)
		}
	}
	if cfg.CAFile != "" {
		for _, k := range []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"} {
			env = append(env, k+"="+cfg.CAFile)
		}
	}
	if cfg.SSHCommand != "" {
		env = append(env, "GIT_SSH_COMMAND="+cfg.SSHCommand)
	}
	env = append(env, cfg.ExtraEnv...)
	return append(env,
		"NO_PROXY=", "no_proxy=",
		"HOME="+home,
		// No user or system git configuration (insteadOf, credential
		// helpers, proxies) can redirect a push, and git never prompts.
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
	)
}

// interpreter is how an executor's commands run here, or why they cannot:
// Invoke-AtomicTest runs sh and bash tests with that shell and powershell
// tests with PowerShell; cmd.exe and manual steps have no Linux equivalent.
func interpreter(executor string) (argv []string, whyNot string) {
	switch strings.ToLower(executor) {
	case "sh", "":
		return []string{"sh", "-c"}, ""
	case "bash":
		return []string{"bash", "-c"}, ""
	case "powershell":
		return []string{"pwsh", "-NoProfile", "-NonInteractive", "-Command"}, ""
	case "command_prompt":
		return nil, "the command_prompt executor runs cmd.exe, which Linux does not have"
	case "manual":
		return nil, "a manual test has steps for a person, not a command"
	}
	return nil, fmt.Sprintf("executor %q is not one this harness runs (sh, bash, powershell)", executor)
}

func withBuiltins(args map[string]string, cfg Config) map[string]string {
	vars := make(map[string]string, len(args)+1)
	for k, v := range args {
		vars[k] = v
	}
	vars["harness"] = cfg.Harness
	return vars
}

// missingPrereqs describes the dependencies whose checks exited non-zero.
func missingPrereqs(t *atomics.Test, vars map[string]string, codes []int) []string {
	var missing []string
	for i, d := range t.Dependencies {
		if codes[i] != 0 {
			missing = append(missing, strings.TrimSpace(atomics.Substitute(d.Description, vars)))
		}
	}
	return missing
}

// Tools are the programs test t needs looked up where it runs: its
// executor's interpreter and the tool its simulation stands in for.
func Tools(t *atomics.Test) []string {
	var tools []string
	if shell, why := interpreter(t.Executor.Name); why == "" {
		tools = append(tools, shell[0])
	}
	if sim := t.Simulation; sim != nil {
		tools = append(tools, sim.Requires)
	}
	return tools
}

// LookUpTools looks up tools where cfg's tests run, all in one command (on
// this machine without starting a process), for [Config.Found]: true for
// each tool that is installed. It returns nil when the lookup itself
// failed, so that each test looks up its own.
func LookUpTools(ctx context.Context, cfg Config, tools []string) map[string]bool {
	home := cfg.WorkRoot
	if home == "" {
		home = os.TempDir()
	}
	missing, _, ok := lookUp(ctx, cfg.Runner, tools, nil, "/", Environ(cfg, home))
	if !ok {
		return nil
	}
	found := make(map[string]bool, len(tools))
	for _, t := range tools {
		found[t] = !missing[t]
	}
	return found
}

func checkPrereqs(ctx context.Context, run Runner, t *atomics.Test, vars map[string]string, dir string, env []string) []string {
	if n := t.DependencyExecutorName; n != "" && n != "sh" && n != "bash" {
		return []string{fmt.Sprintf("dependencies need the %q executor, which this harness does not run", n)}
	}
	var missing []string
	for _, d := range t.Dependencies {
		pctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
		var out bytes.Buffer
		code, err := run(pctx, []string{"sh", "-c", atomics.Substitute(d.PrereqCommand, vars)}, dir, env, &out, &out)
		cancel()
		desc := strings.TrimSpace(atomics.Substitute(d.Description, vars))
		switch {
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s (the check could not run: %v)", desc, err))
		case code != 0:
			missing = append(missing, desc)
		}
	}
	return missing
}

// lookUp returns which of tools `command -v` does not find where the tests
// run, the exit codes of the prereqs commands (nil when there are none,
// or when they could not be run here and must be checked one by one), and
// whether the lookup itself worked (if not, every tool counts as missing).
// On this machine (run nil) tools are looked up without starting a
// process; elsewhere everything is asked in one command.
func lookUp(ctx context.Context, run Runner, tools, prereqs []string, dir string, env []string) (map[string]bool, []int, bool) {
	missing := map[string]bool{}
	if run == nil {
		for _, t := range tools {
			missing[t] = !lookPath(t, env)
		}
		return missing, nil, true
	}
	if len(tools) == 0 && len(prereqs) == 0 {
		return missing, nil, true
	}
	pctx, cancel := context.WithTimeout(ctx, time.Duration(len(prereqs)+1)*cleanupTimeout)
	defer cancel()
	var out bytes.Buffer
	argv := append([]string{"sh", "-c", probeScript, "sh", strconv.Itoa(len(tools))}, tools...)
	code, err := run(pctx, append(argv, prereqs...), dir, env, &out, io.Discard)
	codes := make([]int, len(prereqs))
	seen := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "missing "); ok {
			missing[name] = true
		} else if rest, ok := strings.CutPrefix(line, "prereq "); ok {
			i, c, _ := strings.Cut(rest, " ")
			n, err1 := strconv.Atoi(i)
			v, err2 := strconv.Atoi(c)
			if err1 == nil && err2 == nil && n >= 0 && n < len(codes) {
				codes[n] = v
				seen++
			}
		}
	}
	if err != nil || code != 0 {
		for _, t := range tools {
			missing[t] = true
		}
		return missing, nil, false
	}
	if len(prereqs) == 0 || seen != len(prereqs) {
		return missing, nil, true
	}
	return missing, codes, true
}

// probeScript: $1 tools to look up, then the prereq commands, each run on
// its own with its exit status reported.
const probeScript = `n=$1; shift
i=0; while [ "$i" -lt "$n" ]; do command -v "$1" >/dev/null || echo "missing $1"; shift; i=$((i+1)); done
i=0; for p; do (sh -c "$p") >/dev/null 2>&1 </dev/null; echo "prereq $i $?"; i=$((i+1)); done
exit 0`

// runCommand runs argv in its own process group so that a timeout or a
// cancellation kills everything it started, not just the shell, and so
// that background children it leaves (`sleep 300 &`, nohup) end with it.
// Only a child that left the group (setsid) escapes: what confines those
// is the caller's Isolate (local mode's sandbox, whose PID namespace ends
// them, or, without it, its reaper, their subreaper).
func runCommand(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Start()
	if err == nil {
		endsWith(cmd.Process.Pid)
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), nil
	default:
		return -1, fmt.Errorf("%s: %w", argv[0], err)
	}
}

func stage(src fs.FS, names []string, dir string) ([]Staged, error) {
	var staged []Staged
	for _, name := range names {
		if src == nil {
			return nil, fmt.Errorf("staged file %q: no staging source configured", name)
		}
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return nil, fmt.Errorf("staged file %q: %w", name, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return nil, fmt.Errorf("staged file %q: %w", name, err)
		}
		sum := sha256.Sum256(data)
		staged = append(staged, Staged{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	return staged, nil
}

func tee(buf *bytes.Buffer, also io.Writer) io.Writer {
	if also == nil {
		return buf
	}
	return io.MultiWriter(buf, also)
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(name string) string {
	s := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}
