// Package reftest finds what the tests read from outside the module: the
// public reference corpus ($HARNESS_REFERENCE, default ../shared/reference
// beside the module root) and the module root itself.
package reftest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/t1567001/harness/internal/module"
)

// ModuleRoot is the nearest folder above the working directory holding
// go.mod.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("working directory: %v", err)
	}
	root, err := module.Root(wd)
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// Lookup returns the reference corpus folder joined with sub, and whether
// it exists.
func Lookup(tb testing.TB, sub ...string) (string, bool) {
	tb.Helper()
	ref := os.Getenv("HARNESS_REFERENCE")
	if ref == "" {
		ref = filepath.Join(ModuleRoot(tb), "..", "shared", "reference")
	}
	dir := filepath.Join(append([]string{ref}, sub...)...)
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Dir is Lookup that skips the test, saying why, when the folder is absent.
func Dir(tb testing.TB, sub ...string) string {
	tb.Helper()
	dir, ok := Lookup(tb, sub...)
	if !ok {
		tb.Skipf("reference corpus not found at %s; set HARNESS_REFERENCE", dir)
	}
	return dir
}

// Seed returns the path of a seed document: beside the reference corpus
// ($HARNESS_REFERENCE/../seed, where the shared folder is checked out in
// CI), else ../shared/seed beside the module root. It skips the test,
// naming every place looked at, when the file is in neither.
func Seed(tb testing.TB, name string) string {
	tb.Helper()
	var tried []string
	if ref := os.Getenv("HARNESS_REFERENCE"); ref != "" {
		tried = append(tried, filepath.Join(filepath.Dir(filepath.Clean(ref)), "seed", name))
	}
	tried = append(tried, filepath.Join(ModuleRoot(tb), "..", "shared", "seed", name))
	for _, p := range tried {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	tb.Skipf("seed document %s not found at %v; set HARNESS_REFERENCE to the shared/reference folder", name, tried)
	return ""
}
