package validate

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"path"
	"strings"

	"github.com/t1567001/harness/validate/sigma"
)

// SigmaRule is a Sigma rule run by package sigma.
type SigmaRule struct {
	id   string
	rule *sigma.Rule
}

// NewSigmaRule loads the Sigma rule in data; its id is the file name
// without extension, as for every rule.
func NewSigmaRule(name string, data []byte) (*SigmaRule, error) {
	r, err := sigma.Load(name, data)
	if err != nil {
		return nil, err
	}
	return &SigmaRule{id: strings.TrimSuffix(path.Base(name), path.Ext(name)), rule: r}, nil
}

// ID is the rule's file name without extension.
func (r *SigmaRule) ID() string { return r.id }

// Kind is "sigma".
func (r *SigmaRule) Kind() string { return "sigma" }

// Evaluate yields a row per matching event, resting on that event: the
// rule's id, title and level, then the event's fields.
func (r *SigmaRule) Evaluate(ctx context.Context, events []event.Event) ([]Row, error) {
	var rows []Row
	for i := range events {
		row, ok, err := r.match(ctx, &events[i], i)
		if err != nil {
			return nil, err
		}
		if ok {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// match is the rule on one event, the i-th of its input: its row, resting
// on that event, when it matches.
func (r *SigmaRule) match(ctx context.Context, ev *event.Event, i int) (Row, bool, error) {
	if !r.rule.Applies(*ev) {
		return Row{}, false, nil
	}
	ok, err := r.rule.Matches(ctx, *ev)
	if err != nil {
		return Row{}, false, fmt.Errorf("rule %s: %w", r.id, err)
	}
	if !ok {
		return Row{}, false, nil
	}
	row := Row{
		Fields: []string{"rule_id", "title", "level", "EventCode", "host"},
		Values: map[string]string{"rule_id": r.rule.ID, "title": r.rule.Title, "level": r.rule.Level,
			"EventCode": fmt.Sprint(ev.EventID), "host": ev.Computer},
		Sources: []int{i},
	}
	for _, f := range ev.Data {
		if _, dup := row.Values[f.Name]; !dup {
			row.Fields = append(row.Fields, f.Name)
			row.Values[f.Name] = f.Value
		}
	}
	return row, true, nil
}

// Explain shows, selection by selection, how the events in the rule's
// logsource fared.
func (r *SigmaRule) Explain(ctx context.Context, events []event.Event, want Outcome) string {
	var matched, missed []string
	applicable := 0
	for _, ev := range events {
		if !r.rule.Applies(ev) {
			continue
		}
		applicable++
		ok, x, err := r.rule.Match(ctx, ev)
		switch {
		case err != nil:
			missed = append(missed, err.Error())
		case ok:
			matched = append(matched, indentLines(x.String()))
		default:
			missed = append(missed, indentLines(x.String()))
		}
	}
	var b strings.Builder
	switch {
	case applicable == 0:
		fmt.Fprintf(&b, "rule %s (%s) saw no event of its logsource %s", r.id, r.rule.Title, r.rule.Logsource)
	case !want.Fires:
		fmt.Fprintf(&b, "rule %s matches where it should stay silent:\n", r.id)
		writeList(&b, matched)
	default:
		fmt.Fprintf(&b, "rule %s matches none of the %d event(s) of its logsource:\n", r.id, applicable)
		if len(missed) > 5 {
			missed = append(missed[:5], fmt.Sprintf("... and %d more", len(missed)-5))
		}
		writeList(&b, missed)
	}
	return strings.TrimRight(b.String(), "\n")
}

func indentLines(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
