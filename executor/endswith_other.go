//go:build !linux

package executor

// endsWith does nothing where waitid cannot wait without reaping: there a
// test's background children are ended only by a timeout or cancellation.
func endsWith(int) {}
