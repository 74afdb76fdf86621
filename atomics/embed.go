package atomics

import _ "embed"

// Embedded is the harness's own T1567.001 file, so the binary runs its
// atomics from anywhere.
//
//go:embed T1567.001.yaml
var Embedded []byte
