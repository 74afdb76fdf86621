package executor

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeExec(t *testing.T, path, script string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
}

func TestResolveShims(t *testing.T) {
	home := t.TempDir()
	root := filepath.Join(home, ".pyenv")
	writeExec(t, filepath.Join(root, "shims", "python3"), "#!/bin/sh\nexit 99\n")
	v1, v2 := filepath.Join(root, "versions", "3.11"), filepath.Join(root, "versions", "2.7")
	writeExec(t, filepath.Join(v1, "bin", "python3"), "#!/bin/sh\nexit 0\n")
	require.NoError(t, os.MkdirAll(filepath.Join(v2, "bin"), 0o755))
	// Two selected versions, as `pyenv prefix` prints them.
	writeExec(t, filepath.Join(root, "libexec", "pyenv"), "#!/bin/sh\n[ \"$1\" = prefix ] && echo '"+v1+":"+v2+"'\n")
	// A shims folder of no manager we know stays.
	other := filepath.Join(home, "tool", "shims")
	require.NoError(t, os.MkdirAll(other, 0o755))

	tests := []struct {
		name, path, want string
	}{
		{"pyenv shims replaced in place", "/usr/bin:" + filepath.Join(root, "shims") + ":/bin",
			"/usr/bin:" + filepath.Join(v1, "bin") + ":" + filepath.Join(v2, "bin") + ":/bin"},
		{"no shims", "/usr/bin:/bin", "/usr/bin:/bin"},
		{"a selected version already on PATH stays where it is", filepath.Join(root, "shims") + ":" + filepath.Join(v2, "bin"),
			filepath.Join(v1, "bin") + ":" + filepath.Join(v2, "bin")},
		{"unknown manager", other + ":/bin", other + ":/bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"A=1", "PATH=" + tt.path}
			got := ResolveShims(context.Background(), env, home)
			assert.Equal(t, []string{"A=1", "PATH=" + tt.want}, got)
			assert.Equal(t, "PATH="+tt.path, env[1], "the caller's slice is not changed")
		})
	}

	// A manager that fails leaves the shims.
	writeExec(t, filepath.Join(root, "libexec", "pyenv"), "#!/bin/sh\nexit 1\n")
	env := []string{"PATH=" + filepath.Join(root, "shims")}
	assert.Equal(t, env, ResolveShims(context.Background(), env, home))
}

func TestLookUp(t *testing.T) {
	bin := t.TempDir()
	writeExec(t, filepath.Join(bin, "present"), "#!/bin/sh\n")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "notexec"), nil, 0o644))
	env := []string{"PATH=/nonexistent:" + bin + ":/usr/bin:/bin"}
	tools := []string{"present", "notexec", "absent", filepath.Join(bin, "present")}
	want := map[string]bool{"present": false, "notexec": true, "absent": true, filepath.Join(bin, "present"): false}

	// In process: no command runs, prereqs are left to the caller.
	missing, codes, ok := lookUp(context.Background(), nil, tools, []string{"true"}, bin, env)
	assert.Equal(t, want, missing)
	assert.Nil(t, codes)
	assert.True(t, ok)

	// Through a runner: one command for the tools and the prereqs.
	calls := 0
	counting := func(ctx context.Context, argv []string, dir string, env []string, stdout, stderr io.Writer) (int, error) {
		calls++
		return runCommand(ctx, argv, dir, env, stdout, stderr)
	}
	missing, codes, ok = lookUp(context.Background(), counting, tools, []string{"true", "exit 3", "false"}, bin, env)
	assert.Equal(t, 1, calls)
	assert.True(t, ok)
	for k, v := range want {
		assert.Equal(t, v, missing[k], k)
	}
	assert.Equal(t, []int{0, 3, 1}, codes)

	// A runner that fails: every tool missing, prereqs to be checked one by one.
	failing := func(context.Context, []string, string, []string, io.Writer, io.Writer) (int, error) {
		return -1, errors.New("no runner")
	}
	missing, codes, ok = lookUp(context.Background(), failing, []string{"present"}, []string{"true"}, bin, env)
	assert.True(t, missing["present"])
	assert.Nil(t, codes)
	assert.False(t, ok)
	assert.Nil(t, LookUpTools(context.Background(), Config{Runner: failing, BaseEnv: env}, []string{"present"}), "a failed lookup leaves each test to look up its own")
}
