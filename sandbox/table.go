// Package sandbox confines each atomic test of a local run: the test's
// processes run in fresh network, mount, UTS and PID namespaces, where the
// served hosts' real-world addresses are held on an interface of their own
// and answered by the in-process emulator, names are resolved only by the
// emulator's DNS sinkhole, the run's CA is trusted as an enterprise
// TLS-inspection deployment makes it trusted, and no route leads anywhere
// else. When the test ends its PID namespace ends, and every process it
// left with it.
//
// The host-to-address table is data (addresses.yaml); [Net] builds one
// namespace from it, [Prepare] writes the files bind-mounted into each
// test's view of /etc, and [Init] is the PID namespace's first process,
// the harness binary re-executed ([MaybeInit]). That takes root: an
// ordinary user's harness runs as root of a user namespace of its own
// ([ProbeUserNamespace], [RunInUserNamespace]). Without the sandbox,
// [Reaped] still ends everything a test's command leaves.
package sandbox

import (
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"
)

//go:embed addresses.yaml
var defaultTable []byte

// Table says where each served host lives inside the sandbox.
type Table struct {
	// Resolver is the address of the DNS sinkhole, on the loopback
	// interface of the namespace.
	Resolver netip.Addr `yaml:"resolver"`
	// Hosts maps a served host name to its addresses.
	Hosts map[string][]netip.Addr `yaml:"hosts"`
}

// DefaultTable is the table the harness ships (addresses.yaml).
func DefaultTable() (*Table, error) { return parseTable("addresses.yaml", defaultTable) }

// LoadTable reads a table from a YAML file.
func LoadTable(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox table: %w", err)
	}
	return parseTable(path, data)
}

func parseTable(name string, data []byte) (*Table, error) {
	var t Table
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !t.Resolver.Is4() || !t.Resolver.IsLoopback() {
		return nil, fmt.Errorf("%s: resolver %v: want an IPv4 loopback address", name, t.Resolver)
	}
	if len(t.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts", name)
	}
	for h, addrs := range t.Hosts {
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s: host %s has no address", name, h)
		}
		for _, a := range addrs {
			if !a.Is4() || a.IsLoopback() || a.IsUnspecified() {
				return nil, fmt.Errorf("%s: host %s: address %v: want a unicast IPv4 address", name, h, a)
			}
		}
	}
	return &t, nil
}

// Addrs is every distinct address of the served hosts, sorted.
func (t *Table) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, addrs := range t.Hosts {
		for _, a := range addrs {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// Lookup returns the addresses of host, nil when it is not served.
func (t *Table) Lookup(host string) []netip.Addr { return t.Hosts[host] }

// ResolvConf is the resolver configuration of a sandbox or runner: the
// sinkhole, nothing else. It sets no timeout: clients keep their own
// (glibc's and Go's: 5 s, 2 attempts), so that a sinkhole slowed by a
// flood of queries on a busy machine answers late rather than fails them.
func (t *Table) ResolvConf() []byte {
	return fmt.Appendf(nil, "# t1567-harness sandbox: the emulator's DNS sinkhole\nnameserver %s\n", t.Resolver)
}
