package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// System paths the run's files are bind-mounted over inside a test's mount
// namespace, where the distribution has them.
const (
	resolvConf   = "/etc/resolv.conf"
	etcHosts     = "/etc/hosts"
	sslCertsDir  = "/etc/ssl/certs"
	debianBundle = "/etc/ssl/certs/ca-certificates.crt"
	redHatBundle = "/etc/pki/tls/certs/ca-bundle.crt"
	// SSHDir is the SSH client's system folder, which the run's own
	// (WriteSSHConfig) hides.
	SSHDir = "/etc/ssh"
)

// Files are the files of a run that each test sees in place of the
// system's: written once per run by [Prepare].
type Files struct {
	// Bundle is the system's CA bundle with the run's CA appended.
	Bundle string
	// CA is the run's CA certificate alone (for NODE_EXTRA_CA_CERTS).
	CA string
	// Binds maps a file or folder of the run to the system path it hides.
	Binds map[string]string
}

// Prepare writes into dir the resolver configuration pointing at the
// table's sinkhole, an /etc/hosts naming only this host, and a copy of the
// system's certificate store that also trusts caPEM: the way an enterprise
// TLS-inspection deployment makes its CA trusted.
func Prepare(ctx context.Context, dir string, t *Table, hostname string, caPEM []byte) (*Files, error) {
	f := &Files{Binds: map[string]string{}}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", fmt.Errorf("sandbox: %w", err)
		}
		return p, nil
	}
	p, err := write("resolv.conf", t.ResolvConf())
	if err != nil {
		return nil, err
	}
	f.Binds[p] = resolvConf
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname)
	if p, err = write("hosts", []byte(hosts)); err != nil {
		return nil, err
	}
	f.Binds[p] = etcHosts
	if f.CA, err = write("ca.pem", caPEM); err != nil {
		return nil, err
	}

	system, _ := os.ReadFile(debianBundle)
	if len(system) == 0 {
		system, _ = os.ReadFile(redHatBundle)
	}
	bundle := append(append(bytes.TrimRight(system, "\n"), '\n'), caPEM...)
	if f.Bundle, err = write("ca-bundle.crt", bundle); err != nil {
		return nil, err
	}
	if _, err := os.Stat(redHatBundle); err == nil {
		f.Binds[f.Bundle] = redHatBundle
	}
	if st, err := os.Stat(sslCertsDir); err == nil && st.IsDir() {
		certs := filepath.Join(dir, "certs")
		if err := copyCertsDir(ctx, certs, f.CA, bundle); err != nil {
			return nil, err
		}
		f.Binds[certs] = sslCertsDir
	}
	return f, nil
}

// copyCertsDir makes certs a copy of /etc/ssl/certs whose links point at
// their final targets (the original folder is hidden inside the test),
// whose bundle also holds the run's CA, and which has the CA under its
// OpenSSL subject-hash name for clients that look certificates up by hash.
func copyCertsDir(ctx context.Context, certs, caFile string, bundle []byte) error {
	if err := os.Mkdir(certs, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	entries, err := os.ReadDir(sslCertsDir)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	for _, e := range entries {
		src := filepath.Join(sslCertsDir, e.Name())
		dst := filepath.Join(certs, e.Name())
		if src == debianBundle {
			continue
		}
		target, err := filepath.EvalSymlinks(src)
		if err != nil {
			continue // a dangling link is as useless inside as outside
		}
		if strings.HasPrefix(target, sslCertsDir+"/") {
			var data []byte
			if data, err = os.ReadFile(target); err != nil {
				continue
			}
			err = os.WriteFile(dst, data, 0o644)
		} else {
			err = os.Symlink(target, dst)
		}
		if err != nil {
			return fmt.Errorf("sandbox: copy of %s: %w", src, err)
		}
	}
	if err := os.WriteFile(filepath.Join(certs, filepath.Base(debianBundle)), bundle, 0o644); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(certs, "t1567-harness-run-ca.pem"), ca, 0o644); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	// OpenSSL's subject hash has no Go implementation in the standard
	// library; without openssl the bundle alone still carries the CA.
	if out, err := exec.CommandContext(ctx, "openssl", "x509", "-noout", "-subject_hash", "-in", caFile).Output(); err == nil {
		if h := strings.TrimSpace(string(out)); h != "" {
			if err := os.Symlink("t1567-harness-run-ca.pem", filepath.Join(certs, h+".0")); err != nil && !os.IsExist(err) {
				return fmt.Errorf("sandbox: hash link: %w", err)
			}
		}
	}
	return nil
}

// AddSSH gives the tests a system SSH client configuration of the run's
// own (see [WriteSSHConfig]), bind-mounted over /etc/ssh: the system's
// folder, and any host private key in it, is hidden. Without an /etc/ssh
// there is no SSH client to configure, and nothing is bound.
func (f *Files) AddSSH(dir string, knownHosts []byte, identity string) error {
	if st, err := os.Stat(SSHDir); err != nil || !st.IsDir() {
		return nil
	}
	ssh, err := WriteSSHConfig(dir, knownHosts, identity)
	if err != nil {
		return err
	}
	f.Binds[ssh] = SSHDir
	return nil
}

// WriteSSHConfig writes the folder dir/ssh that stands for a client's
// /etc/ssh (the local sandbox's, or a container's) and returns it:
// ssh_known_hosts holds knownHosts (the mock's host keys, made for the
// run), so ssh verifies the hosts it reaches as it would verify the real
// ones, and ssh_config names identity (the run's client key, standing for
// the one an adversary brings).
func WriteSSHConfig(dir string, knownHosts []byte, identity string) (string, error) {
	ssh := filepath.Join(dir, "ssh")
	if err := os.Mkdir(ssh, 0o755); err != nil {
		return "", fmt.Errorf("sandbox: %w", err)
	}
	config := "# t1567-harness: the run's SSH client configuration; host keys in " + SSHDir + "/ssh_known_hosts\n" +
		"Host *\n    IdentityFile \"" + identity + "\"\n    IdentitiesOnly yes\n"
	for name, data := range map[string][]byte{"ssh_known_hosts": knownHosts, "ssh_config": []byte(config)} {
		if err := os.WriteFile(filepath.Join(ssh, name), data, 0o644); err != nil {
			return "", fmt.Errorf("sandbox: %w", err)
		}
	}
	return ssh, nil
}
