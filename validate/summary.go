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
	s, err := NewSummarizer(ctx, rules)
	if err != nil {
		return nil, err
	}
	for i := range events {
		if err := s.Push(&events[i]); err != nil {
			return nil, err
		}
	}
	return s.Close()
}

// Summarizer summarizes rules over a stream of events: each event is
// pushed once, to every rule, and not held; only the provenance of events
// that have one other than recorded is remembered, for the rows that rest
// on them.
type Summarizer struct {
	feeds   []Feed
	sums    []Summary
	origins map[int]event.Provenance // by stream index; absent: recorded
	n       int
}

// NewSummarizer starts every rule over a stream (a rule that needs every
// event holds them: see Start).
func NewSummarizer(ctx context.Context, rules []Rule) (*Summarizer, error) {
	s := &Summarizer{origins: map[int]event.Provenance{}}
	s.sums = make([]Summary, len(rules))
	for i, r := range rules {
		sum := &s.sums[i]
		*sum = Summary{Rule: r.ID(), Kind: r.Kind(), Signals: map[string]int{}, RestsOn: map[event.Provenance]int{}}
		s.feeds = append(s.feeds, Start(ctx, r, func(row Row) error {
			sum.Rows++
			if sig := row.Values["Signal"]; sig != "" {
				sum.Signals[sig]++
			}
			var seen []int
			for _, i := range row.Sources {
				if i >= 0 && i < s.n && !slices.Contains(seen, i) {
					seen = append(seen, i)
					sum.RestsOn[s.origin(i)]++
				}
			}
			return nil
		}))
	}
	return s, nil
}

func (s *Summarizer) origin(i int) event.Provenance {
	if p, ok := s.origins[i]; ok {
		return p
	}
	return event.Recorded
}

// Push runs every rule on one event.
func (s *Summarizer) Push(ev *event.Event) error {
	if o := ev.Origin(); o != event.Recorded {
		s.origins[s.n] = o
	}
	s.n++
	for _, f := range s.feeds {
		if f.Done() {
			continue
		}
		if err := f.Push(ev); err != nil {
			return err
		}
	}
	return nil
}

// Close ends the stream and returns each rule's summary, in rule order.
func (s *Summarizer) Close() ([]Summary, error) {
	for _, f := range s.feeds {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return s.sums, nil
}
