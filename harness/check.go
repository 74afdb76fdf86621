package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

// Recording is events that can be read more than once: each call reads
// it from the start and gives f every event, in order, stopping at f's
// first error. The event is f's only while f runs.
type Recording func(f func(*event.Event) error) error

// Slice reads events held in memory as a Recording.
func Slice(events []event.Event) Recording {
	return func(f func(*event.Event) error) error {
		for i := range events {
			if err := f(&events[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// CheckExpectations checks expectations (host context -> expectations, as
// an expectations file holds them) against events, each context against
// its own events, contexts in name order; verdicts come in that order. The
// events stream through the rules once, and are held by nobody; they are
// read a second time only when a verdict needs an explanation.
//
// A context's events are those rendered under it (harness_context).
// Events that carry no context (a recording) are scoped by the host name
// of the profile the context names; when no profile does, every event is
// in scope. A context with no event is an error: its expectations would
// check nothing.
func CheckExpectations(ctx context.Context, rules []validate.Rule, events Recording, exps map[string][]atomics.Expectation) ([]validate.Verdict, CheckStats, error) {
	st := CheckStats{Held: map[string]int{}}
	scopes := scopesOf(ctx, rules, exps)
	present := map[string]bool{}
	err := events(func(ev *event.Event) error {
		st.Events++
		if ev.Context != "" {
			present[ev.Context] = true
		}
		for _, s := range scopes {
			if err := s.push(ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	again := false
	for _, s := range scopes {
		a, err := s.close(present)
		if err != nil {
			return nil, st, err
		}
		again = again || a
		st.Refs += s.chosen.Peak()
		for id, n := range s.chosen.Held() {
			st.Held[id] = max(st.Held[id], n)
		}
	}
	if again {
		// The second pass: only explanations, over the same events.
		err := events(func(ev *event.Event) error {
			for _, s := range scopes {
				if s.in(ev) {
					if err := s.chosen.Explain(ev); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, st, err
		}
	}
	verdicts := []validate.Verdict{}
	for _, s := range scopes {
		for _, v := range s.chosen.Verdicts() {
			v.Context = s.name
			verdicts = append(verdicts, v)
		}
	}
	return verdicts, st, nil
}

// CheckStats is what CheckExpectations held while it read the events.
type CheckStats struct {
	// Events counts the events read (once).
	Events int
	// Held is, per rule, the most events the rule held at once in any
	// context (validate.Checker.Held).
	Held map[string]int
	// Refs is the most event references the contexts' checks remembered
	// at once, summed (validate.Checker.Peak).
	Refs int
}

// scope is one host context's check. Until the stream ends it is not known
// whether the events carry contexts, so both ways of scoping run: rendered
// events of the context, and events without a context from its host.
type scope struct {
	name string
	// host is the FQDN of the context's profile, "" when no profile
	// has the name (then every event without a context is in scope).
	host             string
	rendered, byHost *validate.Checker
	nRendered, nHost int
	// chosen is the check that counts, once the stream has ended.
	chosen     *validate.Checker
	chosenTags bool
}

func scopesOf(ctx context.Context, rules []validate.Rule, exps map[string][]atomics.Expectation) []*scope {
	names := make([]string, 0, len(exps))
	for c := range exps {
		names = append(names, c)
	}
	sort.Strings(names)
	scopes := make([]*scope, len(names))
	for i, c := range names {
		s := &scope{name: c, rendered: validate.NewChecker(ctx, rules, exps[c]), byHost: validate.NewChecker(ctx, rules, exps[c])}
		if profiles, err := Contexts([]string{c}); err == nil {
			s.host = profiles[0].FQDN()
		}
		scopes[i] = s
	}
	return scopes
}

func (s *scope) fromHost(ev *event.Event) bool {
	return ev.Context == "" && (s.host == "" || strings.EqualFold(ev.Computer, s.host))
}

func (s *scope) push(ev *event.Event) error {
	switch {
	case ev.Context == s.name:
		s.nRendered++
		return s.rendered.Push(ev)
	case s.fromHost(ev):
		s.nHost++
		return s.byHost.Push(ev)
	}
	return nil
}

// close ends the first pass and chooses the check that counts: the
// rendered events' when any event carries a context (present), else the
// host's. It reports whether the events must be read again to explain.
func (s *scope) close(present map[string]bool) (bool, error) {
	if len(present) > 0 {
		if s.nRendered == 0 {
			have := make([]string, 0, len(present))
			for c := range present {
				have = append(have, c)
			}
			sort.Strings(have)
			return false, fmt.Errorf("context %q: no event was rendered under it (the events hold %s)", s.name, strings.Join(have, ", "))
		}
		s.chosen, s.chosenTags = s.rendered, true
	} else {
		if s.host != "" && s.nHost == 0 {
			return false, fmt.Errorf("context %q: no event comes from its host %s", s.name, s.host)
		}
		s.chosen = s.byHost
	}
	return s.chosen.Close()
}

// in reports whether ev is in the chosen check's scope.
func (s *scope) in(ev *event.Event) bool {
	if s.chosenTags {
		return ev.Context == s.name
	}
	return s.fromHost(ev)
}
