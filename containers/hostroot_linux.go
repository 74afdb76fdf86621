//go:build linux

package containers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// hostRecipeVersion is bumped when the way a root filesystem is made from
// the host's packages changes (what is copied or synthesized).
const hostRecipeVersion = "1"

// planHostBase returns the host base of recipe (package names), or an
// error saying why the host cannot provide it: not Debian suite, no dpkg,
// a recipe package not installed, a dependency unsatisfied.
func planHostBase(ctx context.Context, suite string, recipe []string, recipeKey string) (*hostBase, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		if b, err = os.ReadFile("/usr/lib/os-release"); err != nil {
			return nil, fmt.Errorf("read os-release: %w", err)
		}
	}
	if id, codename := osRelease(b); id != "debian" || codename != suite {
		return nil, fmt.Errorf("the host is %s %s, not debian %s", id, codename, suite)
	}
	arch, err := exec.CommandContext(ctx, "dpkg", "--print-architecture").Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg --print-architecture: %w", err)
	}
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f="+dpkgQueryFormat).Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-query -W: %w", err)
	}
	db, err := parseInstalled(out, strings.TrimSpace(string(arch)))
	if err != nil {
		return nil, err
	}
	pkgs, err := db.closure(recipe)
	if err != nil {
		return nil, err
	}
	parts := []string{recipeKey, "from=host", "host-recipe=" + hostRecipeVersion}
	for _, p := range pkgs {
		parts = append(parts, p.Spec()+"="+p.Version)
	}
	return &hostBase{pkgs: pkgs, key: shortHash(parts...)}, nil
}

// rootEntry is one entry of the root filesystem: a host path copied as it
// is (lstat: symlinks stay links), or a header with data made here.
type rootEntry struct {
	host string
	hdr  *tar.Header
	data []byte
}

// docPrefixes are left out of the image: documentation and translations
// no atomic reads.
var docPrefixes = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian"}

// writeTar streams the root filesystem as a tar (for an image import):
// every file dpkg lists for the packages, at its real path (the usr-merged
// /bin, /lib... are links), their parent folders, the alternatives' links
// that point into them, the CA links, and what the maintainer scripts
// would have made (passwd, group, nsswitch.conf, the CA bundle, the ld.so
// cache, dpkg's status). Progress, one line a phase, goes to log.
func (h *hostBase) writeTar(ctx context.Context, w io.Writer, log io.Writer) error {
	specs := make([]string, len(h.pkgs))
	keep := map[string]bool{}
	for i, p := range h.pkgs {
		specs[i] = p.Spec()
		keep[p.Spec()] = true
	}
	out, err := exec.CommandContext(ctx, "dpkg-query", append([]string{"-L"}, specs...)...).Output()
	if err != nil {
		return fmt.Errorf("dpkg-query -L: %w", err)
	}
	entries := map[string]rootEntry{}
	resolved := map[string]string{} // host folder -> its real path
	realPath := func(p string) (string, bool) {
		dir, base := filepath.Split(filepath.Clean(p))
		rdir, ok := resolved[dir]
		if !ok {
			r, err := filepath.EvalSymlinks(dir)
			if err != nil {
				r = ""
			}
			resolved[dir], rdir = r, r
		}
		if rdir == "" {
			return "", false
		}
		return filepath.Join(rdir, base), true
	}
	var listed, missing, docs int
	addHost := func(p string) {
		real, ok := realPath(p)
		if !ok || real == "/" {
			return
		}
		rel := strings.TrimPrefix(real, "/")
		for _, d := range docPrefixes {
			if rel == d || strings.HasPrefix(rel, d+"/") {
				docs++
				return
			}
		}
		if _, err := os.Lstat(real); err != nil {
			missing++
			return
		}
		entries[rel] = rootEntry{host: real}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// "package diverts others to: /bin/sh.distrib": the diverted file
		// is this package's too.
		if _, to, ok := strings.Cut(line, "diverts others to: "); ok {
			line = to
		}
		if strings.HasPrefix(line, "/") {
			listed++
			addHost(line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dpkg-query -L output: %w", err)
	}
	fmt.Fprintf(log, "base image from the host: %d paths listed by dpkg for %d packages, %d to copy (%d docs left out, %d listed but absent)\n",
		listed, len(h.pkgs), len(entries), docs, missing)

	// The usr-merge links, which no package lists.
	for _, top := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if fi, err := os.Lstat("/" + top); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			entries[top] = rootEntry{host: "/" + top}
		}
	}
	// Alternatives (/usr/bin/awk -> /etc/alternatives/awk -> mawk) whose
	// choice is in the image, and the CA links into the packaged
	// certificates (not a host's local CA).
	for _, dir := range []struct{ dir, within string }{
		{"/etc/alternatives", ""},
		{"/etc/ssl/certs", "/usr/share/ca-certificates/"},
	} {
		des, _ := os.ReadDir(dir.dir)
		for _, de := range des {
			if de.Type()&fs.ModeSymlink == 0 {
				continue
			}
			link := filepath.Join(dir.dir, de.Name())
			target, err := filepath.EvalSymlinks(link)
			if err != nil || !strings.HasPrefix(target, dir.within) {
				continue
			}
			if _, ok := entries[strings.TrimPrefix(target, "/")]; ok {
				entries[strings.TrimPrefix(link, "/")] = rootEntry{host: link}
			}
		}
	}
	// The links to those alternatives (/usr/bin/awk), which
	// update-alternatives made.
	des, _ := os.ReadDir("/var/lib/dpkg/alternatives")
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join("/var/lib/dpkg/alternatives", de.Name()))
		if err != nil {
			continue
		}
		for name, link := range alternativeLinks(de.Name(), b) {
			if _, ok := entries["etc/alternatives/"+name]; ok {
				addHost(link)
			}
		}
	}
	if err := addSynthesized(entries, keep); err != nil {
		return err
	}
	// Every parent folder, as it is on the host.
	for rel := range entries {
		for dir := filepath.Dir(rel); dir != "."; dir = filepath.Dir(dir) {
			if _, ok := entries[dir]; ok {
				break
			}
			entries[dir] = rootEntry{host: "/" + dir}
		}
	}
	return writeRootEntries(ctx, w, entries, log)
}

