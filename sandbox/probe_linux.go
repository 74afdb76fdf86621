package sandbox

import (
	"fmt"
	"os"
)

// Available says why this machine cannot confine tests, or nil when it can:
// it needs to create network, mount, UTS and PID namespaces, which takes
// root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the network sandbox needs root (namespaces, mounts); run as root or pass --no-sandbox")
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
