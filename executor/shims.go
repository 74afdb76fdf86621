package executor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// shimTimeout bounds the one question asked of a version manager.
const shimTimeout = 10 * time.Second

// ResolveShims returns env with each version manager's shim folder on its
// PATH (<root>/shims of pyenv or rbenv) replaced by the bin folders of the
// versions that manager selects, asked once (`<manager> prefix`, run in dir)
// instead of by every interpreter start: a shim is a shell script that runs
// the manager, which dominates a short test, and the telemetry shows the
// real interpreter anyway. A folder whose manager cannot say stays as it is.
func ResolveShims(ctx context.Context, env []string, dir string) []string {
	i, path := -1, ""
	for j, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			i, path = j, v
		}
	}
	if i < 0 {
		return env
	}
	var out []string
	changed := false
	dirs := filepath.SplitList(path)
	for _, d := range dirs {
		bins := shimBins(ctx, d, env, dir)
		if bins == nil {
			out = append(out, d)
			continue
		}
		for _, b := range bins {
			// A version that is on PATH already (pyenv's "system" is /usr)
			// is where the shim would have looked anyway: not moved ahead.
			if !slices.Contains(dirs, b) {
				out = append(out, b)
			}
		}
		changed = true
	}
	if !changed {
		return env
	}
	env = append([]string(nil), env...)
	env[i] = "PATH=" + strings.Join(out, string(filepath.ListSeparator))
	return env
}

// shimBins returns the bin folders the manager owning shim folder d
// selects, or nil when d is not such a folder.
func shimBins(ctx context.Context, d string, env []string, dir string) []string {
	if filepath.Base(d) != "shims" {
		return nil
	}
	root := filepath.Dir(d)
	name := strings.TrimPrefix(filepath.Base(root), ".")
	if name != "pyenv" && name != "rbenv" {
		return nil
	}
	var manager string
	for _, p := range []string{filepath.Join(root, "libexec", name), filepath.Join(root, "bin", name)} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			manager = p
			break
		}
	}
	if manager == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, shimTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, manager, "prefix")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var bins []string
	for _, p := range strings.FieldsFunc(string(bytes.TrimSpace(out)), func(r rune) bool { return r == '\n' || r == ':' }) {
		bin := filepath.Join(p, "bin")
		if fi, err := os.Stat(bin); err == nil && fi.IsDir() {
			bins = append(bins, bin)
		}
	}
	return bins
}

// lookPath reports whether name is an executable in the PATH of env, as
// `command -v` would find it, without starting a shell.
func lookPath(name string, env []string) bool {
	if strings.Contains(name, "/") {
		return isExecutable(name)
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d != "" && isExecutable(filepath.Join(d, name)) {
			return true
		}
	}
	return false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
