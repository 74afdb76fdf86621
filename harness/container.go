package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/sandbox"
)

// ErrNoDocker means container mode was asked for where no Docker engine
// answers.
var ErrNoDocker = errors.New("no Docker engine answers")

// ContainerOptions say how to build container mode's images.
type ContainerOptions struct {
	// Exe is the running harness binary; ModuleRoot is where a static one
	// is built from when Exe is not static (empty: the module around the
	// working directory).
	Exe, ModuleRoot string
	// Log receives image build progress.
	Log io.Writer
}

// harnessInImage is where the images carry the static harness binary.
const harnessInImage = "/usr/local/bin/harness"

// runnerEnv is the environment tests start from inside the runner.
var runnerEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// RunContainer runs the selected tests in containers: the emulator and a
// runner on an internal Docker network with no route out, where the
// emulator answers as github.com and the other code-repository hosts.
func RunContainer(ctx context.Context, opts Options, copts ContainerOptions) (*Run, error) {
	if err := containers.Available(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	image, err := HarnessImage(ctx, copts)
	if err != nil {
		return nil, err
	}
	return Execute(ctx, opts, func(ctx context.Context, runID, dir string) (Backend, error) {
		return newContainerBackend(ctx, runID, dir, image)
	})
}

// HarnessImage builds (or finds cached) the image both containers run: the
// debootstrap base with git, curl and python3, plus the static harness.
func HarnessImage(ctx context.Context, copts ContainerOptions) (string, error) {
	var log io.Writer = io.Discard
	if copts.Log != nil {
		log = &lockedWriter{w: copts.Log}
	}
	// The base and the binary are made at the same time when both are to
	// be made (a cold start).
	var (
		base, bin       string
		baseErr, binErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() { base, baseErr = containers.BaseImage(ctx, log) })
	bin, binErr = containers.StaticBinary(ctx, copts.Exe, copts.ModuleRoot, "./cmd/harness", log)
	wg.Wait()
	if err := errors.Join(baseErr, binErr); err != nil {
		return "", err
	}
	image, err := containers.HarnessImage(ctx, base, bin, log)
	if err != nil {
		return "", err
	}
	// Read once here, with the image, rather than in the first run.
	if _, err := containers.SystemCABundle(ctx, image); err != nil {
		return "", err
	}
	return image, nil
}

type containerBackend struct {
	env    *containers.Env
	runner *containers.Container
	image  string
	ledger string
}

type startedContainer struct {
	c   *containers.Container
	err error
}

// newContainerBackend starts the run's two containers. They share one
// network namespace, the emulator's, as the local sandbox's processes share
// theirs with the in-process emulator: its loopback holds the served hosts'
// addresses of the real services (api.github.com -> 140.82.112.6; the
// emulator adds them, with NET_ADMIN that the runner lacks), its DNS
// sinkhole answers with them on the table's resolver address, and there is
// no other interface and no route anywhere. So a client in the runner dials
// the address it would dial on the Internet, and that is what the sensor
// observes and Sysmon's DestinationIp says; nothing else is reachable.
func newContainerBackend(ctx context.Context, runID, dir, image string) (b *containerBackend, err error) {
	table, err := sandbox.DefaultTable()
	if err != nil {
		return nil, err
	}
	host, err := sandboxHostname()
	if err != nil {
		return nil, err
	}
	ca, err := emulator.NewCA(runID)
	if err != nil {
		return nil, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	caFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	repos := filepath.Join(dir, "repos")
	ledger := filepath.Join(dir, "ledger.jsonl")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := os.Mkdir(repos, 0o755); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	// The runner trusts the run's CA in its system store, as a real host
	// trusts the public ones: no client is told about it. The image's own
	// bundle plus the run's CA is mounted where update-ca-certificates
	// would write it (which took seconds per run).
	public, err := containers.SystemCABundle(ctx, image)
	if err != nil {
		return nil, err
	}
	bundle := filepath.Join(dir, "ca-bundle.crt")
	if err := os.WriteFile(bundle, append(append(public, '\n'), ca.PEM()...), 0o644); err != nil {
		return nil, fmt.Errorf("write CA bundle: %w", err)
	}
	// The runner's only resolver is the emulator's sinkhole, so every
	// query the tests send is answered and recorded there.
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+table.Resolver.String()+"\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("runner resolv.conf: %w", err)
	}
	env, err := containers.NewEnv(ctx, runID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	mounts := []containers.Mount{{Path: dir}}
	starter := func(spec containers.Spec) (*containers.Container, error) {
		c, err := env.Start(ctx, spec)
		if err != nil && strings.Contains(err.Error(), "bind source path does not exist") {
			// Bind mounts name host paths. Where the harness itself runs
			// in a container, the engine's host may not have this folder
			// at all. (No port is ever mapped to the host, so
			// TESTCONTAINERS_HOST_OVERRIDE does not matter here.)
			return nil, fmt.Errorf("the Docker engine does not see the run folder %s at the same path (%v); "+
				"when the harness runs inside a container, mount a host folder at the same path and point TMPDIR at it (for example -v /tmp:/tmp)", dir, err)
		}
		return c, err
	}
	dns := netip.AddrPortFrom(table.Resolver, 53).String()
	emu, err := starter(containers.Spec{
		Name:  "emulator",
		Image: image,
		Cmd: []string{harnessInImage, "emulator", "--listen", "", "--tls-listen", ":443", "--http-listen", ":80",
			"--dns-listen", dns, "--dns-answer", "table", "--hold-addresses",
			"--ca-cert", caFile, "--ca-key", keyFile, "--ledger", ledger, "--data", repos},
		Mounts:   mounts,
		Isolated: true,
		CapAdd:   []string{"NET_ADMIN"},
		// The runner, in this network namespace, gets this host name too:
		// the profile's, as in the local sandbox.
		Hostname: host,
	})
	if err != nil {
		return nil, fmt.Errorf("emulator container: %w", err)
	}
	// The runner starts while the emulator gets ready: the first test
	// needs both.
	ready := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, containers.StartTimeout)
		defer cancel()
		ready <- emu.WaitLog(wctx, "DNS sinkhole on "+dns)
	}()
	runner, rerr := starter(containers.Spec{
		Name:      "runner",
		Image:     image,
		Cmd:       []string{"sleep", "infinity"},
		NetworkOf: emu,
		Mounts: append(mounts,
			containers.Mount{Path: resolv, Target: "/etc/resolv.conf", ReadOnly: true},
			containers.Mount{Path: bundle, Target: containers.SystemCABundlePath, ReadOnly: true}),
		// The sensor traces with ptrace and installs a seccomp filter.
		CapAdd: []string{"SYS_PTRACE"},
	})
	if rerr != nil {
		rerr = fmt.Errorf("runner container: %w", rerr)
	}
	if werr := <-ready; werr != nil {
		rerr = errors.Join(rerr, fmt.Errorf("emulator container: %w", werr))
	}
	if err = rerr; err != nil {
		return nil, err
	}
	return &containerBackend{env: env, runner: runner, image: image, ledger: ledger}, nil
}

