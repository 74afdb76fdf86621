//go:build linux

package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBaseImageFromHost builds the base image from the host's packages for
// real, under a tag of its own (removed afterwards), and runs the atomics'
// tools inside it, with no network.
func TestBaseImageFromHost(t *testing.T) {
	needDocker(t)
	t.Setenv(CacheEnv, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	host, err := planHostBase(ctx, baseSuite, basePackages, baseKey())
	if err != nil {
		t.Skipf("needs a Debian %s host with the recipe's packages installed (%v): apt-get install -y %v", baseSuite, err, basePackages)
	}
	cli, err := dockerClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	tag := "t1567-harness/base-test:" + randomHex()
	t.Cleanup(func() {
		_, err := cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		assert.NoError(t, err, "remove %s", tag)
	})
	var log bytes.Buffer
	start := time.Now()
	write := func(w io.Writer) error { return host.writeTar(ctx, w, &log) }
	require.NoError(t, importTar(ctx, cli.Client, tag, host.key, fromHost, write, &log), log.String())
	t.Logf("built %s from the host's packages in %s:\n%s", tag, time.Since(start).Round(time.Millisecond), log.String())
	assert.Contains(t, log.String(), "paths listed by dpkg for")
	assert.Contains(t, log.String(), "MB streamed in")

	img, err := cli.ImageInspect(ctx, tag)
	require.NoError(t, err)
	assert.Equal(t, fromHost, img.Config.Labels[LabelImage+".from"])
	assert.Equal(t, host.key, img.Config.Labels[LabelImage+".key"])

	env := newEnv(t)
	c := startSleeper(t, env, Spec{Name: "tools", Image: tag, Isolated: true})
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"git", []string{"git", "--version"}, "git version"},
		{"curl", []string{"curl", "--version"}, "OpenSSL"},
		{"wget", []string{"wget", "--version"}, "+https"},
		{"python3 ssl", []string{"python3", "-c", "import ssl, urllib.request; print(ssl.OPENSSL_VERSION)"}, "OpenSSL"},
		{"python3 requests", []string{"python3", "-c", "import requests; print('requests', requests.__version__)"}, "requests 2"},
		{"pip", []string{"python3", "-m", "pip", "--version"}, "pip "},
		{"rclone", []string{"rclone", "version"}, "rclone v"},
		{"ruby net/http", []string{"ruby", "-rnet/http", "-ropenssl", "-rjson", "-rbase64", "-e", "puts OpenSSL::OPENSSL_VERSION"}, "OpenSSL"},
		{"node https", []string{"node", "-e", `require("https"); console.log("node", process.version)`}, "node v"},
		{"perl TLS", []string{"perl", "-MIO::Socket::SSL", "-MHTTP::Tiny", "-MMIME::Base64", "-e", `print HTTP::Tiny->can_ssl ? "ssl ok\n" : "no ssl\n"`}, "ssl ok"},
		{"openssl", []string{"openssl", "version"}, "OpenSSL"},
		{"ssh", []string{"sh", "-c", "ssh -V 2>&1"}, "OpenSSH_"},
		{"ssh-keygen", []string{"sh", "-c", "command -v ssh-keygen"}, "/usr/bin/ssh-keygen"},
		{"node trusts the system store", []string{"sh", "-c", "echo $NODE_EXTRA_CA_CERTS"}, SystemCABundlePath},
		{"awk by its alternative", []string{"sh", "-c", "echo a b | awk '{print $2}'"}, "b"},
		{"procps", []string{"ps", "-e", "-o", "comm="}, "sleep"},
		{"users", []string{"id", "root"}, "uid=0(root) gid=0(root)"},
		{"sticky /tmp", []string{"stat", "-c", "%a", "/tmp"}, "1777"},
		{"CA links", []string{"openssl", "verify", "-CApath", "/etc/ssl/certs", "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"}, ": OK"},
		{"dpkg knows its packages", []string{"dpkg-query", "-W", "-f", "${Package} ${Status}\n", "git"}, "git install ok installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, ctx, c, tc.argv...)
			require.Equal(t, 0, code, "%v: %s%s", tc.argv, stdout, stderr)
			assert.Contains(t, stdout, tc.want)
		})
	}
	// The bundle holds the packaged CAs only, not the host's local ones.
	_, stdout, _ := run(t, ctx, c, "sh", "-c", "grep -c 'BEGIN CERTIFICATE' "+SystemCABundlePath)
	assert.Regexp(t, `^1[0-9]{2}\n$`, stdout, "a Debian bookworm bundle holds 100-odd CAs")
}

