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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

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

// RunContainer runs the selected tests in containers, in lanes side by side
// (Options.Lanes): in each, an emulator container that answers as
// github.com and the other code-repository hosts, and a runner that shares
// its network namespace, with no route out.
func RunContainer(ctx context.Context, opts Options, copts ContainerOptions) (*Run, error) {
	if err := containers.Available(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	image, err := HarnessImage(ctx, copts)
	if err != nil {
		return nil, err
	}
	return Execute(ctx, opts, func(ctx context.Context, runID, dir string, lanes int) (Backend, error) {
		return newContainerBackend(ctx, runID, dir, image, lanes)
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
	env   *containers.Env
	image string
	// lanes are the run's emulator-and-runner pairs, all started at
	// once; lane 0's runner is where tools are looked up.
	lanes []*containerLane
	// stop ends the starts still going on; starting counts them.
	stop     context.CancelFunc
	starting sync.WaitGroup
}

// containerLane is one emulator container and the runner that shares its
// network namespace. Every lane holds the same addresses, so the entries
// of its emulator's ledger carry the lane's origin. A lane is being
// started until ready is closed; then runner or err is set.
type containerLane struct {
	ledger string
	ready  chan struct{}
	runner *containers.Container
	err    error
}

// wait waits until the lane has started, or failed to.
func (l *containerLane) wait(ctx context.Context) error {
	select {
	case <-l.ready:
		return l.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// containerRun is what every lane of a run shares: its env, and the run
// folder, mounted into each container, with the CA, the runners' resolver
// and CA bundle. Each lane's emulator keeps its own ledger and
// repositories there (tests on different lanes share no mock state, as
// they may run in any order).
type containerRun struct {
	dir, image, host string
	caFile, keyFile  string
	resolv, bundle   string
	dns              string
	// sshListen are github.com's held addresses, port 22, where the
	// emulator serves git over SSH with the host key in sshHostKey;
	// sshDir is the runner's /etc/ssh, which names that key.
	sshListen, sshHostKey, sshDir string
	mounts                        []containers.Mount
	env                           *containers.Env
}

// newContainerBackend starts the run's lanes, all at once: in each, an
// emulator container and a runner that share one network namespace, the
// emulator's, as the local sandbox's processes share theirs with the
// in-process emulator: its loopback holds the served hosts' addresses of
// the real services (api.github.com -> 140.82.112.6; the emulator adds
// them, with NET_ADMIN that the runner lacks), its DNS sinkhole answers
// with them on the table's resolver address, and there is no other
// interface and no route anywhere. So a client in the runner dials the
// address it would dial on the Internet, and that is what the sensor
// observes and Sysmon's DestinationIp says; nothing else is reachable.
// Each lane's emulator marks its entries with the lane's origin. It returns
// once lane 0 is ready: each lane's first test waits for its own.
func newContainerBackend(ctx context.Context, runID, dir, image string, lanes int) (b *containerBackend, err error) {
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
	r := containerRun{
		dir: dir, image: image, host: host,
		caFile: filepath.Join(dir, "ca.pem"), keyFile: filepath.Join(dir, "ca-key.pem"),
		resolv: filepath.Join(dir, "resolv.conf"), bundle: filepath.Join(dir, "ca-bundle.crt"),
		dns:    netip.AddrPortFrom(table.Resolver, 53).String(),
		mounts: []containers.Mount{{Path: dir}},
	}
	if err := os.WriteFile(r.caFile, ca.PEM(), 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	if err := os.WriteFile(r.keyFile, key, 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	// The runner trusts the run's CA in its system store, as a real host
	// trusts the public ones: no client is told about it. The image's own
	// bundle plus the run's CA is mounted where update-ca-certificates
	// would write it (which took seconds per run).
	public, err := containers.SystemCABundle(ctx, image)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(r.bundle, append(append(public, '\n'), ca.PEM()...), 0o644); err != nil {
		return nil, fmt.Errorf("write CA bundle: %w", err)
	}
	// The runner's only resolver is the emulator's sinkhole, so every
	// query the tests send is answered and recorded there.
	if err := os.WriteFile(r.resolv, table.ResolvConf(), 0o644); err != nil {
		return nil, fmt.Errorf("runner resolv.conf: %w", err)
	}
	if err := r.sshFiles(table); err != nil {
		return nil, err
	}
	if r.env, err = containers.NewEnv(ctx, runID); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.env.Close()
		}
	}()
	b = &containerBackend{env: r.env, image: image, lanes: make([]*containerLane, max(lanes, 1))}
	var sctx context.Context
	sctx, b.stop = context.WithCancel(ctx)
	for i := range b.lanes {
		ldir := filepath.Join(dir, "lanes", strconv.Itoa(i))
		l := &containerLane{ledger: filepath.Join(ldir, "ledger.jsonl"), ready: make(chan struct{})}
		b.lanes[i] = l
		b.starting.Go(func() {
			defer close(l.ready)
			l.runner, l.err = r.startLane(sctx, i, ldir, l.ledger)
		})
	}
	if err := b.lanes[0].wait(ctx); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// sshFiles makes the run's SSH material, as the local sandbox has it:
// git@github.com: resolves at the sinkhole to github.com's address, where
// the emulator serves SSH on port 22 with a host key made here for the run
// (handed over through the bind mount, as the CA is), and the runner's
// /etc/ssh is the run's, so that a plain ssh verifies that key as it would
// GitHub's (ssh_known_hosts) and offers the run's client key (ssh_config).
func (r *containerRun) sshFiles(table *sandbox.Table) error {
	addrs := table.Lookup(sshHost)
	if len(addrs) == 0 {
		return fmt.Errorf("ssh: %s has no address in the sandbox table", sshHost)
	}
	listen := make([]string, len(addrs))
	for i, a := range addrs {
		listen[i] = netip.AddrPortFrom(a, 22).String()
	}
	r.sshListen = strings.Join(listen, ",")
	r.sshHostKey = filepath.Join(r.dir, "ssh_host_key")
	hostKey, err := writeSSHKey(r.sshHostKey, "t1567 mock "+sshHost)
	if err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	clientKey := filepath.Join(r.dir, "ssh_key")
	if _, err := writeSSHKey(clientKey, "t1567 harness run"); err != nil {
		return fmt.Errorf("ssh client key: %w", err)
	}
	known := knownhosts.Line([]string{sshHost}, hostKey.PublicKey()) + "\n"
	r.sshDir, err = sandbox.WriteSSHConfig(r.dir, []byte(known), clientKey)
	return err
}

// startLane starts lane i's emulator, with its ledger and repositories in
// ldir, and runner, and waits until the emulator serves. It returns the
// runner.
func (r *containerRun) startLane(ctx context.Context, i int, ldir, ledger string) (*containers.Container, error) {
	repos := filepath.Join(ldir, "repos")
	if err := os.MkdirAll(repos, 0o755); err != nil {
		return nil, fmt.Errorf("lane %d: %w", i, err)
	}
	starter := func(spec containers.Spec) (*containers.Container, error) {
		c, err := r.env.Start(ctx, spec)
		if err != nil && strings.Contains(err.Error(), "bind source path does not exist") {
			// Bind mounts name host paths. Where the harness itself runs
			// in a container, the engine's host may not have this folder
			// at all. (No port is ever mapped to the host, so
			// TESTCONTAINERS_HOST_OVERRIDE does not matter here.)
			return nil, fmt.Errorf("the Docker engine does not see the run folder %s at the same path (%v); "+
				"when the harness runs inside a container, mount a host folder at the same path and point TMPDIR at it (for example -v /tmp:/tmp)", r.dir, err)
		}
		return c, err
	}
	suffix := "-" + strconv.Itoa(i)
	emu, err := starter(containers.Spec{
		Name:  "emulator" + suffix,
		Image: r.image,
		Cmd: []string{harnessInImage, "emulator", "--listen", "", "--tls-listen", ":443", "--http-listen", ":80",
			"--dns-listen", r.dns, "--dns-answer", "table", "--hold-addresses", "--origin", laneOrigin(i),
			"--ssh-listen", r.sshListen, "--ssh-host-key", r.sshHostKey,
			"--ca-cert", r.caFile, "--ca-key", r.keyFile, "--ledger", ledger, "--data", repos},
		Mounts:   r.mounts,
		Isolated: true,
		CapAdd:   []string{"NET_ADMIN"},
		// The runner, in this network namespace, gets this host name too:
		// the profile's, as in the local sandbox.
		Hostname: r.host,
	})
	if err != nil {
		return nil, fmt.Errorf("lane %d: emulator container: %w", i, err)
	}
	// The runner starts while the emulator gets ready: the first test
	// needs both.
	ready := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, containers.StartTimeout)
		defer cancel()
		ready <- emu.WaitLog(wctx, "DNS sinkhole on "+r.dns)
	}()
	runner, err := starter(containers.Spec{
		Name:      "runner" + suffix,
		Image:     r.image,
		Cmd:       []string{"sleep", "infinity"},
		NetworkOf: emu,
		Mounts: append(slices.Clip(r.mounts),
			containers.Mount{Path: r.resolv, Target: "/etc/resolv.conf", ReadOnly: true},
			containers.Mount{Path: r.bundle, Target: containers.SystemCABundlePath, ReadOnly: true},
			containers.Mount{Path: r.sshDir, Target: sandbox.SSHDir, ReadOnly: true}),
		// The sensor traces with ptrace and installs a seccomp filter.
		CapAdd: []string{"SYS_PTRACE"},
	})
	if err != nil {
		err = fmt.Errorf("lane %d: runner container: %w", i, err)
	}
	if werr := <-ready; werr != nil {
		err = errors.Join(err, fmt.Errorf("lane %d: emulator container: %w", i, werr))
	}
	if err != nil {
		return nil, err
	}
	return runner, nil
}

func (b *containerBackend) Mode() string { return "container" }

// Sandbox: the runner's network is the emulator's, with the sinkhole as
// its only resolver and no route out.
func (b *containerBackend) Sandbox() string     { return "container" }
func (b *containerBackend) HarnessPath() string { return harnessInImage }

// Executor is lane 0's: where tools are looked up, and where the tests
// run when they run one after the other.
func (b *containerBackend) Executor() executor.Config {
	return executor.Config{Runner: b.lanes[0].runner.Exec, BaseEnv: runnerEnv}
}

// Lanes: those started with the backend.
func (b *containerBackend) Lanes() int { return len(b.lanes) }

// Lane gives lane i's runner, whose clients reach only lane i's emulator,
// once it has started.
func (b *containerBackend) Lane(ctx context.Context, i int) (executor.Config, error) {
	if i < 0 || i >= len(b.lanes) {
		return executor.Config{}, fmt.Errorf("container lane %d: the run started %d", i, len(b.lanes))
	}
	l := b.lanes[i]
	if err := l.wait(ctx); err != nil {
		return executor.Config{}, err
	}
	return executor.Config{Runner: l.runner.Exec, BaseEnv: runnerEnv}, nil
}

func (b *containerBackend) Owner(e emulator.Entry) int { return laneOf(e.Origin) }

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

// Ledger reads every lane's ledger file once the lane has started (or
// failed to) and no request is in flight there, and merges them by time, each lane's entries in the order its
// emulator recorded them. Each emulator numbers its own entries, so the
// merged ledger is numbered again: Seq is the entry's place in the run's
// ledger (with one lane, the emulator's own numbers).
func (b *containerBackend) Ledger() ([]emulator.Entry, error) {
	per := make([][]emulator.Entry, len(b.lanes))
	for i, l := range b.lanes {
		<-l.ready // bounded by containers.StartTimeout
		var err error
		if per[i], err = l.readLedger(); err != nil {
			return nil, fmt.Errorf("lane %d: %w", i, err)
		}
	}
	merged := mergeByTime(per)
	for i := range merged {
		merged[i].Seq = int64(i + 1)
	}
	return merged, nil
}

// mergeByTime merges ledgers, taking at each step the earliest of their
// next entries (the first ledger's on a tie), so that each keeps its order.
func mergeByTime(ledgers [][]emulator.Entry) []emulator.Entry {
	n := 0
	for _, l := range ledgers {
		n += len(l)
	}
	out := make([]emulator.Entry, 0, n)
	next := make([]int, len(ledgers))
	for len(out) < n {
		pick := -1
		for i, l := range ledgers {
			if next[i] < len(l) && (pick < 0 || l[next[i]].Time.Before(ledgers[pick][next[pick]].Time)) {
				pick = i
			}
		}
		out = append(out, ledgers[pick][next[pick]])
		next[pick]++
	}
	return out
}

// readLedger reads the lane's ledger file once no request is in flight.
func (l *containerLane) readLedger() ([]emulator.Entry, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		n, err := os.ReadFile(l.ledger + ".inflight")
		if errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(n)) == "0") {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("emulator container: requests still in flight after %s", settleTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := os.Open(l.ledger)
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
			return nil, fmt.Errorf("%s:%d: %w", l.ledger, line, err)
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// Close ends the lanes still starting, then removes every container.
func (b *containerBackend) Close() error {
	b.stop()
	b.starting.Wait()
	return b.env.Close()
}
