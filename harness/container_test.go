package harness

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
	"github.com/t1567001/harness/validate"
)

func containerOptions(t *testing.T) ContainerOptions {
	t.Helper()
	testcontainers.SkipIfProviderIsNotHealthy(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	return ContainerOptions{Exe: exe, ModuleRoot: reftest.ModuleRoot(t), Log: testWriter{t}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// assertNoLeftovers checks that no container or network of the run
// remains (other runs, such as other packages' tests, may be going on).
func assertNoLeftovers(t *testing.T, runID string) {
	t.Helper()
	for _, kind := range [][]string{{"ps", "-a"}, {"network", "ls"}} {
		out, err := exec.Command("docker", append(kind, "--filter", "label="+containers.LabelRun+"="+runID, "--format", "{{.Names}}")...).CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Empty(t, strings.TrimSpace(string(out)), "docker %v", kind)
	}
}

// TestContainerModeMatchesLocalMode runs the four atomics in containers and
// locally: every staged file arrives intact in both, every connect goes to
// a served host's address of the real service (held by the emulator), and
// the verdicts are the same.
func TestContainerModeMatchesLocalMode(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	ctx := context.Background()
	opts := baseOptions(t)
	opts.RunID = "test-match-" + uuid.NewString()
	inContainers, err := RunContainer(ctx, opts, copts)
	require.NoError(t, err)
	assertNoLeftovers(t, opts.RunID)
	assert.Equal(t, "container", inContainers.Results.Mode)
	require.Len(t, inContainers.Results.Atomics, 5)
	for _, a := range inContainers.Results.Atomics {
		assert.True(t, a.Intact, "%s: %s", a.Name, a.Stderr)
	}
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	served := table.Addrs()
	for _, tr := range inContainers.Tests {
		require.NotEmpty(t, tr.Observations, "%s ran under the sensor in the runner", tr.Test.Name)
		for _, o := range tr.Observations {
			switch {
			case o.Kind == sensor.KindConnect && o.Proto != "udp" && o.RemoteIP != "":
				assert.Contains(t, served, netip.MustParseAddr(o.RemoteIP), "%s connected to %s: not a served host's address", tr.Test.Name, o.RemoteIP)
			case o.Kind == sensor.KindDNS:
				assert.Equal(t, table.Resolver.String(), o.RemoteIP, "%s: DNS goes to the sinkhole only", tr.Test.Name)
			}
		}
	}
	assertDestinationIPs(t, inContainers, table)
	local, err := RunLocal(ctx, baseOptions(t))
	require.NoError(t, err)

	profiles, err := Contexts(nil)
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rulesFS(), validate.Options{})
	require.NoError(t, err)
	verdicts := func(r *Run) []string {
		_, err := r.Validate(ctx, profiles, "", loaded)
		require.NoError(t, err)
		var out []string
		for _, v := range r.Results.Verdicts {
			out = append(out, strings.Join([]string{v.Context, v.Atomic, v.Rule, v.Expected.String(), boolWord(v.Pass), boolWord(v.Gap != "")}, " | "))
		}
		return out
	}
	want := verdicts(local)
	got := verdicts(inContainers)
	assert.Equal(t, want, got)
	expectations := 0
	for _, tr := range local.Tests {
		for _, p := range profiles {
			expectations += len(tr.Test.Expect[p.Name])
		}
	}
	assert.Len(t, got, expectations)
}

// TestContainerLanesTraceEveryEntryToItsTest runs atomics in containers on
// two lanes, each an emulator and a runner of its own, two of them the
// same test started at once: every lane holds the same addresses, yet
// every ledger entry and DNS record goes to the test that sent it, each
// Sysmon 3 names the address of the real service the client dialled, and
// outcomes and telemetry are what the same tests give on one lane.
func TestContainerLanesTraceEveryEntryToItsTest(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	ctx := context.Background()
	opts := options(t)
	opts.Tests = twinTests
	opts.Lanes = 1
	serial, err := RunContainer(ctx, opts, copts)
	require.NoError(t, err)
	opts.Lanes = 2
	opts.RunID = "test-lanes-" + uuid.NewString()
	parallel, err := RunContainer(ctx, opts, copts)
	require.NoError(t, err)
	assertNoLeftovers(t, opts.RunID)
	assertLanesMatchSerial(t, serial, parallel)
	origins := map[string]bool{}
	for _, e := range parallel.Ledger {
		origins[e.Origin] = true
	}
	assert.Equal(t, map[string]bool{"lane 0": true, "lane 1": true}, origins, "each lane's emulator marks its entries")
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	assertDestinationIPs(t, parallel, table)
}

func TestMergeByTimeKeepsEachLedgersOrder(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	entry := func(origin string, s int) emulator.Entry { return emulator.Entry{Origin: origin, Time: at(s)} }
	tests := []struct {
		name    string
		ledgers [][]emulator.Entry
		want    []emulator.Entry
	}{
		{"none", nil, []emulator.Entry{}},
		{"one, out of time order", [][]emulator.Entry{{entry("a", 2), entry("a", 1)}}, []emulator.Entry{entry("a", 2), entry("a", 1)}},
		{"interleaved", [][]emulator.Entry{{entry("a", 1), entry("a", 3)}, {entry("b", 2), entry("b", 4)}},
			[]emulator.Entry{entry("a", 1), entry("b", 2), entry("a", 3), entry("b", 4)}},
		{"tie goes to the first", [][]emulator.Entry{{entry("a", 1)}, {entry("b", 1)}, {}},
			[]emulator.Entry{entry("a", 1), entry("b", 1)}},
		{"a late entry waits its turn", [][]emulator.Entry{{entry("a", 5), entry("a", 1)}, {entry("b", 2)}},
			[]emulator.Entry{entry("b", 2), entry("a", 5), entry("a", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mergeByTime(tt.ledgers))
		})
	}
}

// assertDestinationIPs renders every test of run under the workstation
// profile: each Sysmon 3 names, as DestinationIp, the address of the real
// service the client dialled for its DestinationHostname (the table's),
// observed rather than modelled, and each served host the run reached has
// such an event.
func assertDestinationIPs(t *testing.T, run *Run, table *sandbox.Table) {
	t.Helper()
	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	reached := map[string]bool{}
	for _, tr := range run.Tests {
		for _, e := range tr.Ledger {
			if e.IsRequest() {
				reached[e.Host] = true
			}
		}
	}
	require.NotEmpty(t, reached)
	seen := map[string]bool{}
	for _, tr := range run.Tests {
		events, err := run.render(tr, profiles[0], "")
		require.NoError(t, err)
		for _, ev := range events {
			if ev.EventID != 3 {
				continue
			}
			host, _ := ev.Get("DestinationHostname")
			ip, _ := ev.Get("DestinationIp")
			addrs := table.Lookup(host)
			require.NotEmpty(t, addrs, "%s: Sysmon 3 to %q, not a served host", tr.Test.Name, host)
			assert.Contains(t, addrs, netip.MustParseAddr(ip), "%s: DestinationIp of %s", tr.Test.Name, host)
			assert.NotContains(t, ev.ModelledFields, "DestinationIp", "%s: the address dialled is observed", tr.Test.Name)
			seen[host] = true
		}
	}
	assert.Equal(t, reached, seen, "every served host reached has its Sysmon 3")
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// TestContainerEgressIsClosed proves that the runner has no way out: its
// network namespace has no route at all, and a connection to any address
// but the served hosts' fails at once (ENETUNREACH), while those reach the
// emulator, which holds them.
func TestContainerEgressIsClosed(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	ctx := context.Background()
	image, err := HarnessImage(ctx, copts)
	require.NoError(t, err)
	runID := "test-egress-" + uuid.NewString()
	b, err := newContainerBackend(ctx, runID, t.TempDir(), image, 1)
	require.NoError(t, err)
	defer func() {
		require.NoError(t, b.Close())
		assertNoLeftovers(t, runID)
	}()
	var out bytes.Buffer
	// Loopback only: no interface, hence no route, anywhere else.
	code, err := b.lanes[0].runner.Exec(ctx, []string{"sh", "-c", `cat /proc/net/route; ls /sys/class/net`}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Equal(t, []string{"lo"}, lines[1:], "the only interface")
	assert.True(t, strings.HasPrefix(lines[0], "Iface"), "no IPv4 route: %s", out.String())
	// The host name is the workstation profile's, as in the local sandbox.
	out.Reset()
	code, err = b.lanes[0].runner.Exec(ctx, []string{"hostname"}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	host, err := sandboxHostname()
	require.NoError(t, err)
	assert.Equal(t, host+"\n", out.String())
	// A raw connect to an address outside the table fails at once.
	out.Reset()
	code, err = b.lanes[0].runner.Exec(ctx, []string{"python3", "-c", `import socket
try:
    socket.create_connection(("1.1.1.1", 443), timeout=10)
except OSError as e:
    print(e.errno, e)`}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.Regexp(t, `^101 .*Network is unreachable`, out.String(), "failed at once, not by a timeout")

	// ssh has no way out either: an address outside the table is
	// unreachable at once, and gitlab.com, served but not over SSH,
	// refuses on its held address.
	for host, want := range map[string]string{"1.1.1.1": "Network is unreachable", "gitlab.com": "Connection refused"} {
		out.Reset()
		code, err = b.lanes[0].runner.Exec(ctx, []string{"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "git@" + host}, "/", runnerEnv, &out, &out)
		require.NoError(t, err)
		assert.Equal(t, 255, code, out.String())
		assert.Contains(t, out.String(), want, host)
	}

	// While the emulator is reachable by the names it stands for, at the
	// real services' addresses: github.com over SSH too, with the run's
	// host key (from the runner's /etc/ssh) and client key.
	out.Reset()
	code, err = b.lanes[0].runner.Exec(ctx, []string{"ssh", "-T", "-o", "BatchMode=yes", "git@github.com"}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 1, code, out.String())
	assert.Contains(t, out.String(), "You've successfully authenticated, but GitHub does not provide shell access.")
	out.Reset()
	code, err = b.lanes[0].runner.Exec(ctx, []string{"curl", "-sS", "-H", "Authorization: token x", "-w", "\n%{remote_ip}\n", "https://api.github.com/user"}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "exfil-operator")
	assert.True(t, strings.HasSuffix(out.String(), "\n140.82.112.6\n"), out.String())

	// Every other name fails closed at the emulator's sinkhole, the
	// runner's only resolver, and every query is recorded.
	out.Reset()
	code, err = b.lanes[0].runner.Exec(ctx, []string{"curl", "-sS", "--max-time", "10", "https://example.com/"}, "/", runnerEnv, &out, &out)
	require.NoError(t, err)
	assert.NotEqual(t, 0, code, out.String())
	assert.Contains(t, out.String(), "Could not resolve host")
	entries, err := b.Ledger()
	require.NoError(t, err)
	answers := map[string]string{}
	for _, e := range entries {
		if e.Kind == emulator.KindDNS && e.DNS.Type == "A" {
			answers[e.DNS.Name] = e.DNS.Rcode
		}
	}
	assert.Equal(t, map[string]string{"api.github.com": "NOERROR", "example.com": "NXDOMAIN", "github.com": "NOERROR", "gitlab.com": "NOERROR"}, answers)
}

// TestContainerRunInterruptedLeavesNothing sends SIGINT to a container-mode
// run in the middle of an atomic and checks that every container, network
// and temporary folder of the run is gone.
func TestContainerRunInterruptedLeavesNothing(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	bin, err := containers.StaticBinary(context.Background(), copts.Exe, copts.ModuleRoot, "./cmd/harness", nil)
	require.NoError(t, err)
	atomicsFile := filepath.Join(t.TempDir(), "slow.yaml")
	require.NoError(t, os.WriteFile(atomicsFile, []byte(`attack_technique: T0000
display_name: slow
atomic_tests:
- name: slow upload
  description: stays busy long enough to be interrupted
  supported_platforms: [linux]
  executor:
    name: sh
    command: touch started; sleep 120
`), 0o600))
	tmp := t.TempDir()
	runID := "test-sigint-" + uuid.NewString()
	cmd := exec.Command(bin, "run", "--mode", "container", "--atomics", atomicsFile, "--run-id", runID)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	// Inside the atomic once it has touched its marker, in its work folder
	// (which the run folder, bind-mounted, shares with this machine).
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(tmp, "t1567-run-*", "work", "*", "started"))
		return len(m) > 0
	}, 5*time.Minute, 20*time.Millisecond, "the atomic never started")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the harness did not stop after SIGINT: %s", stderr.String())
	}
	assert.NotEqual(t, 0, cmd.ProcessState.ExitCode())
	assertNoLeftovers(t, runID)
	left, err := filepath.Glob(filepath.Join(tmp, "t1567-run-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "the run's temporary folder is removed")
}

// lockedBuffer is written by the child's output copier while the test polls it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestContainerUncooperativeClients: in container mode too, clients that
// read no proxy variable reach the mock by name through the sinkhole and
// deliver their file intact.
func TestContainerUncooperativeClients(t *testing.T) {
	copts := containerOptions(t)
	tests := map[string]string{}
	var order []string
	for _, c := range uncooperative {
		// The runner image has python3, curl and wget.
		if c.needs == "python3" || c.needs == "curl" || c.needs == "wget" {
			tests[c.name] = c.command
			order = append(order, c.name)
		}
	}
	opts := options(t)
	opts.RunID = "test-clients-" + uuid.NewString()
	opts.Atomics = atomicsFile(t, tests, order)
	run, err := RunContainer(context.Background(), opts, copts)
	require.NoError(t, err)
	assertNoLeftovers(t, opts.RunID)
	assert.Equal(t, "container", run.Results.Sandbox)
	require.Len(t, run.Results.Atomics, len(order))
	for i, a := range run.Results.Atomics {
		assert.True(t, a.Intact, "%s: %s", a.Name, a.Stderr)
		if !strings.Contains(a.Name, "140.82.112.6") {
			assert.Contains(t, dnsNames(run.Tests[i].Ledger), "api.github.com", "%s resolved at the sinkhole", a.Name)
		}
	}
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	assertDestinationIPs(t, run, table)
}

// TestContainerSSHVerifiesTheMocksHostKey: in container mode too, a plain
// `git push git@github.com:` reaches the emulator container's SSH server
// at github.com's address, verifies its host key against the runner's
// /etc/ssh/ssh_known_hosts and delivers; trusting another key, or none,
// fails in ssh before anything is sent.
func TestContainerSSHVerifiesTheMocksHostKey(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	opts := options(t)
	opts.RunID = "test-ssh-" + uuid.NewString()
	opts.Atomics = atomicsFile(t, sshHostKeyTests, sshHostKeyOrder)
	run, err := RunContainer(context.Background(), opts, copts)
	require.NoError(t, err)
	assertNoLeftovers(t, opts.RunID)
	require.Equal(t, "container", run.Results.Sandbox)
	assertSSHHostKeyChecked(t, run)
}

// TestContainerSSHVariant runs the variants' git push over SSH in container
// mode, unmodified: it runs (its prerequisites hold in the runner), is
// observed, delivers the staged file byte for byte, and every rule fires or
// stays silent in every context as the committed coverage matrix (made in
// local mode) says.
func TestContainerSSHVariant(t *testing.T) {
	t.Parallel()
	copts := containerOptions(t)
	const guid = "5b3c6f0e-8a8e-4c2f-9f35-1567001a0125"
	opts := options(t)
	opts.RunID = "test-ssh-variant-" + uuid.NewString()
	opts.Tests = []string{guid}
	ctx := context.Background()
	run, err := RunContainer(ctx, opts, copts)
	require.NoError(t, err)
	assertNoLeftovers(t, opts.RunID)
	require.Len(t, run.Tests, 1)
	a := run.Results.Atomics[0]
	require.Empty(t, a.MissingPrereqs, "ran in the runner")
	assert.Equal(t, 0, a.ExitCode, a.Stderr)
	assert.True(t, a.Intact, a.Stderr)
	assertSSHPush(t, run.Tests[0], "finance_q3.csv")
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	assertDestinationIPs(t, run, table)

	profiles, err := Contexts(nil)
	require.NoError(t, err)
	ecs, err := ECSConverter(nil)
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rulesFS(), validate.Options{ECS: ecs})
	require.NoError(t, err)
	_, err = run.Validate(ctx, profiles, "", loaded)
	require.NoError(t, err)
	require.Len(t, run.Results.Coverage.Cases, 1)
	c := run.Results.Coverage.Cases[0]
	require.True(t, c.Observed, c.Status)

	data, err := os.ReadFile(expectedCoverage(t))
	require.NoError(t, err)
	want, err := validate.ParseBaseline(expectedCoverage(t), data)
	require.NoError(t, err)
	type key struct{ context, rule string }
	wantCells := map[key]bool{}
	for _, cell := range want.Cells {
		if cell.GUID == guid {
			wantCells[key{cell.Context, cell.Rule}] = cell.Fires
		}
	}
	require.NotEmpty(t, wantCells, "the committed matrix holds the variant")
	got := map[key]bool{}
	for _, cell := range c.Cells {
		got[key{cell.Context, cell.Rule}] = cell.Fires
	}
	assert.Equal(t, wantCells, got)
}
