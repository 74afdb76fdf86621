package core

import (
	"sort"
	"strings"
)

// Agg accumulates one aggregation (count, dc, values, list, first, last,
// sum, avg, min, max) over the values of a group, as Splunk's stats does.
type Agg struct {
	count    int
	distinct map[string]struct{}
	list     []string
	sum      float64
	nums     int
	minN     float64
	maxN     float64
	minS     string
	maxS     string
	seen     bool
	first    Value
	last     Value
}

// Add feeds v (every value of a multivalue) to the aggregation fn. The
// text it keeps beyond the group's last value is copied: a value may be a
// slice of a chunk shared with many events' (a reader's, a sort's), which
// it would otherwise keep whole.
func (a *Agg) Add(fn string, v Value) {
	for _, s := range v.Values() {
		a.count++
		switch fn {
		case "dc", "distinct_count", "values":
			if a.distinct == nil {
				a.distinct = make(map[string]struct{})
			}
			if _, ok := a.distinct[s]; !ok {
				a.distinct[strings.Clone(s)] = struct{}{}
			}
		case "list":
			// Splunk's list() keeps at most 100 values.
			if len(a.list) < 100 {
				a.list = append(a.list, strings.Clone(s))
			}
		}
		f, isNum := ParseNumber(s)
		if isNum {
			a.sum += f
			if a.nums == 0 || f < a.minN {
				a.minN = f
			}
			if a.nums == 0 || f > a.maxN {
				a.maxN = f
			}
			a.nums++
		}
		if !a.seen || s < a.minS {
			a.minS = strings.Clone(s)
		}
		if !a.seen || s > a.maxS {
			a.maxS = strings.Clone(s)
		}
		if !a.seen {
			a.first = StringValue(strings.Clone(s))
			a.seen = true
		}
		a.last = StringValue(s)
	}
}

// Result is the aggregation fn over the values added.
func (a *Agg) Result(fn string) Value {
	switch fn {
	case "count", "c":
		return NumberValue(float64(a.count))
	case "dc", "distinct_count":
		return NumberValue(float64(len(a.distinct)))
	case "values":
		vals := make([]string, 0, len(a.distinct))
		for s := range a.distinct {
			vals = append(vals, s)
		}
		// Splunk: values() returns distinct values in lexicographical order.
		sort.Strings(vals)
		return MultiValue(vals)
	case "list":
		return MultiValue(a.list)
	case "first":
		return a.first
	case "last":
		return a.last
	case "sum":
		if a.nums == 0 {
			return Value{}
		}
		return NumberValue(a.sum)
	case "avg", "mean":
		if a.nums == 0 {
			return Value{}
		}
		return NumberValue(a.sum / float64(a.nums))
	case "min", "max":
		if !a.seen {
			return Value{}
		}
		// Numbers when there are any, lexicographic order otherwise.
		if a.nums > 0 {
			if fn == "min" {
				return NumberValue(a.minN)
			}
			return NumberValue(a.maxN)
		}
		if fn == "min" {
			return StringValue(a.minS)
		}
		return StringValue(a.maxS)
	}
	return Value{}
}

// AddRow counts a row for count() with no field.
func (a *Agg) AddRow() { a.count++ }
