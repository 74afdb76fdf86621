package validate

import (
	"context"
	"fmt"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/spl"
)

// Feed runs one rule over events pushed one at a time: rows go out as the
// rule yields them, so that a recording of any size is checked in
// constant memory (commands such as sort and stats keep what they need).
type Feed interface {
	// Push offers one event; the rule does not keep it. Rows name their
	// events by their index in the stream (Row.Sources).
	Push(ev *event.Event) error
	// Done reports whether no further event can change the rule's rows.
	Done() bool
	// Close ends the stream and emits the rows still held.
	Close() error
}

// Streamer is a rule that can run over a stream of events.
type Streamer interface {
	Rule
	Start(ctx context.Context, emit func(Row) error) Feed
}

// Start runs the query over a stream.
func (r *SPLRule) Start(ctx context.Context, emit func(Row) error) Feed {
	f := &splFeed{rule: r}
	f.view.opts = &r.opts
	f.s = r.query.Stream(ctx, func(row spl.Row) error { return emit(toRow(row)) })
	return f
}

type splFeed struct {
	rule *SPLRule
	s    *spl.Stream
	view splView
}

func (f *splFeed) Push(ev *event.Event) error {
	f.view.ev = ev
	if err := f.s.Push(&f.view); err != nil {
		return fmt.Errorf("rule %s: %w", f.rule.id, err)
	}
	return nil
}

func (f *splFeed) Done() bool { return f.s.Done() }

func (f *splFeed) Close() error {
	if err := f.s.Close(); err != nil {
		return fmt.Errorf("rule %s: %w", f.rule.id, err)
	}
	return nil
}

func toRow(row spl.Row) Row {
	vals := make(map[string]string, len(row.Fields))
	for _, f := range row.Fields {
		if v := row.Get(f); !v.IsNull() {
			vals[f] = v.String()
		}
	}
	return Row{Fields: row.Fields, Values: vals, Sources: row.Sources}
}

// Start matches the rule against each event as it comes: a thin adapter
// over the per-event match, so that a set-wide matcher can take its place.
func (r *SigmaRule) Start(ctx context.Context, emit func(Row) error) Feed {
	return &sigmaFeed{ctx: ctx, rule: r, emit: emit}
}

type sigmaFeed struct {
	ctx  context.Context
	rule *SigmaRule
	emit func(Row) error
	n    int
}

func (f *sigmaFeed) Push(ev *event.Event) error {
	if f.n++; f.n%64 == 0 {
		if err := f.ctx.Err(); err != nil {
			return fmt.Errorf("rule %s: stopped: %w", f.rule.id, err)
		}
	}
	row, ok, err := f.rule.match(f.ctx, ev, f.n-1)
	if err != nil || !ok {
		return err
	}
	return f.emit(row)
}

func (f *sigmaFeed) Done() bool   { return false }
func (f *sigmaFeed) Close() error { return nil }

// Start runs any rule over a stream: a Streamer as events come, any other
// rule (one that needs every event, such as an Elastic sequence) over the
// events it holds until Close.
func Start(ctx context.Context, r Rule, emit func(Row) error) Feed {
	if s, ok := r.(Streamer); ok {
		return s.Start(ctx, emit)
	}
	return &heldFeed{ctx: ctx, rule: r, emit: emit}
}

type heldFeed struct {
	ctx    context.Context
	rule   Rule
	emit   func(Row) error
	events []event.Event
}

func (f *heldFeed) Push(ev *event.Event) error {
	f.events = append(f.events, *ev)
	return nil
}

func (f *heldFeed) Done() bool { return false }

func (f *heldFeed) Close() error {
	rows, err := f.rule.Evaluate(f.ctx, f.events)
	f.events = nil
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := f.emit(r); err != nil {
			return err
		}
	}
	return nil
}
