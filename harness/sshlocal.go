package harness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/t1567001/harness/emulator"
)

// sshLocal is the mock's git-over-SSH server for github.com, with the run's
// client key and a known_hosts file holding the server's key for github.com.
type sshLocal struct {
	srv        *emulator.SSHServer
	key, known string
}

// sshHost is the host whose git-over-SSH form the mock serves
// (git@github.com:).
const sshHost = "github.com"

func newSSHLocal(emu *emulator.Emulator, dir string) (*sshLocal, error) {
	srv, err := emu.NewSSHServer(sshHost)
	if err != nil {
		return nil, err
	}
	key, known := filepath.Join(dir, "ssh_key"), filepath.Join(dir, "ssh_known_hosts")
	if _, err := writeSSHKey(key, "t1567 harness run"); err != nil {
		return nil, fmt.Errorf("ssh client key: %w", err)
	}
	if err := os.WriteFile(known, []byte(srv.KnownHostsLine()+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("ssh known_hosts: %w", err)
	}
	return &sshLocal{srv: srv, key: key, known: known}, nil
}

// writeSSHKey makes a fresh ed25519 key, writes it to path as an OpenSSH
// private key file (mode 0600, as ssh and sshd want it) and returns it.
func writeSSHKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// command is the GIT_SSH_COMMAND that sends git to the server listening on
// port of loopback with the run's key and known_hosts, so `git push
// git@github.com:…` never leaves the machine without the sandbox (in the
// sandbox, github.com is the mock and /etc/ssh holds its key). Like
// HTTPS_PROXY, it takes a client that cooperates: git.
func (s *sshLocal) command(port int) string {
	return strings.Join([]string{"ssh", "-F", "/dev/null", "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + s.known, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "HostKeyAlias=github.com", "-o", "HostName=127.0.0.1", "-p", strconv.Itoa(port)}, " ")
}
