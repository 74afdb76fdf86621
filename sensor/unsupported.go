//go:build !(linux && amd64)

package sensor

import "context"

// Run is not implemented on this platform; it always returns ErrUnsupported.
func Run(ctx context.Context, cfg Config, emit func(Observation)) (int, error) {
	return -1, ErrUnsupported
}

// MaybeTrampoline reports false: there is no trampoline on this platform.
func MaybeTrampoline() bool { return false }
