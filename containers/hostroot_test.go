//go:build linux

package containers

import (
	"bytes"
	"context"
	"io"
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