func (b *containerBackend) Mode() string { return "container" }

// Sandbox: the runner's network is the emulator's, with the sinkhole as
// its only resolver and no route out.
func (b *containerBackend) Sandbox() string     { return "container" }
func (b *containerBackend) HarnessPath() string { return harnessInImage }

// Executor: the tests run one after the other, as in the local sandbox
// (they share the served addresses).
func (b *containerBackend) Executor() executor.Config {
	return executor.Config{Runner: b.runner.Exec, BaseEnv: runnerEnv}
}

// LookUpTools: the runner is a fresh container of the image, so each tool
// is looked up there once per image, and the answer kept.
func (b *containerBackend) LookUpTools(ctx context.Context, cfg executor.Config, tools []string) map[string]bool {
	found, err := containers.ImageTools(ctx, b.image, tools, func(unknown []string) map[string]bool {
		return executor.LookUpTools(ctx, cfg, unknown)
	})
	if err != nil {
		return nil // each test looks up its own
	}
	return found
}

// Ledger reads the emulator's ledger file once no request is in flight.
func (b *containerBackend) Ledger() ([]emulator.Entry, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		n, err := os.ReadFile(b.ledger + ".inflight")
		if errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(n)) == "0") {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("emulator container: requests still in flight after %s", settleTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := os.Open(b.ledger)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	var entries []emulator.Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var e emulator.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", b.ledger, line, err)
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

func (b *containerBackend) Close() error { return b.env.Close() }
