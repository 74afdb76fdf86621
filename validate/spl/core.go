package spl

import (
	"sort"

	"github.com/t1567001/harness/validate/core"
)

// Event is one record: field name to value. Field names are case-sensitive;
// a field absent from the map is null.
type Event map[string]string

// Value is the result of an expression or the content of a result field
// (see [core.Value]).
type Value = core.Value

// Kind is the type of a [Value].
type Kind = core.Kind

// The kinds of value an expression can produce.
const (
	KindNull   = core.KindNull
	KindString = core.KindString
	KindNumber = core.KindNumber
	KindBool   = core.KindBool
	KindMulti  = core.KindMulti
)

// Row is one result row (see [core.Row]).
type Row = core.Row

// NullValue returns the null value.
func NullValue() Value { return core.NullValue() }

// StringValue returns a string value.
func StringValue(s string) Value { return core.StringValue(s) }

// EventValue returns a string as it is read from event data.
func EventValue(s string) Value { return core.EventValue(s) }

// NumberValue returns a numeric value.
func NumberValue(f float64) Value { return core.NumberValue(f) }

// BoolValue returns a Boolean value.
func BoolValue(b bool) Value { return core.BoolValue(b) }

// MultiValue returns a multivalue field; an empty list is null.
func MultiValue(vals []string) Value { return core.MultiValue(vals) }

// The core pieces under the names the engine was written with.
type (
	wildcard       = core.Wildcard
	literalMatcher = core.LiteralMatcher
	aggState       = core.Agg
)

// Functions, not variables, so that the compiler can inline them.
func compileWildcard(p string, caseSensitive bool) wildcard {
	return core.CompileWildcard(p, caseSensitive)
}
func compileLiterals(re string) *literalMatcher { return core.CompileLiterals(re) }
func compareValues(a, b Value) (int, bool)      { return core.CompareValues(a, b) }
func truthy(v Value) bool                       { return core.Truthy(v) }
func parseNumber(s string) (float64, bool)      { return core.ParseNumber(s) }
func looksNumeric(s string) bool                { return core.LooksNumeric(s) }

// sortedKeys lists an event's field names in a stable order for output.
func sortedKeys(ev Event) []string {
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// likeMatch is SQL LIKE: '%' any run, '_' one character, case-sensitive.
func likeMatch(s, p string) bool { return core.Glob(s, p, '%', '_', false) }
