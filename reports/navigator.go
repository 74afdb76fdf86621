package reports

import (
	"fmt"
	"sort"
	"strings"

	"github.com/t1567001/harness/internal/text"
)

// Layer is an ATT&CK Navigator layer (format 4.5) scoring T1567.001 by the
// share of expectations that hold, with the detections and gaps in the
// technique's comment and metadata.
func Layer(r *Results) map[string]any {
	pass, simulated := 0, 0
	rules := map[string]bool{}
	var gaps []string
	for _, v := range r.Verdicts {
		rules[v.Rule] = true
		if v.Pass {
			pass++
		}
		if v.Simulated() {
			simulated++
		}
		if v.Gap != "" {
			gaps = append(gaps, fmt.Sprintf("%s/%s: author meant %s, rule %s", v.Context, text.Clip(v.Atomic, 40), v.Intent, ActualString(v)))
		}
	}
	score := 0
	if len(r.Verdicts) > 0 {
		score = 100 * pass / len(r.Verdicts)
	}
	names := make([]string, 0, len(rules))
	for n := range rules {
		names = append(names, n)
	}
	sort.Strings(names)
	meta := []map[string]string{{"name": "run", "value": r.RunID}, {"name": "mode", "value": r.Mode}}
	if r.Sandbox != "" {
		meta = append(meta, map[string]string{"name": "sandbox", "value": r.Sandbox})
	}
	for _, a := range r.Atomics {
		meta = append(meta, map[string]string{"name": "atomic", "value": fmt.Sprintf("%s (%s, intact=%v)", a.Name, a.Execution, a.Intact)})
	}
	for _, g := range gaps {
		meta = append(meta, map[string]string{"name": "gap", "value": g})
	}
	comment := fmt.Sprintf("%d of %d expectations hold across %s", pass, len(r.Verdicts), strings.Join(names, ", "))
	if simulated > 0 {
		comment += fmt.Sprintf("; %d rest only on simulated events (a replay stood in for a missing tool), not on a real run", simulated)
	}
	return map[string]any{
		"name":        "T1567.001 harness " + r.RunID,
		"versions":    map[string]string{"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
		"domain":      "enterprise-attack",
		"description": "Detection validation of Exfiltration to Code Repository by the T1567.001 harness",
		"techniques": []map[string]any{{
			"techniqueID": "T1567.001", "tactic": "exfiltration", "score": score, "enabled": true,
			"comment":  comment,
			"metadata": meta,
		}},
		"gradient": map[string]any{"colors": []string{"#ff6666", "#ffe766", "#8ec843"}, "minValue": 0, "maxValue": 100},
	}
}
