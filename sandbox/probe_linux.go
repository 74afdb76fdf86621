package sandbox

import (
	"fmt"
	"os"
)

// Available says why this process cannot confine tests, or nil when it
// can: it needs to create network, mount, UTS and PID namespaces, which
// takes root (CAP_SYS_ADMIN and CAP_NET_ADMIN), the machine's or a user
// namespace's (see [NeedsUserNamespace]).
func Available() error {
	if NeedsUserNamespace() {
		return fmt.Errorf("the network sandbox needs root, or this process started again as root of a user namespace of its own (harness run does that); pass --no-sandbox")
	}
	for _, ns := range []string{"net", "mnt", "uts", "pid"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("the kernel has no %s namespaces: %w", ns, err)
		}
	}
	n, err := newNet()
	if err != nil {
		return fmt.Errorf("cannot create a network namespace (%w); pass --no-sandbox", err)
	}
	n.Close()
	return nil
}
