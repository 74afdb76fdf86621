package containers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Timeouts of the lifecycle operations.
const (
	// StartTimeout bounds how long Start waits for Spec.WaitLog.
	StartTimeout = 60 * time.Second
	// logPoll is how often WaitLog reads a container's output.
	logPoll = 10 * time.Millisecond
	// closeTimeout bounds Close as a whole.
	closeTimeout = 60 * time.Second
	// killTimeout bounds the exec that kills a cancelled Exec.
	killTimeout = 10 * time.Second
)

// Env is one run's containers: an internal network with no route out of the
// machine, made when the first container joins it, and the containers,
// all labelled with the run id. Its methods are safe for concurrent use.
type Env struct {
	runID   string
	cli     *client.Client
	netName string

	mu     sync.Mutex
	netErr error
	netUp  bool
	closed bool
}

// Container is a running container of an Env.
type Container struct {
	env  *Env
	name string
	id   string
	ip   string
}

// Spec describes a container to Start.
type Spec struct {
	// Name is the container's short name: part of its Docker name
	// (t1567-<run id>-<name>), and its hostname unless Hostname says
	// otherwise. Optional.
	Name string
	// Hostname is the container's host name (not for NetworkOf: such a
	// container has its network owner's).
	Hostname string
	// Image is the image tag (see BaseImage, HarnessImage); never pulled.
	Image string
	// Cmd is the command (the images have no entrypoint).
	Cmd []string
	// Env is the process environment, added to the image's.
	Env map[string]string
	// Aliases are DNS names of the container on the env's network (for
	// example "github.com").
	Aliases []string
	// Mounts are bind mounts, at the same path in the container as on the
	// host.
	Mounts []Mount
	// DNS are the container's name servers (docker --dns).
	DNS []netip.Addr
	// CapAdd adds Linux capabilities, e.g. "SYS_PTRACE".
	CapAdd []string
	// SecurityOpt are Docker security options, e.g. "seccomp=unconfined".
	SecurityOpt []string
	// WaitLog, when set, makes Start wait (up to StartTimeout) until the
	// container's output contains this text (see [Container.WaitLog]).
	// Without it Start returns once the container is started.
	WaitLog string
	// Isolated gives the container a network namespace of its own with
	// only a loopback interface, instead of the env's network: no route
	// anywhere, not even to the other containers.
	Isolated bool
	// NetworkOf, when set, makes the container share the network
	// namespace of that container of the env (started), instead of
	// joining the env's network: they see each other on loopback and
	// share its addresses and routes. Such a container has no hostname,
	// aliases or DNS of its own.
	NetworkOf *Container
	// User runs the container's processes, and its execs, as this user
	// ("uid[:gid]" or a name known to the image).
	User string
}

