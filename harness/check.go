package harness

import (
	"context"
	"sort"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

// ScopeToContext returns the events of host context name: those rendered
// under it (harness_context). Events that carry no context (a recording)
// are scoped by the host name of the profile called name; when no profile
// is, every event is in scope.
func ScopeToContext(events []event.Event, name string) []event.Event {
	var scoped []event.Event
	tagged := false
	for _, ev := range events {
		if ev.Context != "" {
			tagged = true
			if ev.Context == name {
				scoped = append(scoped, ev)
			}
		}
	}
	if tagged {
		return scoped
	}
	profiles, err := Contexts([]string{name})
	if err != nil {
		return events
	}
	for _, ev := range events {
		if strings.EqualFold(ev.Computer, profiles[0].FQDN()) {
			scoped = append(scoped, ev)
		}
	}
	return scoped
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
		eval := validate.NewEvaluation(rules, ScopeToContext(events, c))
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
