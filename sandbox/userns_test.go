package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWhyNoUserNamespace: the reason names the kernel setting that keeps
// user namespaces off where one does, else what failed.
func TestWhyNoUserNamespace(t *testing.T) {
	forked := func(errno syscall.Errno) error { return &fs.PathError{Op: "fork/exec", Path: "/h", Err: errno} }
	on := fstest.MapFS{"user/max_user_namespaces": {Data: []byte("96365\n")}}
	for _, tc := range []struct {
		name string
		sys  fstest.MapFS
		err  error
		want string
	}{
		{"limit 0", fstest.MapFS{"user/max_user_namespaces": {Data: []byte("0\n")}}, forked(syscall.ENOSPC), "user namespaces are off (user.max_user_namespaces is 0)"},
		{"Debian's switch", fstest.MapFS{"kernel/unprivileged_userns_clone": {Data: []byte("0\n")}}, forked(syscall.EPERM), "unprivileged user namespaces are off (kernel.unprivileged_userns_clone is 0)"},
		{"AppArmor", fstest.MapFS{"kernel/apparmor_restrict_unprivileged_userns": {Data: []byte("1\n")}}, errors.New("exit status 125"), "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1): failed"},
		{"seccomp", on, forked(syscall.EPERM), "creating one is not permitted (a seccomp filter, such as a container's, may forbid it): failed"},
		{"limit reached", on, forked(syscall.ENOSPC), "the limit of user namespaces is reached (user.max_user_namespaces): failed"},
		{"no user namespaces", fstest.MapFS{}, forked(syscall.EINVAL), "the kernel has no user namespaces: failed"},
		{"something else", on, errors.New("exit status 125"), "making one failed: failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, whyNoUserNamespace(tc.sys, "failed", tc.err))
		})
	}
}

// TestProbeUserNamespace: the probe makes a sandbox in a user namespace
// (as root here, whose own id it maps) and says in one line why it
// cannot where it cannot.
func TestProbeUserNamespace(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, ProbeUserNamespace(context.Background(), exe))

	// A binary that is no sandbox's first process fails the probe.
	err = ProbeUserNamespace(context.Background(), "/bin/false")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), fmt.Sprintf("as uid %d the network sandbox needs a user namespace of its own, and ", os.Geteuid()))
	assert.True(t, strings.HasSuffix(err.Error(), "; run as root or pass --no-sandbox"), err.Error())
}
