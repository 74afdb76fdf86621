package sensor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const gitCommitScript = "git init -q && git add . && git -c user.name=a -c user.email=a@b commit -qm x"

// BenchmarkGitCommit300 compares a 300-file git commit traced and untraced.
func BenchmarkGitCommit300(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	// A git config outside the tree must not change what is measured.
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	root := b.TempDir()
	var seq int
	// setup makes a fresh tree outside the timer and removes the previous
	// one, so the file system does not fill up across iterations.
	setup := func(b *testing.B) string {
		b.StopTimer()
		defer b.StartTimer()
		if seq > 0 {
			os.RemoveAll(filepath.Join(root, strconv.Itoa(seq)))
		}
		seq++
		dir := filepath.Join(root, strconv.Itoa(seq))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range 300 {
			name := filepath.Join(dir, fmt.Sprintf("file%03d.txt", i))
			if err := os.WriteFile(name, fmt.Appendf(nil, "content of file %d\n", i), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		return dir
	}
	b.Run("untraced", func(b *testing.B) {
		for b.Loop() {
			dir := setup(b)
			cmd := exec.Command("sh", "-c", gitCommitScript)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	b.Run("traced", func(b *testing.B) {
		var files int
		for b.Loop() {
			dir := setup(b)
			code, err := Run(context.Background(), Config{
				Argv: []string{"sh", "-c", gitCommitScript}, Dir: dir, Env: env,
				Stdout: os.Stderr, Stderr: os.Stderr,
			}, func(o Observation) {
				if o.Kind == KindFile {
					files++
				}
			})
			if err != nil || code != 0 {
				b.Fatalf("traced git commit: code %d, %v", code, err)
			}
		}
		b.ReportMetric(float64(files)/float64(b.N), "files/op")
	})
}
