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
		if err := importRootfs(ctx, cli.Client, rootfs, tag, baseKey(), io.Discard); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