// Mount is a bind mount of Path (a folder or a file), at the same path in
// the container unless Target names another (for example a file over
// /etc/resolv.conf).
type Mount struct {
	Path     string
	Target   string
	ReadOnly bool
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// NewEnv makes the env of run runID. Its internal network, named
// t1567-<runID> and labelled t1567-harness=1 and t1567-harness.run=<runID>,
// is created when the first container that joins it starts (a run whose
// containers are all [Spec.Isolated] or share one's namespace needs none).
//
// The network is an internal bridge whose bridge device has no IPv4 address
// (com.docker.network.bridge.inhibit_ipv4): containers reach each other, but
// neither the host nor anything beyond it. (On Engine 20.10 an internal
// network still gives containers a default route via the bridge, where
// packets are silently dropped, so a connection out would hang until its
// timeout; with no address on the bridge it fails with "No route to host"
// once ARP for the gateway fails, which Start makes quick.) It is created
// with the Docker API rather than testcontainers' network.New, which in
// v0.45.0 does not pass driver options through.
func NewEnv(ctx context.Context, runID string) (*Env, error) {
	if runID == "" {
		return nil, errors.New("new env: empty run id")
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("new env %s: %w", runID, err)
	}
	return &Env{runID: runID, cli: cli.Client, netName: "t1567-" + nameUnsafe.ReplaceAllString(runID, "_")}, nil
}

// network creates the env's network once; a failure is kept and returned
// to every caller.
func (e *Env) network(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.netUp || e.netErr != nil {
		return e.netErr
	}
	labels := testcontainers.GenericLabels()
	labels[LabelHarness] = "1"
	labels[LabelRun] = e.runID
	_, err := e.cli.NetworkCreate(ctx, e.netName, client.NetworkCreateOptions{
		Driver:   "bridge",
		Internal: true,
		Options:  map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"},
		Labels:   labels,
	})
	switch {
	case err == nil:
		e.netUp = true
	case cerrdefs.IsConflict(err):
		e.netErr = fmt.Errorf("env %s: network %s exists (a crashed run with the same id? see Clean): %w", e.runID, e.netName, err)
	default:
		e.netErr = fmt.Errorf("env %s: create internal network: %w", e.runID, err)
	}
	return e.netErr
}

// Network returns the name of the env's network.
func (e *Env) Network() string { return e.netName }

// RunID returns the run id the env's objects are labelled with.
func (e *Env) RunID() string { return e.runID }

// Start runs a container on the env's network and, if spec.WaitLog is set,
// waits for that text in its output. The image must exist (it is never
// pulled). On error nothing is left running.
func (e *Env) Start(ctx context.Context, spec Spec) (*Container, error) {
	if spec.Image == "" {
		return nil, errors.New("start: empty image")
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("start %s: env %s is closed", spec.Name, e.runID)
	}
	netMode := container.NetworkMode(e.netName)
	switch {
	case spec.Isolated && spec.NetworkOf != nil:
		return nil, fmt.Errorf("start %s: a container is either isolated or shares another's network", spec.Name)
	case spec.Hostname != "" && spec.NetworkOf != nil:
		return nil, fmt.Errorf("start %s: a container that shares another's network has its host name", spec.Name)
	case spec.Isolated:
		netMode = "none"
	case spec.NetworkOf != nil:
		netMode = container.NetworkMode("container:" + spec.NetworkOf.id)
	default:
		if err := e.network(ctx); err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}

	// Never pull: testcontainers would try a registry for a missing image.
	if ok, err := imageExists(ctx, e.cli, spec.Image); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	} else if !ok {
		return nil, fmt.Errorf("start %s: image %s does not exist on this engine (images are built here, never pulled)", spec.Name, spec.Image)
	}

	name := ""
	if spec.Name != "" {
		name = "t1567-" + nameUnsafe.ReplaceAllString(e.runID, "_") + "-" + nameUnsafe.ReplaceAllString(spec.Name, "_")
	}
	mounts := make([]mount.Mount, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		target := m.Target
		if target == "" {
			target = m.Path
		}
		if !strings.HasPrefix(m.Path, "/") || !strings.HasPrefix(target, "/") {
			return nil, fmt.Errorf("start %s: mount %q on %q: paths must be absolute", spec.Name, m.Path, target)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m.Path, Target: target, ReadOnly: m.ReadOnly})
	}
	req := testcontainers.ContainerRequest{
		Image:  spec.Image,
		Cmd:    spec.Cmd,
		Env:    spec.Env,
		Name:   name,
		Labels: map[string]string{LabelHarness: "1", LabelRun: e.runID},
		ConfigModifier: func(c *container.Config) {
			if !netMode.IsContainer() {
				c.Hostname = cmp.Or(spec.Hostname, nameUnsafe.ReplaceAllString(spec.Name, "-"))
			}
			c.User = spec.User
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.Mounts = append(hc.Mounts, mounts...)
			hc.CapAdd = append(hc.CapAdd, spec.CapAdd...)
			hc.DNS = append(hc.DNS, spec.DNS...)
			hc.SecurityOpt = append(hc.SecurityOpt, spec.SecurityOpt...)
			hc.NetworkMode = netMode
			// Reap orphans (a killed exec's processes) and forward SIGTERM.
			useInit := true
			hc.Init = &useInit
			if netMode.IsUserDefined() {
				// Fail fast on the way out: one ARP probe of 200ms for
				// the gateway nobody answers, instead of 3 of 1s. eth0 is
				// the env's network, the container's only one.
				hc.Sysctls = map[string]string{
					"net.ipv4.neigh.eth0.mcast_solicit":   "1",
					"net.ipv4.neigh.eth0.ucast_solicit":   "1",
					"net.ipv4.neigh.eth0.retrans_time_ms": "200",
				}
			}
		},
	}
	if netMode.IsUserDefined() {
		req.Networks = []string{e.netName}
		req.NetworkAliases = map[string][]string{e.netName: spec.Aliases}
	}

	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           quietLogger{},
	})
	if err != nil {
		if ctr != nil {
			_ = terminate(ctr)
		}
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Image, err)
	}
	info, err := ctr.Inspect(ctx)
	if err != nil {
		_ = terminate(ctr)
		return nil, fmt.Errorf("start %s: inspect: %w", spec.Name, err)
	}
	c := &Container{env: e, name: spec.Name, id: ctr.GetContainerID()}
	if info.NetworkSettings != nil {
		if ep := info.NetworkSettings.Networks[e.netName]; ep != nil && ep.IPAddress.IsValid() {
			c.ip = ep.IPAddress.String()
		}
	}
	e.mu.Lock()
	closed = e.closed // Close ran meanwhile
	e.mu.Unlock()
	if closed {
		_ = terminate(ctr)
		return nil, fmt.Errorf("start %s: env %s is closed", spec.Name, e.runID)
	}
	if spec.WaitLog != "" {
		wctx, cancel := context.WithTimeout(ctx, StartTimeout)
		defer cancel()
		if err := c.WaitLog(wctx, spec.WaitLog); err != nil {
			_ = terminate(ctr)
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}
	return c, nil
}

