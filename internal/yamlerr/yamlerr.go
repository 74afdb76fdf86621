// Package yamlerr locates yaml.v3's syntax errors. yaml.v3 gives some of
// them no line at all (control characters, invalid UTF-8, nesting too
// deep, an unknown anchor) and gives its parser errors the line where the
// enclosing block started, one or more lines before the mistake. The line
// of the mistake is where the document, read line by line, first fails
// with the same message.
package yamlerr

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineRE matches yaml.v3's "yaml: line N: message".
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// split is yaml.v3's message without its "yaml:" and line prefix, and the
// line it gave (0 when none).
func split(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := lineRE.FindStringSubmatch(strings.TrimPrefix(msg, "yaml: ")); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// maxScan bounds the line-by-line search, which parses each prefix of the
// document: beyond it yaml.v3's own line stands.
const maxScan = 5000

// Locate returns the line (1-based; 0 when unknown) and the message of a
// syntax error err that parsing data gave.
func Locate(data []byte, err error) (int, string) {
	line, msg := split(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxScan {
		return line, msg
	}
	end := 0
	for i, l := range lines {
		end += len(l)
		var n yaml.Node
		perr := parse(data[:end], &n)
		if perr == nil {
			continue
		}
		if _, m := split(perr); m == msg {
			return i + 1, msg
		}
	}
	return line, msg
}

// parse is yaml.Unmarshal that turns a panic inside yaml.v3 into an error.
func parse(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("yaml: internal error")
		}
	}()
	return yaml.Unmarshal(data, n)
}
