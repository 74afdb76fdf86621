package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/t1567001/harness/internal/module"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Image repositories and the label that marks the images this package built.
const (
	BaseRepo    = "t1567-harness/base"
	HarnessRepo = "t1567-harness/harness"
	// LabelImage is "base" or "harness" on the images built here. It is
	// deliberately not LabelHarness: containers inherit image labels, and
	// [Clean] must only match containers an [Env] started.
	LabelImage = "t1567-harness.image"
)

// The base image recipe. Changing any of it changes the tag; bump
// baseRecipeVersion when the way the image is made changes.
const (
	baseRecipeVersion = "2"
	baseSuite         = "bookworm"
	baseVariant       = "minbase"
	baseMirror        = "http://deb.debian.org/debian"
)

// basePackages are the atomics' tools (what their get_prereq_commands
// install): git, curl, wget, python3 with requests and pip, rclone, ruby,
// node, perl with TLS, ssh (git@github.com:, which the emulator's
// container serves on port 22), and what the harness runs in the runner
// (procps, coreutils). They are part of the image's key: a package added
// here makes a new image, never an old one reused without it.
var basePackages = []string{"ca-certificates", "coreutils", "curl", "git", "libio-socket-ssl-perl", "nodejs",
	"openssh-client", "openssl", "perl", "procps", "python3", "python3-pip", "python3-requests", "rclone", "ruby", "wget"}

// BaseFromEnv chooses how the base image is made: "host" (from the host's
// installed packages, an error where it cannot be), "debootstrap" (from
// the network), or unset or "auto": from the host where it can be, else
// debootstrap.
const BaseFromEnv = "T1567_HARNESS_BASE_FROM"

// The ways a base image is made, also the value of its LabelImage+".from"
// label.
const (
	fromHost        = "host"
	fromDebootstrap = "debootstrap"
)

// baseKey is the content hash of the base image recipe.
func baseKey() string { return recipeKey(basePackages) }

// recipeKey is the content hash of the base image recipe with packages.
func recipeKey(packages []string) string {
	return shortHash("recipe="+baseRecipeVersion,
		"suite="+baseSuite,
		"variant="+baseVariant,
		"mirror="+baseMirror,
		"packages="+strings.Join(packages, ","))
}

func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(h[:])[:16]
}

// baseWay is how the base image is made, and its key: for the host way,
// the recipe plus the installed versions.
type baseWay struct {
	from, key string
	host      *hostBase
	// notHost says why an automatic choice fell back to debootstrap.
	notHost error
}

// chooseBase returns how the base image is made (see [BaseFromEnv]).
func chooseBase(ctx context.Context) (baseWay, error) {
	switch how := os.Getenv(BaseFromEnv); how {
	case fromDebootstrap:
		return baseWay{from: fromDebootstrap, key: baseKey()}, nil
	case fromHost, "", "auto":
		host, err := planHostBase(ctx, baseSuite, basePackages, baseKey())
		if err == nil {
			return baseWay{from: fromHost, key: host.key, host: host}, nil
		}
		if how == fromHost {
			return baseWay{}, fmt.Errorf("base image from the host's packages (%s=%s): %w", BaseFromEnv, how, err)
		}
		return baseWay{from: fromDebootstrap, key: baseKey(), notHost: err}, nil
	default:
		return baseWay{}, fmt.Errorf("%s=%q: want host, debootstrap or auto", BaseFromEnv, how)
	}
}

