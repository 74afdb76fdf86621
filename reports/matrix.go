package reports

import (
	"slices"
	"sort"
	"strings"
)

// Matrix is the coverage view of a run: for each atomic and host context,
// which rules fire (with their signals), how many expectations hold, and
// how many gaps there are.
type Matrix struct {
	Atomics  []string
	Contexts []string
	Cells    map[string]map[string]*Cell // atomic -> context -> cell
}

// Cell is one atomic in one context.
type Cell struct {
	Firing []string // "rule: signals", sorted
	Pass   int
	Total  int
	Gaps   int
	// RestsOn lists the provenances the cell's firing rows rest on
	// (observed, declared, simulated...), strongest first.
	RestsOn []string
}

// Coverage builds the matrix from the verdicts, atomics in run order.
func Coverage(r *Results) Matrix {
	m := Matrix{Cells: map[string]map[string]*Cell{}}
	for _, a := range r.Atomics {
		m.Atomics = append(m.Atomics, a.Name)
	}
	firing := map[string]map[string]map[string][]string{} // atomic, context, rule -> signals
	for _, v := range r.Verdicts {
		if !slices.Contains(m.Contexts, v.Context) {
			m.Contexts = append(m.Contexts, v.Context)
		}
		if !slices.Contains(m.Atomics, v.Atomic) {
			m.Atomics = append(m.Atomics, v.Atomic)
		}
		if m.Cells[v.Atomic] == nil {
			m.Cells[v.Atomic] = map[string]*Cell{}
			firing[v.Atomic] = map[string]map[string][]string{}
		}
		c := m.Cells[v.Atomic][v.Context]
		if c == nil {
			c = &Cell{}
			m.Cells[v.Atomic][v.Context] = c
			firing[v.Atomic][v.Context] = map[string][]string{}
		}
		c.Total++
		if v.Pass {
			c.Pass++
		}
		if v.Gap != "" {
			c.Gaps++
		}
		for _, p := range v.RestsOn {
			if !slices.Contains(c.RestsOn, string(p)) {
				c.RestsOn = append(c.RestsOn, string(p))
			}
		}
		if v.Actual.Fires {
			f := firing[v.Atomic][v.Context]
			sigs := f[v.Rule]
			if sigs == nil {
				sigs = []string{}
			}
			for _, row := range v.Actual.Rows {
				if s, _ := row.Value("Signal"); s != "" && !slices.Contains(sigs, s) {
					sigs = append(sigs, s)
				}
			}
			f[v.Rule] = sigs
		}
	}
	sort.Strings(m.Contexts)
	for a, byCtx := range firing {
		for ctx, rules := range byCtx {
			cell := m.Cells[a][ctx]
			for rule, sigs := range rules {
				s := rule
				if len(sigs) > 0 {
					sort.Strings(sigs)
					s += ": " + strings.Join(sigs, ", ")
				}
				cell.Firing = append(cell.Firing, s)
			}
			sort.Strings(cell.Firing)
		}
	}
	return m
}
