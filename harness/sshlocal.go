package harness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/t1567001/harness/emulator"
)

// serveSSH starts the mock's git-over-SSH server for github.com on loopback
// and returns the GIT_SSH_COMMAND that sends git there: the run's client key,
// a known_hosts file holding the server's key for github.com, and HostName
// and port pointing at loopback, so `git push git@github.com:…` never leaves
// the machine. Like HTTPS_PROXY, it takes a client that cooperates: git.
func serveSSH(ctx context.Context, emu *emulator.Emulator, dir string, done chan<- error) (string, error) {
	srv, err := emu.NewSSHServer("github.com")
	if err != nil {
		return "", err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("ssh client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "t1567 harness run")
	if err != nil {
		return "", fmt.Errorf("ssh client key: %w", err)
	}
	key, known := filepath.Join(dir, "ssh_key"), filepath.Join(dir, "ssh_known_hosts")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", fmt.Errorf("ssh client key: %w", err)
	}
	if err := os.WriteFile(known, []byte(srv.KnownHostsLine()+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("ssh known_hosts: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("ssh listener: %w", err)
	}
	go func() { done <- srv.Serve(ctx, l) }()
	return strings.Join([]string{"ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + known, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "HostKeyAlias=github.com", "-o", "HostName=127.0.0.1", "-p", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)}, " "), nil
}
