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
// pointed at the emulator's CONNECT proxy on loopback.
type local struct {
	emu       *emulator.Emulator
	proxyURL  string
	caFile    string
	harness   string
	env       []string
	board     switchboard
	proxyCtx  context.Context
	stopProxy context.CancelFunc
	proxies   sync.WaitGroup
	mu        sync.Mutex
	proxyErrs []error
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("proxy listener: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &local{emu: emu, proxyURL: "http://" + l.Addr().String(), caFile: caFile, harness: harness, proxyCtx: ctx, stopProxy: stop,
		// Interpreter shims are resolved once per run, not at every start.
		env: executor.ResolveShims(ctx, os.Environ(), dir)}
	b.serve(l)
	return b, nil
}

func (b *local) serve(l net.Listener) {
	b.proxies.Go(func() {
		if err := b.emu.ServeProxy(b.proxyCtx, l); err != nil {
			b.mu.Lock()
			b.proxyErrs = append(b.proxyErrs, err)
			b.mu.Unlock()
		}
	})
}

// Lane gives test i a proxy listener of its own: the client sockets it
// accepts are booked to i.
func (b *local) Lane(_ context.Context, i int) (executor.Config, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return executor.Config{}, fmt.Errorf("proxy listener: %w", err)
	}
	b.serve(b.board.listener(l, i))
	cfg := b.Executor()
	cfg.ProxyURL = "http://" + l.Addr().String()
	return cfg, nil
}

func (b *local) Owner(e emulator.Entry) int { return b.board.owner(e) }

func (b *local) Mode() string        { return "local" }
func (b *local) HarnessPath() string { return b.harness }

func (b *local) Executor() executor.Config {
	return executor.Config{ProxyURL: b.proxyURL, CAFile: b.caFile, BaseEnv: b.env}
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
	b.stopProxy()
	b.proxies.Wait()
	return errors.Join(append(b.proxyErrs, b.emu.Close())...)
}
