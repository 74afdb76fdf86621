//go:build linux

package containers

import (
	"archive/tar"
	"bufio"
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
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait, which it says on log (another process is building what the
// lock guards). The returned func releases it.
func lockFile(ctx context.Context, path string, log io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			fmt.Fprintf(log, "waiting for another process's build to finish (it holds %s)\n", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// runDebootstrap runs debootstrap in its own process group, so that
// cancelling ctx kills it and the dpkg/chroot processes it started.
func runDebootstrap(ctx context.Context, path string, args []string, log io.Writer) error {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// removeRootfs unmounts whatever a failed or killed debootstrap left
// mounted under dir (proc, sys...), then removes dir. Removing without
// unmounting could walk into the host's /proc or /sys.
func removeRootfs(dir string) {
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
		// Deepest first.
		slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
		if len(mounts) > 0 {
			return // leave it rather than risk it; a rare, small leak in $TMPDIR
		}
	}
	_ = os.RemoveAll(dir)
}

// writeRootfsTar writes the tree at root as a tar stream suitable for an
// image import: numeric owners, hard links kept, and the contents of /dev,
// /proc and /sys left out (the runtime provides them).
func writeRootfsTar(ctx context.Context, w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	links := map[inode]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if parent, _, _ := strings.Cut(rel, "/"); strings.Contains(rel, "/") &&
			(parent == "dev" || parent == "proc" || parent == "sys") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		_, err = writeTarEntry(tw, path, rel, info, links)
		return err
	})
	if err != nil {
		return fmt.Errorf("tar rootfs: %w", err)
	}
	return tw.Close()
}

// inode identifies a file, to keep hard links linked in a tar.
type inode struct{ dev, ino uint64 }

// writeTarEntry writes the file at path (as lstat describes it in info)
// under the name rel: numeric owners, a hard link to the first name of
// an inode seen before in links, sockets and devices left out. It returns
// the bytes of content written.
func writeTarEntry(tw *tar.Writer, path, rel string, info fs.FileInfo, links map[inode]string) (int64, error) {
	if info.Mode()&(fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice|fs.ModeIrregular) != 0 {
		return 0, nil
	}
	var target string
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if target, err = os.Readlink(path); err != nil {
			return 0, err
		}
	}
	hdr, err := tar.FileInfoHeader(info, target)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", rel, err)
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if info.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, seen := links[key]; seen {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
				return 0, tw.WriteHeader(hdr)
			}
			links[key] = rel
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, fmt.Errorf("%s: %w", rel, err)
	}
	if !info.Mode().IsRegular() {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err != nil {
		return n, fmt.Errorf("%s: %w", rel, err)
	}
	return n, nil
}
