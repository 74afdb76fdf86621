package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Labels put on every container and network this package creates.
const (
	// LabelHarness marks an object as created by the harness (value "1").
	LabelHarness = "t1567-harness"
	// LabelRun holds the run id of the Env that created the object.
	LabelRun = "t1567-harness.run"
)

func init() {
	// The reaper image cannot be pulled here; this must be set before
	// testcontainers reads its configuration (once per process).
	_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
}

// dockerClient returns the Docker client that testcontainers would use
// (honouring DOCKER_HOST, docker contexts and ~/.testcontainers.properties).
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
}

// Available reports whether a Docker engine answers; the error says why not
// in one line.
func Available(ctx context.Context) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return errors.New(oneLine(err))
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%s: %s", cli.DaemonHost(), oneLine(err))
	}
	return nil
}

// oneLine squashes an error message onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Clean removes the containers and networks crashed runs left behind: those
// of run runID, or with runID "" every one labelled t1567-harness=1 (runs
// going on at the same time included). It returns what it removed, as
// "container <name>" and "network <name>", keeps going after an error and
// returns all errors joined.
func Clean(ctx context.Context, runID string) ([]string, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	label := LabelHarness + "=1"
	if runID != "" {
		label = LabelRun + "=" + runID
	}
	return removeLabelled(ctx, cli.Client, label)
}

// removeLabelled force-removes the containers, then the networks, that carry
// label (a "key=value" filter).
func removeLabelled(ctx context.Context, cli *client.Client, label string) ([]string, error) {
	var (
		removed []string
		errs    []error
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	for _, c := range ctrs.Items {
		name := c.ID[:min(12, len(c.ID))]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		wg.Go(func() {
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				removed = append(removed, "container "+name)
			case cerrdefs.IsNotFound(err), isRemovalInProgress(err):
			default:
				errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
			}
		})
	}
	wg.Wait()

	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{
		Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks labelled %s: %w", label, err))
		return removed, errors.Join(errs...)
	}
	for _, n := range nets.Items {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			removed = append(removed, "network "+n.Name)
		case cerrdefs.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return removed, errors.Join(errs...)
}

func isRemovalInProgress(err error) bool {
	return cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")
}
