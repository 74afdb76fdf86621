package telemetry

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/t1567001/harness/internal/yamlerr"
)

// ProfileError is a problem in a host profile, located as the atomics
// loader locates its own: FILE:LINE: MSG.
type ProfileError struct {
	File string
	Line int // 1-based; 0 when the problem is the file as a whole
	Msg  string
}

func (e *ProfileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)
	wrongTypeRE    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.*)$")
)

// profileError turns what yaml.v3 said about data into a ProfileError in
// words of the profile format, not of the Go types it decodes into.
func profileError(file string, data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		line, msg := yamlerr.Locate(data, err)
		return &ProfileError{File: file, Line: line, Msg: msg}
	}
	first := te.Errors[0]
	if m := unknownFieldRE.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ProfileError{File: file, Line: line, Msg: fmt.Sprintf("%s: unknown field", m[2])}
	}
	if m := wrongTypeRE.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		got := yamlKind(m[2])
		if m[3] != "" {
			got += fmt.Sprintf(" %q", m[3])
		}
		return &ProfileError{File: file, Line: line, Msg: fmt.Sprintf("expected %s, got %s", goKind(m[4]), got)}
	}
	line, msg := yamlerr.Locate(data, err)
	return &ProfileError{File: file, Line: line, Msg: msg}
}

// goKind names a Go type as a profile author knows it.
func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"), strings.HasPrefix(t, "telemetry."):
		if t == "telemetry.Realism" {
			return "a string"
		}
		return "a mapping"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	}
	return "a string"
}

// yamlKind names a YAML tag as the atomics loader does.
func yamlKind(tag string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "str":
		return "a string"
	case "int", "float":
		return "a number"
	case "bool":
		return "a bool"
	}
	return tag
}
