// Package realrclone builds, for tests, an rclone with its mega backend:
// Debian's rclone has none, so without this the Mega atomic only runs
// simulated. It is the unmodified rclone v1.60.1 (fetched from the Go
// module proxy, never committed) with only the backends and commands the
// atomic runs, built once per machine into the harness's cache folder.
package realrclone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/t1567001/harness/containers"
)

// goMod pins rclone 1.60.1 (Debian's version) and replaces its go-mega,
// whose base64 alphabet panics under Go 1.22+ ("encoding alphabet includes
// duplicate symbols", go-mega issue #48), with the fixed one; the newer
// go-mega adds only an HTTPS option and 2FA, which rclone 1.60 does not use.
const goMod = `module t1567harness.invalid/rclone

go 1.17

require github.com/rclone/rclone v1.60.1

replace github.com/t3rm1n4l/go-mega => github.com/t3rm1n4l/go-mega v0.0.0-20240219080617-d494b6a8ace7
`

// mainGo is rclone's own main with the atomic's backends (local, mega)
// and commands (copy, purge; help is in cmd itself) instead of all of
// them, so that the build compiles only what the atomic runs.
const mainGo = `package main

import (
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/mega"
	"github.com/rclone/rclone/cmd"
	_ "github.com/rclone/rclone/cmd/copy"
	_ "github.com/rclone/rclone/cmd/purge"
)

func main() { cmd.Main() }
`

// ErrUnavailable is returned when rclone's module cannot be fetched (no
// network to the module proxy, or GOPROXY=off with an empty cache) or
// there is no go toolchain: the build could not be tried. Any other error
// is the build itself failing.
var ErrUnavailable = errors.New("rclone's sources or a go toolchain are not available here")

// Build returns the path of the rclone binary, building it on first use
// (minutes, most of it downloading modules) and reusing it while the
// recipe and the go toolchain are the same. A build says so on log (which
// may be nil). Where there is no go toolchain or the module proxy cannot be
// reached the error is ErrUnavailable, and says which.
func Build(ctx context.Context, log io.Writer) (string, error) {
	goTool, err := containers.GoTool()
	if err != nil {
		return "", fmt.Errorf("rclone with its mega backend: %w: %w", ErrUnavailable, err)
	}
	version, err := exec.CommandContext(ctx, goTool, "env", "GOVERSION", "GOOS", "GOARCH").Output()
	if err != nil {
		return "", fmt.Errorf("rclone with its mega backend: go env: %w", err)
	}
	sum := sha256.Sum256([]byte(goMod + "\x00" + mainGo + "\x00" + string(version)))
	key := hex.EncodeToString(sum[:])[:16]
	out, err := containers.CachedBuild(ctx, "rclone", key, "rclone", executable, log, func(ctx context.Context, tmp string) error {
		src, err := os.MkdirTemp(filepath.Dir(tmp), ".src-")
		if err != nil {
			return fmt.Errorf("source folder: %w", err)
		}
		defer os.RemoveAll(src)
		for name, text := range map[string]string{"go.mod": goMod, "main.go": mainGo} {
			if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
		}
		fmt.Fprintln(log, "building rclone v1.60.1 with its mega backend (once per machine, modules from the Go module proxy)")
		// -mod=mod writes go.sum (checked against the checksum database) in
		// this throwaway module; the user's GOFLAGS are for the project.
		env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		run := func(args ...string) error {
			cmd := exec.CommandContext(ctx, goTool, args...)
			cmd.Dir, cmd.Env = src, env
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(string(b)))
			}
			return nil
		}
		// rclone's own module first: where it cannot be fetched, the modules
		// are out of reach, which is not a failure of the recipe.
		if err := run("mod", "download", "github.com/rclone/rclone"); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return run("build", "-trimpath", "-o", tmp, ".")
	})
	if err != nil {
		return "", fmt.Errorf("rclone with its mega backend: %w", err)
	}
	return out, nil
}

// executable accepts a regular file with an execute bit: what the build
// leaves, and not a half-written or removed one.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
