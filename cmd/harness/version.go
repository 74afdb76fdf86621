package main

import (
	"fmt"
	"runtime/debug"
)

// commit is set by `make build` (-ldflags -X main.commit=...) for builds
// without VCS stamping (-buildvcs=false); the build info's own wins.
var commit string

// version says which harness this is: the module version, the commit it
// was built from and the Go that built it, from the binary's build info.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, modified := commit, ""
	if rev == "" {
		rev = "unknown"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", with uncommitted changes"
			}
		}
	}
	return fmt.Sprintf("%s, commit %s%s, %s", v, rev, modified, info.GoVersion)
}
