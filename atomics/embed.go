package atomics

import (
	"embed"
	"fmt"
)

// Embedded is the harness's own T1567.001 file, so the binary runs its
// atomics from anywhere.
//
//go:embed T1567.001.yaml
var Embedded []byte

//go:embed T1567.001.yaml T1567.001-variants.yaml T1567.001-benign.yaml T1567.002.yaml T1567.003.yaml
var embedded embed.FS

// EmbeddedFiles are the files a run loads by default, in order: the
// atomics, their variants and the benign look-alikes, the cloud storage
// upload (T1567.002, rclone to S3) and the text storage site upload the
// seeds' analytics also catch (T1567.003).
var EmbeddedFiles = []string{"T1567.001.yaml", "T1567.001-variants.yaml", "T1567.001-benign.yaml", "T1567.002.yaml", "T1567.003.yaml"}

// LoadEmbedded loads EmbeddedFiles; errors name the file as
// atomics/<name>.
func LoadEmbedded() ([]*Technique, error) {
	out := make([]*Technique, 0, len(EmbeddedFiles))
	for _, name := range EmbeddedFiles {
		data, err := embedded.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("embedded atomics: %w", err)
		}
		t, err := Load("atomics/"+name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
