package sigma

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/t1567001/harness/event"
)

// Filter is a Sigma filter (specification v2, "Sigma Filters"): a
// detection that, where it holds, suppresses the matches of the rules it
// names.
type Filter struct {
	ID, Title, Path string
	Line            int
	// Rules are the filtered rules' ids or names, as written.
	Rules []string

	detection *Rule
}

func (l *loader) loadFilter(doc, n *yaml.Node) (*Filter, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.fail(n.Line, "filter must be a mapping")
	}
	det, err := l.loadRule(doc, "filter")
	if err != nil {
		return nil, err
	}
	f := &Filter{ID: det.ID, Title: det.Title, Path: l.name, Line: doc.Line, detection: det}
	switch rn := mapValue(n, "rules"); {
	case rn == nil:
		return nil, l.fail(n.Line, "filter names no rules")
	case rn.Kind == yaml.ScalarNode:
		f.Rules = []string{rn.Value}
	default:
		if err := rn.Decode(&f.Rules); err != nil {
			return nil, l.fail(rn.Line, "filter rules must be a list of rule ids or names")
		}
	}
	if len(f.Rules) == 0 {
		return nil, l.fail(n.Line, "filter names no rules")
	}
	return f, nil
}

// suppresses reports whether the filter holds for the event.
func (f *Filter) suppresses(ev *event.Event) bool {
	sel := f.detection.selector(ev)
	return sel != nil && f.detection.holds(fields{ev: ev, sel: sel})
}

// withFilters returns the rules with each filter attached to a copy of
// every rule it names that is loaded; a filter naming none of them is an
// error (it would silently filter nothing).
func withFilters(rules []*Rule, filters []*Filter) ([]*Rule, error) {
	if len(filters) == 0 {
		return rules, nil
	}
	out := make([]*Rule, len(rules))
	copy(out, rules)
	for _, f := range filters {
		found := false
		for _, ref := range f.Rules {
			for i, r := range out {
				if r.ID != ref && (r.Name == "" || r.Name != ref) {
					continue
				}
				cp := *r
				cp.filters = append(append([]*Filter(nil), r.filters...), f)
				out[i] = &cp
				found = true
			}
		}
		if !found {
			return nil, Unsupported{Path: f.Path, Line: f.Line, Reason: fmt.Sprintf("filter %s: none of the rules it names (%s) is loaded", f.ID, strings.Join(f.Rules, ", "))}
		}
	}
	return out, nil
}
