package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a [Value].
type Kind uint8

// The kinds of value an expression can produce. Splunk stores every field as
// text, but eval and where compute numbers and Booleans; Booleans cannot be
// stored in a field.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindBool
	KindMulti
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "bool"
	case KindMulti:
		return "multivalue"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is the result of an expression or the content of a result field.
// The zero Value is null.
type Value struct {
	kind  Kind
	field bool // text read from event data: compares as a number when it looks like one
	str   string
	num   float64
	// A pointer, not a slice: values are copied at every step of an eval,
	// and multivalues are rare.
	multi *[]string
}

// NullValue returns the null value.
func NullValue() Value { return Value{} }

// StringValue returns a string value.
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// EventValue returns a string as it is read from event data: like Splunk,
// where and eval compare it as a number when it looks like one.
func EventValue(s string) Value { return Value{kind: KindString, str: s, field: true} }

// NumberValue returns a numeric value.
func NumberValue(f float64) Value { return Value{kind: KindNumber, num: f} }

// BoolValue returns a Boolean value.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// MultiValue returns a multivalue field; an empty list is null.
func MultiValue(vals []string) Value {
	if len(vals) == 0 {
		return Value{}
	}
	return Value{kind: KindMulti, multi: &vals, field: true}
}

// Kind reports the type of v.
func (v Value) Kind() Kind { return v.kind }

// Detach returns v with its text copied, so that a value kept past its
// event (a sort's record, a stats group) does not keep the event's memory.
func (v Value) Detach() Value {
	v.str = strings.Clone(v.str)
	if v.multi != nil {
		m := make([]string, len(*v.multi))
		for i, x := range *v.multi {
			m[i] = strings.Clone(x)
		}
		v.multi = &m
	}
	return v
}

// Str is v's text as stored: a string's, a field's; empty for a number
// or a Boolean, and for a multivalue, whose values are apart.
func (v Value) Str() string { return v.str }

// WithStr returns v with its stored text replaced by s, which must equal
// v.Str(): for a caller that copies the text of many values into one
// string, as Detach does for one.
func (v Value) WithStr(s string) Value {
	v.str = s
	return v
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Text returns v as Splunk displays it, and false when v is null. Numbers
// print without a trailing ".0"; a multivalue prints its first value.
func (v Value) Text() (string, bool) {
	switch v.kind {
	case KindString:
		return v.str, true
	case KindNumber:
		return FormatNumber(v.num), true
	case KindBool:
		if v.num != 0 {
			return "true", true
		}
		return "false", true
	case KindMulti:
		return (*v.multi)[0], true
	}
	return "", false
}

// String implements fmt.Stringer; null prints as "null".
func (v Value) String() string {
	if v.kind == KindMulti {
		return strings.Join(*v.multi, "\n")
	}
	if s, ok := v.Text(); ok {
		return s
	}
	return "null"
}

// Number returns v as a number when it is one or is text that looks like one.
func (v Value) Number() (float64, bool) {
	switch v.kind {
	case KindNumber:
		return v.num, true
	case KindString:
		return ParseNumber(v.str)
	case KindMulti:
		return ParseNumber((*v.multi)[0])
	}
	return 0, false
}

// Bool returns the truth of a Boolean value; ok is false for other kinds.
func (v Value) Bool() (b, ok bool) { return v.num != 0, v.kind == KindBool }

// Values returns the values of a multivalue, or v's text as a single value.
func (v Value) Values() []string {
	if v.kind == KindMulti {
		return *v.multi
	}
	if s, ok := v.Text(); ok {
		return []string{s}
	}
	return nil
}

// MarshalJSON renders null as null, numbers as JSON numbers, multivalues as
// arrays and everything else as strings.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case KindNumber:
		if math.IsNaN(v.num) || math.IsInf(v.num, 0) {
			return []byte("null"), nil
		}
		return []byte(FormatNumber(v.num)), nil
	case KindBool:
		if v.num != 0 {
			return []byte("true"), nil
		}
		return []byte("false"), nil
	case KindMulti:
		return json.Marshal(*v.multi)
	case KindString:
		return json.Marshal(v.str)
	}
	return []byte("null"), nil
}

// Numeric reports v as a number for comparison: numbers, and text read from
// events that looks numeric. String literals stay strings, so eval's
// EventCode="3" compares text while EventCode=3 compares numbers.
func (v Value) Numeric() (float64, bool) {
	switch v.kind {
	case KindNumber:
		return v.num, true
	case KindString:
		if v.field {
			return ParseNumber(v.str)
		}
	case KindMulti:
		return ParseNumber((*v.multi)[0])
	}
	return 0, false
}

// FormatNumber prints f as Splunk does: no trailing ".0".
func FormatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// ParseNumber accepts decimal numbers only. The shape check comes first so
// that strconv never builds an error value for ordinary text in a hot loop.
func ParseNumber(s string) (float64, bool) {
	if !LooksNumeric(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// LooksNumeric reports whether s is a decimal number.
func LooksNumeric(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// Row is one result. Fields holds the field order (the order of a table or
// fields command, otherwise the event's fields sorted by name followed by
// fields created by the pipeline); Values holds the non-null values.
type Row struct {
	Fields []string
	Values map[string]Value
	// Sources are the indexes, in the events given to Run, of the events
	// the row comes from: one for a streamed event, every event of the
	// group for a stats row. The row's evidence.
	Sources []int
}

// Get returns the value of a field, null when absent.
func (r Row) Get(field string) Value { return r.Values[field] }

// MarshalJSON renders the row as one object whose keys follow Fields; a field
// listed but without a value is null.
func (r Row) MarshalJSON() ([]byte, error) {
	return MarshalObject(r.Fields, func(i int) ([]byte, error) { return r.Values[r.Fields[i]].MarshalJSON() })
}

// MarshalObject writes a JSON object whose keys are fields, in their order
// (which encoding/json does not keep for a map), the i-th key's value being
// value(i), already JSON.
func MarshalObject(fields []string, value func(i int) ([]byte, error)) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := value(i)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