// WaitLog waits until the container's output (stdout or stderr) contains
// text, reading it every few milliseconds, and fails if the container
// exits first or ctx ends.
func (c *Container) WaitLog(ctx context.Context, text string) error {
	for {
		var out bytes.Buffer
		if err := c.Logs(ctx, &out, &out); err != nil {
			return err
		}
		if bytes.Contains(out.Bytes(), []byte(text)) {
			return nil
		}
		info, err := c.env.cli.ContainerInspect(ctx, c.id, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("wait for %q from %s: %w", text, c.name, err)
		}
		if st := info.Container.State; st != nil && !st.Running {
			return fmt.Errorf("%s exited (status %d) before it wrote %q: %s", c.name, st.ExitCode, text, strings.TrimSpace(out.String()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %q from %s: %w", text, c.name, ctx.Err())
		case <-time.After(logPoll):
		}
	}
}

// terminate removes ctr, killing it, with a fresh context.
func terminate(ctr testcontainers.Container) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return ctr.Terminate(ctx, testcontainers.StopTimeout(0), testcontainers.StopContext(ctx))
}

// Close removes every container of the env, then its network: everything
// labelled with the run id, so it also cleans up after a Start that failed
// half way. The containers are killed, not stopped: nothing in them keeps
// state a graceful stop would save (the emulator writes each ledger entry
// as it happens, and the harness reads the ledger once it has settled).
// It is idempotent and uses its own context, so it works after the
// caller's context is cancelled.
func (e *Env) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if _, err := removeLabelled(ctx, e.cli, LabelRun+"="+e.runID); err != nil {
		return fmt.Errorf("close env %s: %w", e.runID, err)
	}
	return nil
}

// Name returns the container's short name (Spec.Name).
func (c *Container) Name() string { return c.name }

// ID returns the Docker container id.
func (c *Container) ID() string { return c.id }

// IP returns the container's address on the env's network.
func (c *Container) IP() string { return c.ip }

