package atomics

import (
	"fmt"
	"sort"
	"strings"
)

// Find returns the test whose Name (case-insensitively) or GUID equals key.
// GUIDs are compared case-insensitively too: UUIDs are case-insensitive and
// Windows tools print them in upper case.
func (t *Technique) Find(key string) (*Test, bool) {
	if key == "" {
		return nil, false
	}
	for i := range t.Tests {
		if tt := &t.Tests[i]; strings.EqualFold(tt.Name, key) || strings.EqualFold(tt.GUID, key) {
			return tt, true
		}
	}
	return nil, false
}

// Args returns the effective input arguments: each default, replaced by
// overrides[name] where given. Unlike Invoke-AtomicTest, which ignores an
// override naming no declared argument, this is an error: a typo would
// otherwise silently run the test with its default.
func (t *Test) Args(overrides map[string]string) (map[string]string, error) {
	var unknown []string
	for name := range overrides {
		if _, ok := t.InputArguments[name]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", name))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("test %q has no input argument %s", t.Name, strings.Join(unknown, ", "))
	}
	args := make(map[string]string, len(t.InputArguments))
	for name, a := range t.InputArguments {
		args[name] = a.Default
		if v, ok := overrides[name]; ok {
			args[name] = v
		}
	}
	return args, nil
}

// Substitute replaces every #{name} in s with args[name], as Invoke-AtomicTest
// does (case-sensitively). #{unknown} is left as is. Values are inserted
// literally in a single pass: Invoke-AtomicTest replaces one argument after
// another in hash order, so whether a #{x} inside a value gets expanded there
// is accidental; here it never is.
func Substitute(s string, args map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "#{")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		if v, ok := args[s[i+2:i+2+j]]; ok {
			b.WriteString(v)
			s = s[i+3+j:]
		} else {
			// Keep "#{" and rescan after it, so "#{#{a}}" still expands a.
			b.WriteString("#{")
			s = s[i+2:]
		}
	}
	b.WriteString(s)
	return b.String()
}
