package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/sandbox"
	"github.com/t1567001/harness/telemetry"
)

// ErrNoSandbox is returned by RunLocal when this machine cannot confine
// the tests and the caller did not ask to run without the sandbox.
var ErrNoSandbox = errors.New("no network sandbox")

// sandboxAvailable refuses a sandboxed run where the sandbox cannot be
// made, before anything of the run is created.
func sandboxAvailable(opts Options) error {
	if opts.NoSandbox {
		return nil
	}
	if err := sandbox.Available(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoSandbox, err)
	}
	return nil
}

// sandboxProfile is the host profile whose host name the sandbox takes.
const sandboxProfile = "workstation"

// local runs the emulator in this process and the tests on this machine:
// each test in a fresh sandbox whose addresses and DNS the emulator
// answers, or, without the sandbox, pointed at the emulator's CONNECT
// proxy on loopback.
type local struct {
	emu       *emulator.Emulator
	proxyURL  string
	caFile    string
	harness   string
	dir       string
	sandbox   *sandbox.Config // nil without the sandbox
	stopProxy context.CancelFunc
	proxyDone chan error
	sshCmd    string
	sshDone   chan error
	ssh       *emulator.SSHServer // serves each sandbox's port 22
}

func newLocal(ctx context.Context, runID, dir, harness string, noSandbox bool) (*local, error) {
	// What a killed harness left behind goes before this run starts.
	if _, err := CleanOrphans(); err != nil {
		return nil, err
	}
	if err := writeMarker(dir); err != nil {
		return nil, err
	}
	var table *sandbox.Table
	if !noSandbox {
		var err error
		if table, err = sandbox.DefaultTable(); err != nil {
			return nil, err
		}
	}
	repos := filepath.Join(dir, "repos")
	if err := os.Mkdir(repos, 0o755); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	ca, err := emulator.NewCA(runID)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	b := &local{caFile: caFile, harness: harness, dir: dir}
	cfg := emulator.Config{DataDir: repos}
	if table != nil {
		cfg.Addresses = table.Hosts
		host, err := sandboxHostname()
		if err != nil {
			return nil, err
		}
		etc := filepath.Join(dir, "etc")
		if err := os.Mkdir(etc, 0o755); err != nil {
			return nil, fmt.Errorf("run dir: %w", err)
		}
		files, err := sandbox.Prepare(ctx, etc, table, host, ca.PEM())
		if err != nil {
			return nil, err
		}
		b.sandbox = &sandbox.Config{Table: table, Files: files, Hostname: host, Harness: harness}
	}
	if b.emu, err = emulator.New(cfg, ca); err != nil {
		return nil, err
	}
	if b.sandbox != nil {
		// git over SSH: github.com resolves to its address in the
		// sandbox, whose port 22 the emulator answers.
		var base []string
		if b.ssh, base, err = newSSH(b.emu, dir); err != nil {
			b.emu.Close()
			return nil, err
		}
		b.sshCmd = strings.Join(base, " ")
		return b, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.emu.Close()
		return nil, fmt.Errorf("proxy listener: %w", err)
	}
	pctx, stop := context.WithCancel(context.Background())
	b.proxyURL, b.stopProxy, b.proxyDone = "http://"+l.Addr().String(), stop, make(chan error, 1)
	go func() { b.proxyDone <- b.emu.ServeProxy(pctx, l) }()
	b.sshDone = make(chan error, 1)
	if b.sshCmd, err = serveSSH(pctx, b.emu, dir, b.sshDone); err != nil {
		b.sshDone <- nil
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// sandboxHostname is the host name of the profile the sandbox takes.
func sandboxHostname() (string, error) {
	fsys, err := profilesFS()
	if err != nil {
		return "", err
	}
	p, err := telemetry.LoadProfile(fsys, sandboxProfile)
	if err != nil {
		return "", err
	}
	return p.Host.Name, nil
}

func (b *local) Mode() string        { return "local" }
func (b *local) HarnessPath() string { return b.harness }

// Sandbox says whether the tests ran in the network sandbox.
func (b *local) Sandbox() string {
	if b.sandbox == nil {
		return "off"
	}
	return "on"
}

func (b *local) Executor() executor.Config {
	tag := []string{RunDirEnv + "=" + b.dir}
	if b.sandbox == nil {
		return executor.Config{ProxyURL: b.proxyURL, CAFile: b.caFile, SSHCommand: b.sshCmd, ExtraEnv: tag}
	}
	// The clients' own stores name the run's CA alone, as without the
	// sandbox: a client that reads the system store finds the bundle
	// bind-mounted there, and none pays for parsing it twice.
	return executor.Config{CAFile: b.sandbox.Files.CA, SSHCommand: b.sshCmd, Isolate: b.isolate, ExtraEnv: tag}
}

// isolate makes one test's sandbox and serves its addresses and DNS with
// the emulator until the test ends.
func (b *local) isolate(context.Context) (executor.Runner, func(), error) {
	n, err := sandbox.NewNet(b.sandbox.Table)
	if err != nil {
		return nil, nil, err
	}
	ls := n.Listeners()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range ls.TLS {
		wg.Go(func() { _ = b.emu.ServeTLS(ctx, l) })
	}
	for _, l := range ls.HTTP {
		wg.Go(func() { _ = b.emu.ServeHTTP(ctx, l) })
	}
	for _, l := range ls.SSH {
		wg.Go(func() { _ = b.ssh.Serve(ctx, l) })
	}
	wg.Go(func() { _ = b.emu.ServeDNS(ctx, ls.DNSUDP, ls.DNSTCP) })
	cfg := *b.sandbox
	run := func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
		return n.Run(ctx, cfg, argv, dir, env, stdout, stderr)
	}
	return run, func() { cancel(); n.Close(); wg.Wait() }, nil
}

func (b *local) Ledger() ([]emulator.Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := b.emu.Quiesce(ctx); err != nil {
		return nil, err
	}
	return b.emu.Ledger().Entries(), nil
}

func (b *local) Close() error {
	var proxyErr, sshErr error
	if b.stopProxy != nil {
		b.stopProxy()
		proxyErr, sshErr = <-b.proxyDone, <-b.sshDone
	}
	return errors.Join(proxyErr, sshErr, b.emu.Close())
}