// Wait waits for the container to exit and returns its exit code.
func (c *Container) Wait(ctx context.Context) (int, error) {
	res := c.env.cli.ContainerWait(ctx, c.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return -1, fmt.Errorf("wait %s: %s", c.name, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-res.Error:
		return -1, fmt.Errorf("wait %s: %w", c.name, err)
	case <-ctx.Done():
		return -1, fmt.Errorf("wait %s: %w", c.name, ctx.Err())
	}
}

// Logs copies the container's output so far to stdout and stderr (either
// may be nil to discard it).
func (c *Container) Logs(ctx context.Context, stdout, stderr io.Writer) error {
	rc, err := c.env.cli.ContainerLogs(ctx, c.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("logs %s: %w", c.name, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(orDiscard(stdout), orDiscard(stderr), rc); err != nil {
		return fmt.Errorf("logs %s: %w", c.name, err)
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// execWrapper runs the command under coreutils timeout (own process group,
// SIGKILL at the deadline) in the background, and records timeout's pid in a
// file for as long as it runs, so that a cancelled Exec can kill the whole
// group. Arguments: pidfile, timeout, argv...
const execWrapper = `f=$1 t=$2; shift 2
timeout -s KILL "$t" "$@" &
p=$!
echo "$p" >"$f"
wait "$p"; rc=$?
rm -f "$f"
exit "$rc"`

// execKiller kills the process group recorded in the pidfile $1, waiting
// up to 2s for the file to appear (the cancel may race the start).
const execKiller = `f=$1 i=0
while [ ! -s "$f" ] && [ "$i" -lt 20 ]; do sleep 0.1; i=$((i+1)); done
[ -s "$f" ] || exit 0
p=$(cat "$f")
kill -s KILL -- "-$p" 2>/dev/null || kill -s KILL "$p" 2>/dev/null
exit 0`

// Exec runs argv in the container (as docker exec, as the container's user)
// in directory dir (the image's default if empty) with env ("KEY=value",
// added to the container's), streaming its stdout and stderr, demultiplexed,
// to the writers (nil discards). It returns the command's exit code; 127
// means the command was not found.
//
// The command runs under /bin/sh and coreutils timeout, which the images
// built here have: timeout puts it in its own process group and SIGKILLs the
// group at ctx's deadline, if ctx has one. If ctx is cancelled, Exec runs a
// second exec that SIGKILLs that process group (found through a pid file in
// /tmp that lives as long as the command), closes the stream, and returns
// ctx's error with exit code -1; processes that left the group (setsid,
// daemons) survive until the container is stopped.
func (c *Container) Exec(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, errors.New("exec: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("exec %s in %s: %w", argv[0], c.name, err)
	}
	limit := "0" // no limit
	if d, ok := ctx.Deadline(); ok {
		// A little after ctx expires: the cancel path normally wins, this is
		// the backstop if the harness is gone by then.
		limit = fmt.Sprintf("%d", int(math.Ceil(time.Until(d).Seconds()))+2)
	}
	pidfile := "/tmp/.t1567-exec-" + randomHex() + ".pid"
	cmd := append([]string{"/bin/sh", "-c", execWrapper, "sh", pidfile, limit}, argv...)

	cli := c.env.cli
	created, err := cli.ExecCreate(ctx, c.id, client.ExecCreateOptions{
		AttachStdout: true,
		AttachStderr: true,
		Env:          env,
		WorkingDir:   dir,
		Cmd:          cmd,
	})
	if err != nil {
		return -1, fmt.Errorf("exec %s in %s: create: %w", argv[0], c.name, err)
	}
	// The attach must outlive ctx: we need the stream until the process is
	// killed, so it gets its own context.
	attachCtx, cancelAttach := context.WithCancel(context.Background())
	defer cancelAttach()
	att, err := cli.ExecAttach(attachCtx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, fmt.Errorf("exec %s in %s: start: %w", argv[0], c.name, err)
	}
	defer att.Close()

	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(orDiscard(stdout), orDiscard(stderr), att.Reader)
		copied <- err
	}()

	select {
	case err := <-copied:
		if err != nil {
			return -1, fmt.Errorf("exec %s in %s: read output: %w", argv[0], c.name, err)
		}
	case <-ctx.Done():
		kerr := c.kill(pidfile)
		// The stream ends when the process dies; don't wait forever if the
		// kill did not work.
		select {
		case <-copied:
		case <-time.After(killTimeout):
			att.Close()
			<-copied
		}
		if kerr != nil {
			return -1, fmt.Errorf("exec %s in %s: %w (and killing it failed: %v)", argv[0], c.name, ctx.Err(), kerr)
		}
		return -1, fmt.Errorf("exec %s in %s: %w", argv[0], c.name, ctx.Err())
	}

	// The stream closes when the process ends, but the engine may report the
	// exec as running for a moment longer: asked again soon.
	inspectCtx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	for {
		res, err := cli.ExecInspect(inspectCtx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, fmt.Errorf("exec %s in %s: inspect: %w", argv[0], c.name, err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-inspectCtx.Done():
			return -1, fmt.Errorf("exec %s in %s: still running after its output ended", argv[0], c.name)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// kill SIGKILLs the process group of the exec that wrote pidfile.
func (c *Container) kill(pidfile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	created, err := c.env.cli.ExecCreate(ctx, c.id, client.ExecCreateOptions{
		Cmd: []string{"/bin/sh", "-c", execKiller, "sh", pidfile},
	})
	if err != nil {
		return fmt.Errorf("kill exec: %w", err)
	}
	att, err := c.env.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("kill exec: %w", err)
	}
	defer att.Close()
	// The stream ends when the killer exits.
	if _, err := io.Copy(io.Discard, att.Reader); err != nil {
		return fmt.Errorf("kill exec: %w", err)
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// quietLogger drops testcontainers' progress lines.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
