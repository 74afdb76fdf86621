package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
)

// local runs the emulator in this process and the tests on this machine,
// pointed at the emulator's CONNECT proxy (and, for git over SSH, its SSH
// server) on loopback.
type local struct {
	emu      *emulator.Emulator
	proxyURL string
	caFile   string
	harness  string
	env      []string
	ssh      *sshLocal
	sshCmd   string
	board    switchboard

	ctx     context.Context
	stop    context.CancelFunc
	servers sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

func newLocal(runID, dir, harness string) (*local, error) {
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
	emu, err := emulator.New(emulator.Config{DataDir: repos}, ca)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &local{emu: emu, caFile: caFile, harness: harness, ctx: ctx, stop: stop,
		// Interpreter shims are resolved once per run, not at every start.
		env: executor.ResolveShims(ctx, os.Environ(), dir)}
	if b.ssh, err = newSSHLocal(emu, dir); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	if b.proxyURL, b.sshCmd, err = b.listen(nil); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// listen opens a proxy listener and an SSH listener on loopback, served
// until Close, each wrapped by wrap when it is not nil, and returns the
// proxy URL and the GIT_SSH_COMMAND that reach them.
func (b *local) listen(wrap func(net.Listener) net.Listener) (proxyURL, sshCmd string, err error) {
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
	if wrap != nil {
		pl, sl = wrap(pl), wrap(sl)
	}
	b.serve(func() error { return b.emu.ServeProxy(b.ctx, pl) })
	b.serve(func() error { return b.ssh.srv.Serve(b.ctx, sl) })
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

// Lane gives test lane i a proxy listener and an SSH listener of its own:
// the client sockets they accept are booked to i.
func (b *local) Lane(_ context.Context, i int) (executor.Config, error) {
	proxyURL, sshCmd, err := b.listen(func(l net.Listener) net.Listener { return b.board.listener(l, i) })
	if err != nil {
		return executor.Config{}, err
	}
	cfg := b.Executor()
	cfg.ProxyURL, cfg.SSHCommand = proxyURL, sshCmd
	return cfg, nil
}

func (b *local) Owner(e emulator.Entry) int { return b.board.owner(e) }

func (b *local) Mode() string        { return "local" }
func (b *local) HarnessPath() string { return b.harness }

func (b *local) Executor() executor.Config {
	return executor.Config{ProxyURL: b.proxyURL, CAFile: b.caFile, SSHCommand: b.sshCmd, BaseEnv: b.env}
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
	return errors.Join(append(b.errs, b.emu.Close())...)
}