// BaseImage returns the tag of the base image, t1567-harness/base:<key>,
// built once per machine with the recipe's packages (basePackages: the
// atomics' tools) in one of two ways (see [BaseFromEnv]). Where the host
// is Debian of the recipe's suite with every recipe package installed, the
// root filesystem is made from the host's own packages, without the
// network, in seconds: the files dpkg lists for them and their dependency
// closure, streamed as a tar into the engine; the key then includes every
// version, so an upgrade on the host makes a new image. Otherwise it is a
// debootstrap (variant minbase, Debian bookworm, from deb.debian.org) root
// filesystem, kept in the user's cache folder under the recipe's key and
// imported from there; debootstrapping needs root, debootstrap and the
// network, and takes a minute or more. Either way the image is imported
// through the Docker API (the docker CLI is not needed), labelled with the
// way it was made, and an existing image with the tag is reused as is.
// Progress is written to log (which may be nil), one line a phase.
func BaseImage(ctx context.Context, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	way, err := chooseBase(ctx)
	if err != nil {
		return "", err
	}
	key := way.key
	tag := BaseRepo + ":" + key

	cli, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()

	if ok, err := imageExists(ctx, cli.Client, tag); err != nil || ok {
		return tag, err
	}

	// One build per machine: other processes wait for the lock, then find
	// the image.
	rootfsCache, err := cacheDir("rootfs")
	if err != nil {
		return "", fmt.Errorf("base image %s: %w", tag, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(rootfsCache, key+".lock"), log)
	if err != nil {
		return "", fmt.Errorf("base image %s: %w", tag, err)
	}
	defer unlock()
	if ok, err := imageExists(ctx, cli.Client, tag); err != nil || ok {
		return tag, err
	}

	start := time.Now()
	var write func(io.Writer) error
	if way.host != nil {
		fmt.Fprintf(log, "base image %s: from the host's packages, without the network: %d recipe packages, %d with their dependencies and the base system\n",
			tag, len(basePackages), len(way.host.pkgs))
		write = func(w io.Writer) error { return way.host.writeTar(ctx, w, log) }
	} else {
		if way.notHost != nil {
			fmt.Fprintf(log, "base image %s: not from the host's packages (%v): debootstrap\n", tag, way.notHost)
		}
		rootfs, err := cachedRootfs(ctx, rootfsCache, key, log)
		if err != nil {
			return "", fmt.Errorf("base image %s: %w", tag, err)
		}
		fmt.Fprintf(log, "base image %s: importing the debootstrap root filesystem %s\n", tag, rootfs)
		write = func(w io.Writer) error { return writeRootfsTar(ctx, w, rootfs) }
	}
	if err := importTar(ctx, cli.Client, tag, key, way.from, write, log); err != nil {
		return "", fmt.Errorf("base image %s: %w", tag, err)
	}
	fmt.Fprintf(log, "built %s (from %s) in %s\n", tag, way.from, time.Since(start).Round(time.Millisecond))
	if way.host != nil {
		pruneImages(ctx, cli.Client, tag, log, LabelImage+"=base", LabelImage+".from="+fromHost)
	}
	return tag, nil
}

// cachedRootfs returns the base root filesystem of recipe key, kept in the
// user's cache folder: debootstrapped from the network only the first time
// (or when the recipe changes), so that an image deleted from the engine
// comes back in seconds. The caller holds the build lock.
func cachedRootfs(ctx context.Context, cache, key string, log io.Writer) (string, error) {
	dir := filepath.Join(cache, key)
	rootfs := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		touch(dir)
		return rootfs, nil
	}
	debootstrap, err := findDebootstrap()
	if err != nil {
		return "", err
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("debootstrap must run as root (uid %d): run once as root, the image is then cached", os.Geteuid())
	}
	// Built beside its final place and renamed once complete; what a
	// killed build leaves is removed by the next one.
	building := dir + ".building"
	removeRootfs(building)
	if err := os.MkdirAll(building, 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	fmt.Fprintf(log, "debootstrap --variant=%s %s from %s into %s (once per recipe)\n", baseVariant, baseSuite, baseMirror, building)
	tmpRootfs := filepath.Join(building, "rootfs")
	args := []string{
		"--variant=" + baseVariant,
		"--include=" + strings.Join(basePackages, ","),
		baseSuite, tmpRootfs, baseMirror,
	}
	if err := runDebootstrap(ctx, debootstrap, args, log); err != nil {
		tail := debootstrapLogTail(tmpRootfs)
		removeRootfs(building)
		return "", fmt.Errorf("debootstrap: %w%s", err, tail)
	}
	fmt.Fprintf(log, "debootstrap done in %s\n", time.Since(start).Round(time.Second))
	trimRootfs(tmpRootfs)
	if err := os.WriteFile(filepath.Join(building, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		removeRootfs(building)
		return "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(building, dir); err != nil {
		removeRootfs(building)
		return "", err
	}
	pruneCache(cache, key, 1)
	return rootfs, nil
}

// findDebootstrap looks in PATH and the sbin directories (often not in a
// non-root PATH).
func findDebootstrap() (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/debootstrap", "/sbin/debootstrap"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("debootstrap not found (needed once, to build the base image): install it as root with `apt-get update && apt-get install -y debootstrap`")
}

// debootstrapLogTail returns the end of debootstrap's own log, which says
// more than its exit status.
func debootstrapLogTail(rootfs string) string {
	b, err := os.ReadFile(filepath.Join(rootfs, "debootstrap", "debootstrap.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n--- debootstrap.log (tail) ---\n" + strings.Join(lines, "\n")
}

// trimRootfs drops what the image does not need (apt lists and caches).
func trimRootfs(rootfs string) {
	for _, pattern := range []string{
		"var/lib/apt/lists/*_*",
		"var/cache/apt/*.bin",
		"var/cache/apt/archives/*.deb",
		"var/log/*.log",
	} {
		matches, _ := filepath.Glob(filepath.Join(rootfs, pattern))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
}

// importTar streams the root filesystem write writes, as a tar, into the
// engine's image import, tagged tag and labelled with key and from (the way
// it was made).
func importTar(ctx context.Context, cli *client.Client, tag, key, from string, write func(io.Writer) error, log io.Writer) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(write(pw))
	}()
	defer pr.Close()

	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, tag, client.ImageImportOptions{
		Message: "t1567 harness base " + baseSuite + ", from " + from,
		Changes: []string{
			"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"ENV LANG=C.UTF-8",
			// Node trusts the system store as Debian's build does
			// (--openssl-use-def-ca-store), whichever build the image
			// has: a host's may be NodeSource's, which reads only its own
			// bundled CAs.
			"ENV NODE_EXTRA_CA_CERTS=" + SystemCABundlePath,
			"LABEL " + LabelImage + "=base " + LabelImage + ".key=" + key + " " + LabelImage + ".from=" + from,
			`CMD ["/bin/bash"]`,
		},
	})
	if err != nil {
		return fmt.Errorf("image import: %w", err)
	}
	defer res.Close()
	if err := readJSONStream(res, log); err != nil {
		return fmt.Errorf("image import: %w", err)
	}
	if ok, err := imageExists(ctx, cli, tag); err != nil {
		return err
	} else if !ok {
		return errors.New("image import finished but the tag does not exist")
	}
	return nil
}

// readJSONStream reads the engine's JSON progress stream (build or import),
// copies the text to log and returns the first error it reports.
func readJSONStream(r io.Reader, log io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Stream      string `json:"stream"`
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		switch {
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return errors.New(m.ErrorDetail.Message)
		case m.Error != "":
			return errors.New(m.Error)
		case m.Stream != "":
			io.WriteString(log, m.Stream)
		case m.Status != "":
			fmt.Fprintln(log, m.Status)
		}
	}
}

func imageExists(ctx context.Context, cli *client.Client, ref string) (bool, error) {
	_, err := cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

// HarnessImage returns the tag of an image made of base plus binary copied to
// /usr/local/bin/harness (no entrypoint), t1567-harness/harness:<key> with key
// a hash of the base tag and the binary's sha256. An existing image with that
// tag is reused. binary must be statically linked (see [StaticBinary]).
func HarnessImage(ctx context.Context, base, binary string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if err := checkStatic(binary); err != nil {
		return "", err
	}
	sum, err := fileSum(binary)
	if err != nil {
		return "", fmt.Errorf("harness image: %w", err)
	}
	key := shortHash("base="+base, "binary="+sum)
	tag := HarnessRepo + ":" + key

	cli, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if ok, err := imageExists(ctx, cli.Client, tag); err != nil || ok {
		return tag, err
	}
	if ok, err := imageExists(ctx, cli.Client, base); err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("harness image: base image %s does not exist (build it with BaseImage)", base)
	}

	dockerfile := fmt.Sprintf("FROM %s\nCOPY harness /usr/local/bin/harness\nLABEL %s=harness %s.key=%s\n",
		base, LabelImage, LabelImage, key)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("harness image: %w", err)
	}
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"harness", 0o755, bin},
	} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return "", fmt.Errorf("harness image: build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", fmt.Errorf("harness image: build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("harness image: build context: %w", err)
	}

	start := time.Now()
	fmt.Fprintf(log, "building %s from %s\n", tag, base)
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		NetworkMode: "none",
	})
	if err != nil {
		return "", fmt.Errorf("harness image %s: build: %w", tag, err)
	}
	defer res.Body.Close()
	if err := readJSONStream(res.Body, log); err != nil {
		return "", fmt.Errorf("harness image %s: build: %w", tag, err)
	}
	if ok, err := imageExists(ctx, cli.Client, tag); err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("harness image %s: build finished but the tag does not exist", tag)
	}
	fmt.Fprintf(log, "built %s in %s\n", tag, time.Since(start).Round(time.Millisecond))
	pruneImages(ctx, cli.Client, tag, log, LabelImage+"=harness")
	return tag, nil
}

