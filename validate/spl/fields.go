package spl

import "sort"

// Fields is an event as the engine reads it: an Event map, or a view over
// another event model that gives each field when asked, so that an event
// need not be copied into a map to be searched.
type Fields interface {
	// Field returns the value of the named field.
	Field(name string) (string, bool)
	// Each calls f with every field, in any order, until f returns false.
	Each(f func(name, value string) bool)
}

// Field returns the value of the named field.
func (e Event) Field(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// Each calls f with every field until f returns false.
func (e Event) Each(f func(name, value string) bool) {
	for k, v := range e {
		if !f(k, v) {
			return
		}
	}
}

// fieldNames lists an event's field names in a stable order for output.
func fieldNames(ev Fields) []string {
	if m, ok := ev.(Event); ok {
		return sortedKeys(m)
	}
	var keys []string
	ev.Each(func(k, _ string) bool { keys = append(keys, k); return true })
	sort.Strings(keys)
	return keys
}

// materialise copies ev into a map that no longer depends on it.
func materialise(ev Fields) Event {
	if m, ok := ev.(Event); ok {
		return m
	}
	m := Event{}
	ev.Each(func(k, v string) bool { m[k] = v; return true })
	return m
}

// pairs is a record's few visible fields, kept by a command that holds
// records (sort): smaller than a map, and read by a short scan.
type pairs []pair

type pair struct{ name, value string }

func (p pairs) Field(name string) (string, bool) {
	for _, f := range p {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

func (p pairs) Each(f func(name, value string) bool) {
	for _, x := range p {
		if !f(x.name, x.value) {
			return
		}
	}
}
