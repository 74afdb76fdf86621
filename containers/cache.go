package containers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CacheEnv names the folder this package keeps its cache in (the base
// root filesystem, static binaries, CA bundles), in place of
// t1567-harness in the user's cache folder: a test or a cold-start
// measurement points it at a folder of its own.
const CacheEnv = "T1567_HARNESS_CACHE"

// cacheDir is this package's folder in the user's cache folder
// ($XDG_CACHE_HOME or ~/.cache on Linux, or $T1567_HARNESS_CACHE), made
// on first use. Where the user has none (no HOME), the temporary folder
// stands in: still one fixed place, so nothing piles up.
func cacheDir(sub string) (string, error) {
	base := os.Getenv(CacheEnv)
	if base == "" {
		root, err := os.UserCacheDir()
		if err != nil {
			root = os.TempDir()
		}
		base = filepath.Join(root, "t1567-harness")
	}
	dir := filepath.Join(base, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache folder: %w", err)
	}
	return dir, nil
}

// sourceKey is a content hash of what `go build` reads from the module at
// root: every file outside hidden, underscore and testdata folders, less
// tests and executables (build outputs such as bin/harness), plus extra
// (toolchain, build settings).
func sourceKey(root string, extra ...string) (string, error) {
	h := sha256.New()
	for _, e := range extra {
		fmt.Fprintf(h, "%s\x00", e)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&0o111 != 0 {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), info.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash the source tree %s: %w", root, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// pruneCache removes all but the keep most recently used entries of dir
// (never current), so that a cache of builds keyed by content stays small
// however often the source changes.
func pruneCache(dir, current string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		// Locks go with their entry; a build in progress is not ours.
		if e.Name() == current || strings.Contains(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(b.mod, a.mod) })
	for i, a := range all {
		if i >= keep-1 {
			_ = os.RemoveAll(filepath.Join(dir, a.name))
			_ = os.Remove(filepath.Join(dir, a.name+".lock"))
		}
	}
}

// fileSum returns the sha256 of the file at path, hex-encoded, remembered
// in the user's cache folder under the file's identity (path, size,
// modification time to the nanosecond): the harness binary is 20-odd MB, and hashing
// it cost a warm run a tenth of a second or more.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s\x00%d\x00%d", path, info.Size(), info.ModTime().UnixNano())
	idSum := sha256.Sum256([]byte(id))
	name := hex.EncodeToString(idSum[:])[:16]
	dir, derr := cacheDir("sums")
	if derr == nil {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && len(b) == 64 {
			return string(b), nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if derr == nil {
		writeCache(filepath.Join(dir, name), []byte(sum))
		pruneCache(dir, name, 32)
	}
	return sum, nil
}

// writeCache replaces the cache file path with b whole, through a file of
// its own beside it, so that a reader never sees half of it. A cache that
// cannot be written only makes the next run slower: failures are ignored.
func writeCache(path string, b []byte) {
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}
