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
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/executor"
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
	ledger string
	// spec starts a runner; each lane after the first has one of its own,
	// told apart in the ledger by its address.
	spec  containers.Spec
	mu    sync.Mutex
	lanes map[string]int
	// spare is lane 1's runner, started with the others in case the run
	// has tests side by side.
	spare chan startedRunner
}

type startedRunner struct {
	c   *containers.Container
	err error
}

func newContainerBackend(ctx context.Context, runID, dir, image string) (b *containerBackend, err error) {
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
	emu, err := starter(containers.Spec{
		Name:  "emulator",
		Image: image,
		Cmd: []string{harnessInImage, "emulator", "--listen", "", "--tls-listen", ":443", "--http-listen", ":80",
			"--dns-listen", ":53", "--ca-cert", caFile, "--ca-key", keyFile, "--ledger", ledger, "--data", repos},
		Aliases: emulator.ServedHosts(),
		Mounts:  mounts,
		WaitLog: "DNS sinkhole on :53",
	})
	if err != nil {
		return nil, fmt.Errorf("emulator container: %w", err)
	}
	// The runner's only resolver is the emulator's sinkhole, named in its
	// own resolv.conf rather than behind Docker's embedded DNS, so every
	// query the tests send is answered and recorded there. The runners
	// start once the emulator has its address.
	emuIP, err := netip.ParseAddr(emu.IP())
	if err != nil {
		return nil, fmt.Errorf("emulator container has no address on the run's network: %w", err)
	}
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+emuIP.String()+"\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("runner resolv.conf: %w", err)
	}
	spec := containers.Spec{
		Name:  "runner",
		Image: image,
		Cmd:   []string{"sleep", "infinity"},
		DNS:   []netip.Addr{emuIP},
		Mounts: append(mounts,
			containers.Mount{Path: resolv, Target: "/etc/resolv.conf", ReadOnly: true},
			containers.Mount{Path: bundle, Target: containers.SystemCABundlePath, ReadOnly: true}),
		// The sensor traces with ptrace and installs a seccomp filter.
		CapAdd: []string{"SYS_PTRACE"},
	}
	spare := make(chan startedRunner, 1)
	if runtime.NumCPU() > 1 {
		go func() {
			s := spec
			s.Name = "runner-1"
			c, err := starter(s)
			spare <- startedRunner{c, err}
		}()
	}
	runner, err := starter(spec)
	if err != nil {
		return nil, fmt.Errorf("runner container: %w", err)
	}
	return &containerBackend{env: env, runner: runner, ledger: ledger, spec: spec, lanes: map[string]int{runner.IP(): 0}, spare: spare}, nil
}

func (b *containerBackend) Mode() string { return "container" }

// Sandbox: the runner's network is internal, with the sinkhole as its
// only resolver.
func (b *containerBackend) Sandbox() string     { return "container" }
func (b *containerBackend) HarnessPath() string { return harnessInImage }

func (b *containerBackend) Executor() executor.Config {
	return executor.Config{Runner: b.runner.Exec, BaseEnv: runnerEnv}
}

// Lane runs test i in a runner of its own (the first one for lane 0).
func (b *containerBackend) Lane(ctx context.Context, i int) (executor.Config, error) {
	r := b.runner
	if i > 0 {
		var err error
		if i == 1 && runtime.NumCPU() > 1 {
			select {
			case s := <-b.spare:
				r, err = s.c, s.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		} else {
			spec := b.spec
			spec.Name = fmt.Sprintf("runner-%d", i)
			r, err = b.env.Start(ctx, spec)
		}
		if err != nil {
			return executor.Config{}, fmt.Errorf("runner container: %w", err)
		}
		b.mu.Lock()
		b.lanes[r.IP()] = i
		b.mu.Unlock()
	}
	return executor.Config{Runner: r.Exec, BaseEnv: runnerEnv}, nil
}

// Owner returns the lane of the runner whose address sent e.
func (b *containerBackend) Owner(e emulator.Entry) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i, ok := b.lanes[e.ClientIP]; ok {
		return i
	}
	return -1
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
