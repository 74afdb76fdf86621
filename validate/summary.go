package validate

import (
	"context"
	"slices"

	"github.com/t1567001/harness/event"
)

// Summary is what one rule yields over a set of events: how many rows,
// with which signals, resting on events of which provenance.
type Summary struct {
	Rule string `json:"rule"`
	Kind string `json:"kind"`
	Rows int    `json:"rows"`
	// Signals counts the rows of each Signal value (rows without one are
	// not counted here).
	Signals map[string]int `json:"signals,omitempty"`
	// RestsOn counts the events under the rows by provenance.
	RestsOn map[event.Provenance]int `json:"rests_on,omitempty"`
}

// Summarize runs every rule over events and summarizes what each yields:
// which rule catches what, and on what evidence.
func Summarize(ctx context.Context, rules []Rule, events []event.Event) ([]Summary, error) {
	out := make([]Summary, 0, len(rules))
	for _, r := range rules {
		rows, err := r.Evaluate(ctx, events)
		if err != nil {
			return nil, err
		}
		s := Summary{Rule: r.ID(), Kind: r.Kind(), Rows: len(rows), Signals: map[string]int{}, RestsOn: map[event.Provenance]int{}}
		for _, row := range rows {
			if sig := row.Values["Signal"]; sig != "" {
				s.Signals[sig]++
			}
			var seen []int
			for _, i := range row.Sources {
				if i >= 0 && i < len(events) && !slices.Contains(seen, i) {
					seen = append(seen, i)
					s.RestsOn[events[i].Origin()]++
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}