// pruneImages removes the images with all of labels ("key=value") but
// keep: the harness images of earlier binaries (one per build of the
// harness), the base images made from earlier versions of the host's
// packages (one per upgrade), which would otherwise pile up. An image a
// container still uses, or that others are built on, is refused by the
// engine and kept, and images less than an hour old are left to runs that
// may be starting at the same time.
func pruneImages(ctx context.Context, cli *client.Client, keep string, log io.Writer, labels ...string) {
	list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", labels...)})
	if err != nil {
		return
	}
	for _, img := range list.Items {
		if slices.Contains(img.RepoTags, keep) || time.Since(time.Unix(img.Created, 0)) < time.Hour {
			continue
		}
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err == nil {
			fmt.Fprintf(log, "removed the older image %v\n", img.RepoTags)
		}
	}
}

// checkStatic returns an error unless path is an ELF executable with no
// program interpreter (PT_INTERP) and no shared library dependency
// (DT_NEEDED).
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: not a readable ELF file: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s is dynamically linked (has an ELF interpreter): build it with CGO_ENABLED=0", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("binary %s: read dynamic section: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("binary %s is dynamically linked (needs %s): build it with CGO_ENABLED=0", path, strings.Join(libs, ", "))
	}
	return nil
}

// StaticBinary returns the path of a static build of the harness (or of
// another command of the module, pkg): exe itself if it is static, else a
// `CGO_ENABLED=0 go build <pkg>` of moduleRoot (the module around the
// working directory when it is empty; pkg such as "./cmd/harness"), named
// after pkg's last element, built once into the user's cache folder under a hash of
// the source tree and the toolchain, and reused while neither changes. The
// cache keeps the few most recent builds; callers must not remove the file.
// A build says so on log (which may be nil).
func StaticBinary(ctx context.Context, exe, moduleRoot, pkg string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if exe != "" && checkStatic(exe) == nil {
		return exe, nil
	}
	goTool, err := GoTool()
	if err != nil {
		return "", fmt.Errorf("%s is not a static binary and %w to build one (install Go, or build the harness with CGO_ENABLED=0)", exe, err)
	}
	if moduleRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("static binary: %w", err)
		}
		if moduleRoot, err = module.Root(wd); err != nil {
			return "", fmt.Errorf("%s is not a static binary, and there is no source tree to build one from (%v); build the harness with CGO_ENABLED=0", exe, err)
		}
	}
	key, err := sourceKey(moduleRoot, "pkg="+pkg, "go="+toolchainID(goTool),
		"GOFLAGS="+os.Getenv("GOFLAGS"), "GOEXPERIMENT="+os.Getenv("GOEXPERIMENT"), "GOAMD64="+os.Getenv("GOAMD64"))
	if err != nil {
		return "", fmt.Errorf("static binary: %w", err)
	}
	out, err := CachedBuild(ctx, "bin", key, path.Base(pkg), checkStatic, log, func(ctx context.Context, tmp string) error {
		fmt.Fprintf(log, "building a static %s: CGO_ENABLED=0 go build %s in %s (once per source tree)\n", path.Base(pkg), pkg, moduleRoot)
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", tmp, pkg)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("CGO_ENABLED=0 go build %s in %s: %w: %s", pkg, moduleRoot, err, strings.TrimSpace(string(b)))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("static binary: %w", err)
	}
	return out, nil
}

