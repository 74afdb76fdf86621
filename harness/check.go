package harness

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

// ScopeToContext returns the events of host context name: those rendered
// under it (harness_context). Events that carry no context (a recording)
// are scoped by the host name of the profile called name; when no profile
// is, every event is in scope. A context with no event is an error: its
// expectations would check nothing.
func ScopeToContext(events []event.Event, name string) ([]event.Event, error) {
	var scoped []event.Event
	var present []string
	for _, ev := range events {
		if ev.Context == "" {
			continue
		}
		if !slices.Contains(present, ev.Context) {
			present = append(present, ev.Context)
		}
		if ev.Context == name {
			scoped = append(scoped, ev)
		}
	}
	if len(present) > 0 {
		if len(scoped) == 0 {
			sort.Strings(present)
			return nil, fmt.Errorf("context %q: no event was rendered under it (the events hold %s)", name, strings.Join(present, ", "))
		}
		return scoped, nil
	}
	profiles, err := Contexts([]string{name})
	if err != nil {
		return events, nil
	}
	host := profiles[0].FQDN()
	for _, ev := range events {
		if strings.EqualFold(ev.Computer, host) {
			scoped = append(scoped, ev)
		}
	}
	if len(scoped) == 0 {
		return nil, fmt.Errorf("context %q: no event comes from its host %s", name, host)
	}
	return scoped, nil
}

// CheckExpectations checks expectations (host context -> expectations, as
// an expectations file holds them) against events, each context against
// its own events (ScopeToContext), contexts in name order.
func CheckExpectations(ctx context.Context, rules []validate.Rule, events []event.Event, exps map[string][]atomics.Expectation) ([]validate.Verdict, error) {
	contexts := make([]string, 0, len(exps))
	for c := range exps {
		contexts = append(contexts, c)
	}
	sort.Strings(contexts)
	verdicts := []validate.Verdict{}
	for _, c := range contexts {
		scoped, err := ScopeToContext(events, c)
		if err != nil {
			return nil, err
		}
		eval := validate.NewEvaluation(rules, scoped)
		for _, exp := range exps[c] {
			v, err := eval.Check(ctx, exp)
			if err != nil {
				return nil, err
			}
			v.Context = c
			verdicts = append(verdicts, v)
		}
	}
	return verdicts, nil
}