// writeRootEntries writes entries as a tar, by name (so a folder comes
// before what it holds), saying every few seconds how far it is.
func writeRootEntries(ctx context.Context, w io.Writer, entries map[string]rootEntry, log io.Writer) error {
	names := make([]string, 0, len(entries))
	for rel := range entries {
		names = append(names, rel)
	}
	slices.Sort(names)

	tw := tar.NewWriter(w)
	links := map[inode]string{}
	start, last := time.Now(), time.Now()
	var files, bytesOut int64
	for i, rel := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e := entries[rel]
		var n int64
		if e.host != "" {
			info, err := os.Lstat(e.host)
			if err != nil {
				return fmt.Errorf("tar %s: %w", e.host, err)
			}
			if n, err = writeTarEntry(tw, e.host, rel, info, links); err != nil {
				return err
			}
		} else {
			e.hdr.Name = rel
			if e.hdr.Typeflag == tar.TypeDir {
				e.hdr.Name += "/"
			}
			e.hdr.Size = int64(len(e.data))
			if err := tw.WriteHeader(e.hdr); err != nil {
				return fmt.Errorf("tar %s: %w", rel, err)
			}
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("tar %s: %w", rel, err)
			}
			n = int64(len(e.data))
		}
		files++
		bytesOut += n
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(log, "base image from the host: %d/%d entries, %d MB streamed\n", i+1, len(names), bytesOut>>20)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	fmt.Fprintf(log, "base image from the host: %d entries, %d MB streamed in %s\n", files, bytesOut>>20, time.Since(start).Round(time.Millisecond))
	return nil
}

// addSynthesized adds what maintainer scripts and debootstrap make rather
// than unpack, made here from packaged data rather than copied from the
// host's /etc (which holds the host's users and local CAs).
func addSynthesized(entries map[string]rootEntry, keep map[string]bool) error {
	now := time.Now()
	file := func(mode int64, data []byte) rootEntry {
		return rootEntry{hdr: &tar.Header{Typeflag: tar.TypeReg, Mode: mode, ModTime: now, Format: tar.FormatPAX}, data: data}
	}
	dir := func(mode int64) rootEntry {
		return rootEntry{hdr: &tar.Header{Typeflag: tar.TypeDir, Mode: mode, ModTime: now, Format: tar.FormatPAX}}
	}
	for _, f := range []struct{ name, master string }{
		{"etc/passwd", "/usr/share/base-passwd/passwd.master"},
		{"etc/group", "/usr/share/base-passwd/group.master"},
	} {
		b, err := os.ReadFile(f.master)
		if err != nil {
			return fmt.Errorf("base image from the host: %w", err)
		}
		entries[f.name] = file(0o644, b)
	}
	entries["etc/nsswitch.conf"] = file(0o644, []byte(
		"passwd: files\ngroup: files\nshadow: files\ngshadow: files\nhosts: files dns\nnetworks: files\n"+
			"protocols: db files\nservices: db files\nethers: db files\nrpc: db files\n"))
	bundle, err := caBundle("/etc/ca-certificates.conf", "/usr/share/ca-certificates")
	if err != nil {
		return fmt.Errorf("base image from the host: %w", err)
	}
	entries[strings.TrimPrefix(SystemCABundlePath, "/")] = file(0o644, bundle)
	// The host's cache names the same paths for the libraries the image
	// holds; the loader searches the default folders for a name it lacks.
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		entries["etc/ld.so.cache"] = rootEntry{host: "/etc/ld.so.cache"}
	}
	if status, err := os.ReadFile("/var/lib/dpkg/status"); err == nil {
		entries["var/lib/dpkg/status"] = file(0o644, filterStatus(status, keep))
	}
	for name, mode := range map[string]int64{
		"tmp": 0o1777, "var/tmp": 0o1777, "root": 0o700, "home": 0o755,
		"proc": 0o555, "sys": 0o555, "dev": 0o755, "run": 0o755,
	} {
		entries[name] = dir(mode)
	}
	return nil
}

// caBundle concatenates the packaged certificates conf enables (what
// update-ca-certificates writes, less the host's local CAs).
func caBundle(conf, root string) ([]byte, error) {
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	var out bytes.Buffer
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(root, line))
		if errors.Is(err, fs.ErrNotExist) {
			continue // as update-ca-certificates: a stale line is ignored
		} else if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		out.Write(bytes.TrimSpace(pem))
		out.WriteByte('\n')
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("CA bundle: %s enables no certificate under %s", conf, root)
	}
	return out.Bytes(), nil
}