// GoTool is the go command: go in PATH, else $GOROOT/bin/go.
func GoTool() (string, error) {
	goTool, err := exec.LookPath("go")
	if err == nil {
		return goTool, nil
	}
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		goTool = filepath.Join(goroot, "bin", "go")
		if _, err := os.Stat(goTool); err == nil {
			return goTool, nil
		}
	}
	return "", errors.New("no go toolchain is installed (none in PATH or $GOROOT/bin)")
}

// toolchainID names the go command at goTool as a cache key part: a new
// toolchain installed in the same place is another key.
func toolchainID(goTool string) string {
	if fi, err := os.Stat(goTool); err == nil {
		return fmt.Sprintf("%s %d %d", goTool, fi.Size(), fi.ModTime().UnixNano())
	}
	return goTool
}

// CachedBuild returns the path of file name in the entry key of this
// package's cache folder sub, made by build (which writes the file at the
// path it is given) once per key and reused while valid accepts it. A
// concurrent caller with the same key waits for the build. The cache keeps
// the few most recently used entries; callers must not remove the file.
func CachedBuild(ctx context.Context, sub, key, name string, valid func(string) error, log io.Writer, build func(ctx context.Context, tmp string) error) (string, error) {
	if log == nil {
		log = io.Discard
	}
	cache, err := cacheDir(sub)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, key)
	out := filepath.Join(dir, name)
	if valid(out) == nil {
		touch(dir)
		return out, nil
	}
	// One build per key: a concurrent caller waits, then finds the file.
	unlock, err := lockFile(ctx, dir+".lock", log)
	if err != nil {
		return "", err
	}
	defer unlock()
	if valid(out) == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache entry: %w", err)
	}
	// Built beside its final name and renamed, so that a reader never sees
	// half a file.
	tmp := filepath.Join(dir, fmt.Sprintf(".%s-%d", name, os.Getpid()))
	start := time.Now()
	if err := build(ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	if err := valid(tmp); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("cache entry: %w", err)
	}
	pruneCache(cache, key, 3)
	fmt.Fprintf(log, "built %s in %s\n", out, time.Since(start).Round(time.Millisecond))
	return out, nil
}

// touch marks a cache entry as used now, for pruneCache.
func touch(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}
