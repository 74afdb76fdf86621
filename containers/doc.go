// Package containers builds the images and runs the containers of the
// harness's container mode, through testcontainers-go.
//
// # Images
//
// Nothing is ever pulled from a registry. [BaseImage] makes a Debian
// bookworm root filesystem with the atomics' tools, from the host's own
// installed packages where the host can provide them (no network), else
// with debootstrap (variant minbase), and imports it through the Docker
// API; [HarnessImage] adds one static harness binary on top of it with a
// Dockerfile build. Both tags are content-addressed (a hash of the recipe
// and, from the host, the installed versions; or of the base tag and the
// binary's sha256), so an existing tag is reused as is.
//
// # Containers
//
// An [Env] is one run: its containers, and an internal Docker network (no
// route out of the machine), made when the first container joins it. A
// container can instead have a network namespace with loopback only
// ([Spec.Isolated]) or share another's ([Spec.NetworkOf]): container mode
// runs its runner in the emulator's isolated namespace. Everything an Env
// creates carries the labels t1567-harness=1 and t1567-harness.run=<run
// id>, so [Env.Close] can remove it all, and [Clean] can remove what
// crashed runs left behind.
//
// The design never needs a host-mapped port: the harness talks to its
// containers only through bind mounts (host path == container path) and
// docker exec ([Container.Exec]), and containers talk to each other by
// network alias on the internal network, or on a loopback they share. This sidesteps the case where the
// harness itself runs inside a container (/.dockerenv exists) and
// testcontainers would guess an unreachable host address for mapped ports:
// no code path here asks testcontainers for a host or a mapped port, so
// TESTCONTAINERS_HOST_OVERRIDE is neither needed nor set (a value the user
// set is left alone). Bind mounts do need the Docker engine to see the same
// filesystem as the harness (a local engine, or a socket shared with the same
// paths mounted).
//
// testcontainers' reaper (Ryuk) is disabled (TESTCONTAINERS_RYUK_DISABLED is
// set to true when the package is loaded) because its image cannot be
// pulled; cleanup is done by [Env.Close] and [Clean].
package containers
