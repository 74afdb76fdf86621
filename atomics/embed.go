package atomics

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
)

// Embedded is the harness's own T1567.001 file, so the binary runs its
// atomics from anywhere.
//
//go:embed T1567.001.yaml
var Embedded []byte

// EmbeddedFS holds the atomics files a default run runs: T1567.001 and
// the neighbouring technique the seeds' analytics also catch (T1567.003).
// Other files here (T1567.001-elastic.yaml) run with --atomics.
//
//go:embed T1567.001.yaml T1567.003.yaml
var EmbeddedFS embed.FS

// LoadEmbedded loads every file of EmbeddedFS, in name order.
func LoadEmbedded() ([]*Technique, error) {
	names, err := fs.Glob(EmbeddedFS, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("embedded atomics: %w", err)
	}
	var out []*Technique
	for _, n := range names {
		data, err := EmbeddedFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("embedded atomics: %w", err)
		}
		t, err := Load(path.Join("atomics", n), data)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
