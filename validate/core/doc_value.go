package core

import (
	"encoding/json"
	"sort"
	"time"
	"unicode/utf8"
)

// Doc is a document as the Elastic query languages read it: a dotted field
// name (process.parent.name) to its value. Arrays are multivalues; numbers
// and Booleans keep their type so that `trusted == true` and `count >= 25`
// compare as Elasticsearch does.
type Doc map[string]Value

// Get returns the value of field, null when absent.
func (d Doc) Get(field string) Value { return d[field] }

// FlattenDoc turns a nested document (as decoded from JSON) into a Doc with
// dotted names. A key that already holds dots ("event.action") is kept as
// written, as Elasticsearch does.
func FlattenDoc(m map[string]any) Doc {
	d := Doc{}
	flattenInto(d, "", m)
	return d
}

func flattenInto(d Doc, prefix string, m map[string]any) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flattenInto(d, name, sub)
			continue
		}
		if val := ValueOf(v); !val.IsNull() {
			d[name] = val
		}
	}
}

// ValueOf converts a decoded JSON (or Go) scalar or array into a Value.
func ValueOf(v any) Value {
	switch x := v.(type) {
	case nil:
		return Value{}
	case string:
		return StringValue(x)
	case bool:
		return BoolValue(x)
	case float64:
		return NumberValue(x)
	case int:
		return NumberValue(float64(x))
	case int64:
		return NumberValue(float64(x))
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return NumberValue(f)
		}
		return StringValue(x.String())
	case []string:
		return MultiValue(x)
	case []any:
		var vals []string
		for _, e := range x {
			if s, ok := ValueOf(e).Text(); ok {
				vals = append(vals, s)
			}
		}
		return MultiValue(vals)
	}
	return StringValue(jsonText(v))
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// Fields lists the document's field names in order.
func (d Doc) Fields() []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Time reads a date field written as RFC 3339 (ECS's @timestamp); zero
// when absent or unreadable.
func (d Doc) Time(field string) time.Time {
	s, _ := d.Get(field).Text()
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Length is the number of characters of a text value, null for null.
func Length(args []Value) Value {
	s, ok := args[0].Text()
	if !ok {
		return Value{}
	}
	return NumberValue(float64(utf8.RuneCountInString(s)))
}
