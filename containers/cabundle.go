package containers

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// SystemCABundlePath is where Debian's ca-certificates keeps the bundle of
// every trusted CA, which OpenSSL, GnuTLS (git) and curl read by default.
const SystemCABundlePath = "/etc/ssl/certs/ca-certificates.crt"

// SystemCABundle returns the system CA bundle of image, read once per image
// (by its id) from a container created and never started, and then kept in
// the user's cache folder. A run that must trust one more CA mounts this
// bundle plus its CA over SystemCABundlePath, which is what
// update-ca-certificates would write, in no time.
func SystemCABundle(ctx context.Context, image string) ([]byte, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	// One per harness image: the few latest are kept.
	dir, name, err := imageEntry(ctx, cli.Client, image, "ca-bundles")
	if err != nil {
		return nil, fmt.Errorf("CA bundle of %s: %w", image, err)
	}
	cached := filepath.Join(dir, name)
	if b, err := os.ReadFile(cached); err == nil && len(b) > 0 {
		touch(cached)
		return b, nil
	}
	b, err := readImageFile(ctx, cli.Client, image, SystemCABundlePath)
	if err != nil {
		return nil, fmt.Errorf("CA bundle of %s: %w", image, err)
	}
	writeCache(cached, b)
	pruneCache(dir, name, 4)
	return b, nil
}

// imageEntry names image's entry in the cache folder sub: the folder, and
// the image's id (a tag may move; an id names the same content forever).
func imageEntry(ctx context.Context, cli *client.Client, image, sub string) (dir, name string, err error) {
	img, err := cli.ImageInspect(ctx, image)
	if err != nil {
		return "", "", fmt.Errorf("inspect image: %w", err)
	}
	if dir, err = cacheDir(sub); err != nil {
		return "", "", err
	}
	return dir, strings.TrimPrefix(img.ID, "sha256:"), nil
}

// readImageFile copies one regular file out of image through a container
// that is created, read and removed without ever running.
func readImageFile(ctx context.Context, cli *client.Client, image, path string) ([]byte, error) {
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Cmd: []string{"true"}, Labels: map[string]string{LabelHarness: "1"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_, _ = cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	res, err := cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", path, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("copy %s: not a regular file in the image", path)
		}
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("copy %s: %w", path, err)
			}
			return b, nil
		}
	}
}

// ImageTools says, for each of tools, whether it is installed in image
// (true) or not. Answers are kept in the user's cache folder per image id,
// so a tool is looked up once per image: lookup is asked only about the
// others (it runs where a fresh container of image can answer, and returns
// nil when it could not); its answers are added to the cache.
func ImageTools(ctx context.Context, image string, tools []string, lookup func(tools []string) map[string]bool) (map[string]bool, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	dir, name, err := imageEntry(ctx, cli.Client, image, "tools")
	if err != nil {
		return nil, fmt.Errorf("tools of %s: %w", image, err)
	}
	cached := filepath.Join(dir, name)
	known := map[string]bool{}
	if b, err := os.ReadFile(cached); err == nil {
		_ = json.Unmarshal(b, &known)
	}
	found := make(map[string]bool, len(tools))
	var unknown []string
	for _, t := range tools {
		if f, ok := known[t]; ok {
			found[t] = f
		} else {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) == 0 {
		touch(cached)
		return found, nil
	}
	answers := lookup(unknown)
	if answers == nil {
		return nil, fmt.Errorf("tools of %s: the lookup failed", image)
	}
	for _, t := range unknown {
		found[t], known[t] = answers[t], answers[t]
	}
	if b, err := json.Marshal(known); err == nil {
		writeCache(cached, b)
	}
	pruneCache(dir, name, 4)
	return found, nil
}
