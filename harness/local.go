package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

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
	stopProxy context.CancelFunc
	proxyDone chan error
	sshCmd    string
	sshDone   chan error
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
	b := &local{emu: emu, proxyURL: "http://" + l.Addr().String(), caFile: caFile, harness: harness, stopProxy: stop, proxyDone: make(chan error, 1)}
	go func() { b.proxyDone <- emu.ServeProxy(ctx, l) }()
	b.sshDone = make(chan error, 1)
	if b.sshCmd, err = serveSSH(ctx, emu, dir, b.sshDone); err != nil {
		b.sshDone <- nil
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

func (b *local) Mode() string        { return "local" }
func (b *local) HarnessPath() string { return b.harness }

func (b *local) Executor() executor.Config {
	return executor.Config{ProxyURL: b.proxyURL, CAFile: b.caFile, SSHCommand: b.sshCmd}
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
	return errors.Join(<-b.proxyDone, <-b.sshDone, b.emu.Close())
}
