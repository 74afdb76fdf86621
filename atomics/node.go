package atomics

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoding walks yaml.Node trees by hand rather than using yaml's struct
// decoding: that keeps the position of every node for error messages, lets
// scalar defaults of any YAML type load as their literal text, and ignores
// the extra keys ART files carry.

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return "a string"
		default:
			return "a scalar " + strings.TrimPrefix(n.Tag, "!!")
		}
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// decoder builds ParseErrors that carry the file name.
type decoder struct{ file string }

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) *ParseError {
	e := &ParseError{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

func (d *decoder) wrongKind(n *yaml.Node, field, want string) *ParseError {
	return d.errorf(n, field, "expected %s, got %s", want, kindName(n))
}

// fields is a decoded YAML mapping. at is where a missing key is reported:
// the parent's key (e.g. "executor:") reads better than the first child.
type fields struct {
	d    *decoder
	at   *yaml.Node
	path string
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	// order lists the keys as written, so errors are reported deterministically.
	order []string
}

// mapping indexes the mapping n found at path. A null n is an empty mapping.
func (d *decoder) mapping(n, at *yaml.Node, path string) (*fields, error) {
	n = deref(n)
	f := &fields{d: d, at: at, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if isNull(n) {
		return f, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.wrongKind(n, path, "a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue // complex keys cannot name a field we read
		}
		if _, dup := f.vals[k.Value]; dup {
			// yaml.v3 keeps both; silently taking one would hide a typo'd copy.
			return nil, d.errorf(k, join(path, k.Value), "duplicate key")
		}
		f.keys[k.Value] = k
		f.order = append(f.order, k.Value)
		f.vals[k.Value] = deref(n.Content[i+1])
	}
	return f, nil
}

// get returns the value under key, nil when it is absent or null.
func (f *fields) get(key string) *yaml.Node {
	if n := f.vals[key]; !isNull(n) {
		return n
	}
	return nil
}

func (f *fields) missing(key string) *ParseError {
	if k, ok := f.keys[key]; ok {
		return f.d.errorf(k, join(f.path, key), "required field is empty")
	}
	return f.d.errorf(f.at, join(f.path, key), "required field is missing")
}

// str returns key's scalar as its literal text, whatever its YAML type, so
// `default: 5` reads as "5"; absent or null is "".
func (f *fields) str(key string) (string, error) {
	n := f.get(key)
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", f.d.wrongKind(n, join(f.path, key), "a string")
	}
	return n.Value, nil
}

func (f *fields) requiredStr(key string) (string, error) {
	s, err := f.str(key)
	if err == nil && strings.TrimSpace(s) == "" {
		return "", f.missing(key)
	}
	return s, err
}

func (f *fields) strs(key string) ([]string, error) {
	n := f.get(key)
	if n == nil {
		return nil, nil
	}
	path := join(f.path, key)
	if n.Kind != yaml.SequenceNode {
		return nil, f.d.wrongKind(n, path, "a list")
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = deref(c)
		if c == nil || c.Kind != yaml.ScalarNode || isNull(c) {
			return nil, f.d.wrongKind(c, index(path, i), "a string")
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// list returns key's sequence items; absent or null is nil.
func (f *fields) list(key string) ([]*yaml.Node, error) {
	n := f.get(key)
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, f.d.wrongKind(n, join(f.path, key), "a list")
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
	}
	return items, nil
}

// scalar decodes key's scalar of the given tag ("!!bool", "!!int") into out;
// reports whether the key was present.
func (f *fields) scalar(key, tag, want string, out any) (bool, error) {
	n := f.get(key)
	if n == nil {
		return false, nil
	}
	path := join(f.path, key)
	if n.Kind != yaml.ScalarNode || n.Tag != tag {
		return false, f.d.wrongKind(n, path, want)
	}
	if err := n.Decode(out); err != nil {
		return false, f.d.errorf(n, path, "expected %s, got %q", want, n.Value)
	}
	return true, nil
}

// sub decodes key's mapping; a missing key there is reported at "key:".
func (f *fields) sub(key string) (*fields, error) {
	at, ok := f.keys[key]
	if !ok {
		at = f.at
	}
	return f.d.mapping(f.vals[key], at, join(f.path, key))
}

// has reports whether key is present with a non-null value.
func (f *fields) has(key string) bool { return f.get(key) != nil }
