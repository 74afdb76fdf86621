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
// pushed once, to every rule, and not held; only the provenance of the
// events a rule keeps (see Feed) is remembered, when it is not recorded,
// for the rows that rest on them.
type Summarizer struct {
	feeds   []Feed
	sums    []Summary
	sources []*sources
	n       int
}

// NewSummarizer starts every rule over a stream.
func NewSummarizer(ctx context.Context, rules []Rule) (*Summarizer, error) {
	s := &Summarizer{sums: make([]Summary, len(rules))}
	for i, r := range rules {
		sum := &s.sums[i]
		*sum = Summary{Rule: r.ID(), Kind: r.Kind(), Signals: map[string]int{}, RestsOn: map[event.Provenance]int{}}
		src := newSources(false, nil, nil)
		s.sources = append(s.sources, src)
		s.feeds = append(s.feeds, r.Start(ctx, func(row Row) error {
			sum.Rows++
			if sig, _ := row.Value("Signal"); sig != "" {
				sum.Signals[sig]++
			}
			var seen []int
			for _, i := range row.Sources {
				if i >= 0 && i < src.n && !slices.Contains(seen, i) {
					seen = append(seen, i)
					sum.RestsOn[src.origin(i)]++
				}
			}
			return nil
		}))
	}
	return s, nil
}

// Push runs every rule on one event.
func (s *Summarizer) Push(ev *event.Event) error {
	s.n++
	for i, f := range s.feeds {
		src := s.sources[i]
		if s.n%heldEvery == 0 {
			src.release(f.Oldest())
		}
		src.push(ev)
		if f.Done() {
			continue
		}
		if err := f.Push(ev); err != nil {
			return err
		}
		if f.Kept() {
			src.keep()
		}
	}
	return nil
}

// Close ends the stream and returns each rule's summary, in rule order.
func (s *Summarizer) Close() ([]Summary, error) {
	for i, f := range s.feeds {
		s.sources[i].cur = nil
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return s.sums, nil
}
