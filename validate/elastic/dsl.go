package elastic

import (
	"fmt"
	"sort"

	"github.com/t1567001/harness/validate/core"
)

// dsl compiles the Elasticsearch query DSL a rule's filters use: bool
// (must, filter, should, must_not), wildcard, term, match_phrase, exists.
func dsl(q map[string]any) (core.Expr, error) {
	if len(q) != 1 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("a query needs exactly one clause, got %v", keys)
	}
	for kind, body := range q {
		m, ok := body.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", kind)
		}
		switch kind {
		case "bool":
			return boolQuery(m)
		case "exists":
			f, _ := m["field"].(string)
			return core.NewCmp(core.Pos{}, core.OpEq, &core.Field{Name: f}, []core.Expr{&core.Lit{}}, false, true)
		case "wildcard", "term", "match_phrase":
			if len(m) != 1 {
				return nil, fmt.Errorf("%s: one field expected", kind)
			}
			for field, spec := range m {
				value, fold := spec, false
				if sm, ok := spec.(map[string]any); ok {
					value = sm["value"]
					if value == nil {
						value = sm["query"]
					}
					fold, _ = sm["case_insensitive"].(bool)
				}
				op := core.OpEq
				if kind == "wildcard" {
					op = core.OpWildcard
				}
				c, err := core.NewCmp(core.Pos{}, op, &core.Field{Name: field}, []core.Expr{&core.Lit{V: core.ValueOf(value)}}, fold, false)
				if err != nil {
					return nil, err
				}
				c.Phrase = kind == "match_phrase"
				return c, nil
			}
		}
		return nil, fmt.Errorf("query clause %q is not supported", kind)
	}
	return nil, nil
}

func boolQuery(m map[string]any) (core.Expr, error) {
	var and []core.Expr
	clauses := func(name string) ([]core.Expr, error) {
		var list []any
		switch v := m[name].(type) {
		case nil:
			return nil, nil
		case []any:
			list = v
		case []map[string]any:
			for _, x := range v {
				list = append(list, x)
			}
		case map[string]any:
			list = []any{v}
		default:
			return nil, fmt.Errorf("bool.%s: not a query list", name)
		}
		var out []core.Expr
		for _, c := range list {
			cm, ok := c.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("bool.%s: not a query", name)
			}
			x, err := dsl(cm)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	}
	for _, name := range []string{"must", "filter"} {
		xs, err := clauses(name)
		if err != nil {
			return nil, err
		}
		and = append(and, xs...)
	}
	should, err := clauses("should")
	if err != nil {
		return nil, err
	}
	if len(should) > 0 {
		and = append(and, &core.Logic{Or: true, Args: should})
	}
	mustNot, err := clauses("must_not")
	if err != nil {
		return nil, err
	}
	for _, x := range mustNot {
		and = append(and, &core.Not{X: x})
	}
	if len(and) == 0 {
		return &core.Lit{V: core.BoolValue(true)}, nil
	}
	return &core.Logic{Args: and}, nil
}