func TestChooseBase(t *testing.T) {
	ctx := context.Background()
	_, hostErr := planHostBase(ctx, baseSuite, basePackages, baseKey())
	for _, env := range []string{"", "auto", "host", "debootstrap", "bogus"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(BaseFromEnv, env)
			way, err := chooseBase(ctx)
			switch {
			case env == "bogus":
				require.Error(t, err)
				assert.Contains(t, err.Error(), "want host, debootstrap or auto")
			case env == "debootstrap" || (hostErr != nil && env != "host"):
				require.NoError(t, err)
				assert.Equal(t, fromDebootstrap, way.from)
				assert.Equal(t, baseKey(), way.key)
				assert.Nil(t, way.host)
			case hostErr != nil:
				require.Error(t, err, "host forced where the host cannot")
				assert.Contains(t, err.Error(), hostErr.Error())
			default:
				require.NoError(t, err)
				assert.Equal(t, fromHost, way.from)
				require.NotNil(t, way.host)
				assert.NotEqual(t, baseKey(), way.key, "the host's key includes the installed versions")
			}
		})
	}
}

// TestHostRootfsTar reads the tar the host way streams, without Docker:
// real paths only (the usr-merged folders as links), folders before what
// they hold, alternatives linked, the maintainer scripts' files made, and
// nothing of the host's own (documentation, local CAs). A small recipe
// (git: a third of the image's bytes), for time under -race.
func TestHostRootfsTar(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host, err := planHostBase(ctx, baseSuite, []string{"ca-certificates", "git"}, "test")
	if err != nil {
		t.Skipf("needs a Debian %s host with git and ca-certificates installed (%v)", baseSuite, err)
	}
	pr, pw := io.Pipe()
	var log bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := host.writeTar(ctx, pw, &log)
		pw.CloseWithError(err)
		done <- err
	}()
	tr := tar.NewReader(pr)
	seen := map[string]*tar.Header{}
	content := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		name := strings.TrimSuffix(hdr.Name, "/")
		require.NotContains(t, seen, name, "one entry a path")
		if dir := path.Dir(name); dir != "." {
			require.Contains(t, seen, dir, "%s comes after its folder", name)
			assert.Equal(t, byte(tar.TypeDir), seen[dir].Typeflag, "%s: its folder is a real folder", name)
		}
		assert.False(t, strings.HasPrefix(name, "usr/share/doc/"), "%s: documentation is left out", name)
		seen[name] = hdr
		switch name {
		case "etc/passwd", "var/lib/dpkg/status", strings.TrimPrefix(SystemCABundlePath, "/"):
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			content[name] = string(b)
		}
	}
	require.NoError(t, <-done)
	t.Logf("%d entries:\n%s", len(seen), log.String())

	if fi, err := os.Lstat("/bin"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		require.Contains(t, seen, "bin")
		assert.Equal(t, byte(tar.TypeSymlink), seen["bin"].Typeflag)
		assert.Equal(t, "usr/bin", seen["bin"].Linkname)
	}
	for _, name := range []string{"usr/bin/git", "usr/bin/perl", "usr/bin/awk", "etc/alternatives/awk", "usr/bin/sh", "usr/bin/dash", "etc/ld.so.cache", "etc/nsswitch.conf"} {
		assert.Contains(t, seen, name)
	}
	assert.Equal(t, byte(tar.TypeDir), seen["tmp"].Typeflag)
	assert.Equal(t, int64(0o1777), seen["tmp"].Mode)
	assert.True(t, strings.HasPrefix(content["etc/passwd"], "root:"), content["etc/passwd"])
	assert.Contains(t, content["var/lib/dpkg/status"], "Package: git\n")
	assert.NotContains(t, content["var/lib/dpkg/status"], "Package: debootstrap\n", "only the image's packages")
	bundle := content[strings.TrimPrefix(SystemCABundlePath, "/")]
	assert.Contains(t, bundle, "-----BEGIN CERTIFICATE-----")
	local, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	for _, f := range local {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, bundle, strings.TrimSpace(string(b)), "%s is the host's own CA", f)
	}
}

func TestLockFileSaysItWaits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "build.lock")
	var log bytes.Buffer
	unlock, err := lockFile(context.Background(), path, &log)
	require.NoError(t, err)
	assert.Empty(t, log.String(), "a free lock is taken without a word")

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = lockFile(ctx, path, &log)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, strings.Count(log.String(), "waiting for another process's build to finish"), log.String())

	unlock()
	unlock, err = lockFile(context.Background(), path, &log)
	require.NoError(t, err)
	unlock()
}
