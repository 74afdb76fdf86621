package containers

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// BenchmarkBaseImageFromCache is the cold start of container mode once the
// base root filesystem is in the user's cache: the engine has no base image
// and imports it from the cache (under a throwaway tag, so that the shared
// image is left alone). The first call fills the cache with debootstrap
// (network, minutes) outside the timer.
func BenchmarkBaseImageFromCache(b *testing.B) {
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		b.Skipf("no Docker engine answers: %v", err)
	}
	cache, err := cacheDir("rootfs")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	rootfs, err := cachedRootfs(ctx, cache, baseKey(), os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("cached root filesystem %s ready in %s", rootfs, time.Since(start).Round(time.Millisecond))
	cli, err := dockerClient(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	for b.Loop() {
		tag := "t1567-harness/base-bench:" + randomHex()
		write := func(w io.Writer) error { return writeRootfsTar(ctx, w, rootfs) }
		if err := importTar(ctx, cli.Client, tag, baseKey(), fromDebootstrap, write, io.Discard); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkBaseImageFromHost is the cold start of container mode on a
// Debian host with the recipe's packages installed: plan the closure, then
// stream the host's files into an image import (under a throwaway tag).
func BenchmarkBaseImageFromHost(b *testing.B) {
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		b.Skipf("no Docker engine answers: %v", err)
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	for b.Loop() {
		host, err := planHostBase(ctx, baseSuite, basePackages, baseKey())
		if err != nil {
			b.Skipf("the host cannot provide the base image: %v", err)
		}
		tag := "t1567-harness/base-bench:" + randomHex()
		write := func(w io.Writer) error { return host.writeTar(ctx, w, io.Discard) }
		if err := importTar(ctx, cli.Client, tag, host.key, fromHost, write, io.Discard); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
