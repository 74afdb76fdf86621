package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
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
// proxy (and, for git over SSH, its SSH server) on loopback.
type local struct {
	emu      *emulator.Emulator
	proxyURL string
	caFile   string
	harness  string
	dir      string
	env      []string
	sandbox  *sandbox.Config // nil without the sandbox
	ssh      *sshLocal
	sshCmd   string

	ctx     context.Context
	stop    context.CancelFunc
	servers sync.WaitGroup
	mu      sync.Mutex
	errs    []error
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
	b := &local{caFile: caFile, harness: harness, dir: dir,
		// Interpreter shims are resolved once per run, not at every start.
		env: executor.ResolveShims(ctx, os.Environ(), dir)}
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
	b.ctx, b.stop = context.WithCancel(context.Background())
	if b.ssh, err = newSSHLocal(b.emu, dir); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	if b.sandbox != nil {
		// git@github.com: reaches the mock's port 22 by address, and ssh
		// finds the run's host key where it looks for any host's, in
		// /etc/ssh/ssh_known_hosts: no GIT_SSH_COMMAND, no override.
		known := []byte(b.ssh.srv.KnownHostsLine() + "\n")
		if err := b.sandbox.Files.AddSSH(filepath.Join(dir, "etc"), known, b.ssh.key); err != nil {
			return nil, errors.Join(err, b.Close())
		}
		return b, nil
	}
	if b.proxyURL, b.sshCmd, err = b.listen(""); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// sandboxHostname is the host name of the profile the sandbox takes.
func sandboxHostname() (string, error) {
	fsys, _, err := profilesFS("")
	if err != nil {
		return "", err
	}
	p, err := telemetry.LoadProfile(fsys, sandboxProfile)
	if err != nil {
		return "", err
	}
	return p.Host.Name, nil
}

// listen opens a proxy listener and an SSH listener on loopback, served
// until Close with their entries marked origin, and returns the proxy URL
// and the GIT_SSH_COMMAND that reach them.
func (b *local) listen(origin string) (proxyURL, sshCmd string, err error) {
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", fmt.Errorf("proxy listener: %w", err)
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pl.Close()
		return "", "", fmt.Errorf("ssh listener: %w", err)
	}
	proxyURL, sshCmd = "http://"+pl.Addr().String(), b.ssh.command(sl.Addr().(*net.TCPAddr).Port)
	ctx := emulator.WithOrigin(b.ctx, origin)
	b.serve(func() error { return b.emu.ServeProxy(ctx, pl) })
	b.serve(func() error { return b.ssh.srv.Serve(ctx, sl) })
	return proxyURL, sshCmd, nil
}

func (b *local) serve(f func() error) {
	b.servers.Go(func() {
		if err := f(); err != nil {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		}
	})
}

// Lanes: as many as asked for. Every sandbox holds the same addresses and
// its clients may hold the same sockets as another's, but each lane's
// listeners (a sandbox's, or a proxy's) mark their entries with the lane.
func (b *local) Lanes() int { return math.MaxInt }

// Lane gives lane i listeners of its own whose entries carry the lane's
// origin: each of its tests' sandboxes, or without the sandbox a proxy
// listener and an SSH listener.
func (b *local) Lane(_ context.Context, i int) (executor.Config, error) {
	cfg := b.Executor()
	if b.sandbox != nil {
		cfg.Isolate = b.isolator(laneOrigin(i))
		return cfg, nil
	}
	proxyURL, sshCmd, err := b.listen(laneOrigin(i))
	if err != nil {
		return executor.Config{}, err
	}
	cfg.ProxyURL, cfg.SSHCommand = proxyURL, sshCmd
	return cfg, nil
}

func (b *local) Owner(e emulator.Entry) int { return laneOf(e.Origin) }

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
		return executor.Config{ProxyURL: b.proxyURL, CAFile: b.caFile, SSHCommand: b.sshCmd, BaseEnv: b.env, Isolate: b.reaped, ExtraEnv: tag}
	}
	// The clients' own stores name the run's CA alone, as without the
	// sandbox: a client that reads the system store finds the bundle
	// bind-mounted there, and none pays for parsing it twice.
	return executor.Config{CAFile: b.sandbox.Files.CA, BaseEnv: b.env, Isolate: b.isolator(""), ExtraEnv: tag}
}

// isolator makes for each test a sandbox whose addresses and DNS the
// emulator serves, until the test ends, with entries marked origin.
func (b *local) isolator(origin string) func(context.Context) (executor.Runner, func(), error) {
	return func(context.Context) (executor.Runner, func(), error) { return b.isolate(origin) }
}

func (b *local) isolate(origin string) (executor.Runner, func(), error) {
	n, err := sandbox.NewNet(b.sandbox.Table)
	if err != nil {
		return nil, nil, err
	}
	ls := n.Listeners()
	ctx, cancel := context.WithCancel(emulator.WithOrigin(context.Background(), origin))
	var wg sync.WaitGroup
	for _, l := range ls.TLS {
		wg.Go(func() { _ = b.emu.ServeTLS(ctx, l) })
	}
	for _, l := range ls.HTTP {
		wg.Go(func() { _ = b.emu.ServeHTTP(ctx, l) })
	}
	for _, l := range ls.SSH {
		wg.Go(func() { _ = b.ssh.srv.Serve(ctx, l) })
	}
	wg.Go(func() { _ = b.emu.ServeDNS(ctx, ls.DNSUDP, ls.DNSTCP) })
	cfg := *b.sandbox
	run := func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
		return n.Run(ctx, cfg, argv, dir, env, stdout, stderr)
	}
	return run, func() { cancel(); n.Close(); wg.Wait() }, nil
}

// reaped runs each of a test's commands, without the sandbox, under the
// harness's reaper: what the command leaves, even across setsid, ends
// with it, as its PID namespace ends it in the sandbox.
func (b *local) reaped(context.Context) (executor.Runner, func(), error) {
	run := func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
		return sandbox.Reaped(ctx, b.harness, argv, dir, env, stdout, stderr)
	}
	return run, func() {}, nil
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
	b.stop()
	b.servers.Wait()
	if b.emu == nil {
		return errors.Join(b.errs...)
	}
	return errors.Join(append(b.errs, b.emu.Close())...)
}
