package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	log := copts.Log
	if log == nil {
		log = io.Discard
	}
	base, err := containers.BaseImage(ctx, log)
	if err != nil {
		return "", err
	}
	bin, err := containers.StaticBinary(ctx, copts.Exe, copts.ModuleRoot, "./cmd/harness")
	if err != nil {
		return "", err
	}
	return containers.HarnessImage(ctx, base, bin, log)
}

type containerBackend struct {
	env    *containers.Env
	runner *containers.Container
	ledger string
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
	if _, err = env.Start(ctx, containers.Spec{
		Name:    "emulator",
		Image:   image,
		Cmd:     []string{harnessInImage, "emulator", "--listen", "", "--tls-listen", ":443", "--ca-cert", caFile, "--ca-key", keyFile, "--ledger", ledger, "--data", repos},
		Aliases: emulator.ServedHosts(),
		Mounts:  mounts,
		WaitLog: "TLS on :443",
	}); err != nil {
		return nil, fmt.Errorf("emulator container: %w", err)
	}
	runner, err := env.Start(ctx, containers.Spec{
		Name:   "runner",
		Image:  image,
		Cmd:    []string{"sleep", "infinity"},
		Mounts: mounts,
		// The sensor traces with ptrace and installs a seccomp filter.
		CapAdd: []string{"SYS_PTRACE"},
	})
	if err != nil {
		return nil, fmt.Errorf("runner container: %w", err)
	}
	// Bind mounts name host paths. Where the harness itself runs in a
	// container, the engine's host may not have this folder at all: say so
	// rather than fail obscurely later. (No port is ever mapped to the
	// host, so TESTCONTAINERS_HOST_OVERRIDE does not matter here.)
	if code, err := runner.Exec(ctx, []string{"test", "-r", caFile}, "/", runnerEnv, io.Discard, io.Discard); err != nil || code != 0 {
		return nil, fmt.Errorf("the Docker engine does not see the run folder %s at the same path (exec: %v, exit %d); "+
			"when the harness runs inside a container, mount a host folder at the same path and point TMPDIR at it (for example -v /tmp:/tmp)", dir, err, code)
	}
	// The runner trusts the run's CA in its system store, as a real host
	// trusts the public ones: no client is told about it.
	var out strings.Builder
	install := "cp " + caFile + " /usr/local/share/ca-certificates/t1567-harness-run.crt && update-ca-certificates"
	if code, err := runner.Exec(ctx, []string{"sh", "-c", install}, "/", runnerEnv, &out, &out); err != nil || code != 0 {
		return nil, fmt.Errorf("trusting the run's CA in the runner (exit %d): %v %s", code, err, out.String())
	}
	return &containerBackend{env: env, runner: runner, ledger: ledger}, nil
}

func (b *containerBackend) Mode() string        { return "container" }
func (b *containerBackend) HarnessPath() string { return harnessInImage }

func (b *containerBackend) Executor() executor.Config {
	return executor.Config{Runner: b.runner.Exec, BaseEnv: runnerEnv}
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
