// Package module finds the source tree of this Go module, for building the
// harness from source (container images) and for tests.
package module

import (
	"errors"
	"os"
	"path/filepath"
)

// Root is the nearest folder at or above dir holding go.mod.
func Root(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod at or above " + dir)
		}
	}
}
