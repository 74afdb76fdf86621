package reports

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Layer is an ATT&CK Navigator layer (format 4.5). Each tested technique
// is scored by its detection coverage: the share of (atomic, host context)
// cells in which at least one rule fires. Its comment says how many
// expectations hold and gives one line per gap, naming the rule; a
// sub-technique's parent (T1567 for T1567.001) gets an entry too, scored
// by its tested sub-techniques, so the layer reads in the matrix's
// collapsed view.
func Layer(r *Results) map[string]any {
	type tally struct {
		cells, detected, pass, total, simulated int
		gaps                                    map[string][]string // rule -> "context/atomic: ..." lines
		rules                                   []string
	}
	byTech := map[string]*tally{}
	var order []string
	techOf := map[string]string{}
	for _, a := range r.Atomics {
		t := a.Technique
		if t == "" {
			t = "T1567.001"
		}
		techOf[a.Name] = t
		if byTech[t] == nil {
			byTech[t] = &tally{gaps: map[string][]string{}}
			order = append(order, t)
		}
	}
	m := Coverage(r)
	for _, a := range m.Atomics {
		t := byTech[techOf[a]]
		if t == nil {
			continue
		}
		for _, c := range m.Contexts {
			if cell := m.Cells[a][c]; cell != nil {
				t.cells++
				if len(cell.Firing) > 0 {
					t.detected++
				}
			}
		}
	}
	for _, v := range r.Verdicts {
		t := byTech[techOf[v.Atomic]]
		if t == nil {
			continue
		}
		t.total++
		if v.Pass {
			t.pass++
		}
		if v.Simulated() {
			t.simulated++
		}
		if !slices.Contains(t.rules, v.Rule) {
			t.rules = append(t.rules, v.Rule)
		}
		if v.Gap != "" {
			t.gaps[v.Rule] = append(t.gaps[v.Rule], v.Context+"/"+v.Atomic)
		}
	}
	var techniques []map[string]any
	parents := map[string][]int{}
	var parentOrder []string
	meta := []map[string]any{{"name": "run", "value": r.RunID}, {"name": "mode", "value": r.Mode}}
	if r.Sandbox != "" {
		meta = append(meta, map[string]any{"name": "sandbox", "value": r.Sandbox})
	}
	for _, a := range r.Atomics {
		meta = append(meta, map[string]any{"name": "atomic", "value": fmt.Sprintf("%s (%s, intact=%v)", a.Name, a.Execution, a.Intact)})
	}
	for _, id := range order {
		t := byTech[id]
		score := percent(t.detected, t.cells)
		sort.Strings(t.rules)
		lines := []string{fmt.Sprintf("rules fire in %d of %d atomic x context cells; %d of %d expectations hold (%s)",
			t.detected, t.cells, t.pass, t.total, strings.Join(t.rules, ", "))}
		if t.simulated > 0 {
			lines = append(lines, fmt.Sprintf("%d rest only on simulated events (a replay stood in for a missing tool), not on a real run", t.simulated))
		}
		tmeta := []map[string]any{}
		rules := make([]string, 0, len(t.gaps))
		for rule := range t.gaps {
			rules = append(rules, rule)
		}
		sort.Strings(rules)
		for _, rule := range rules {
			where := t.gaps[rule]
			lines = append(lines, fmt.Sprintf("gap in rule %s: it cannot do what its author meant in %d case(s): %s", rule, len(where), strings.Join(where, "; ")))
			tmeta = append(tmeta, map[string]any{"name": "gap " + rule, "value": strings.Join(where, "; ")})
		}
		techniques = append(techniques, map[string]any{
			"techniqueID": id, "tactic": "exfiltration", "score": score, "enabled": true,
			"comment": strings.Join(lines, "\n"), "metadata": tmeta,
		})
		if parent, _, ok := strings.Cut(id, "."); ok {
			if _, seen := parents[parent]; !seen {
				parentOrder = append(parentOrder, parent)
			}
			parents[parent] = append(parents[parent], score)
		}
	}
	for _, p := range parentOrder {
		scores := parents[p]
		techniques = append(techniques, map[string]any{
			"techniqueID": p, "tactic": "exfiltration", "score": slices.Min(scores), "enabled": true, "showSubtechniques": true,
			"comment": fmt.Sprintf("scored by its %d tested sub-technique(s), the lowest coverage; untested sub-techniques are not scored", len(scores)),
		})
	}
	return map[string]any{
		"name":        "T1567.001 harness " + r.RunID,
		"versions":    map[string]string{"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
		"domain":      "enterprise-attack",
		"description": "Detection coverage of Exfiltration to Code Repository by the T1567.001 harness: the share of atomic x host context cells in which a rule fires",
		"techniques":  techniques,
		"gradient":    map[string]any{"colors": []string{"#ff6666", "#ffe766", "#8ec843"}, "minValue": 0, "maxValue": 100},
		"metadata":    meta,
	}
}

func percent(n, d int) int {
	if d == 0 {
		return 0
	}
	return 100 * n / d
}
