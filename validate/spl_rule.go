package validate

import (
	"context"
	"fmt"
	"strings"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/text"
	"github.com/t1567001/harness/validate/spl"
)

// SPLRule is a Splunk query run by package spl.
type SPLRule struct {
	id    string
	query *spl.Query
	opts  Options
}

// NewSPLRule parses src as the query of rule id.
func NewSPLRule(id, src string, opts Options) (*SPLRule, error) {
	return NewSPLRuleContext(context.Background(), id, src, opts)
}

// NewSPLRuleContext parses src within spl's default limits, stopping when
// ctx is done (a huge query takes a while).
func NewSPLRuleContext(ctx context.Context, id, src string, opts Options) (*SPLRule, error) {
	q, err := spl.ParseContext(ctx, src, spl.Limits{})
	if err != nil {
		return nil, err
	}
	return &SPLRule{id: id, query: q, opts: opts.withDefaults()}, nil
}

// ID is the rule's file name without extension.
func (r *SPLRule) ID() string { return r.id }

// Kind is "spl".
func (r *SPLRule) Kind() string { return "spl" }

// SPLEvent is an event as Splunk's XmlWinEventLog extraction presents it:
// every EventData name, EventCode, host, source, sourcetype and index.
func SPLEvent(ev event.Event, opts Options) spl.Event {
	m := ev.Fields()
	if index, sourcetype, ok := event.SplunkSource(ev.Channel); ok {
		m["index"], m["sourcetype"] = index, sourcetype
		return spl.Event(m)
	}
	m["index"] = opts.Index
	m["sourcetype"] = strings.ReplaceAll(opts.Sourcetype, "{channel}", ev.Channel)
	return spl.Event(m)
}

// Explainer follows every event through the query and reports what
// decides the outcome: for rows that fire, the eval values that scored
// them and the fields the rule reads that the event lacks; for a missing
// row, the events the search dropped nearest to matching, clause by
// clause.
func (r *SPLRule) Explainer(_ context.Context, want Outcome, rows []Row) Explainer {
	x := &splExplainer{rule: r, want: want}
	if len(rows) > 0 {
		x.fields = rows[0].Fields
	}
	return x
}

type splExplainer struct {
	rule          *SPLRule
	want          Outcome
	fields        []string
	kept, dropped listed
	// misses are the first nearest misses of the search: those that fail
	// the fewest clauses (best).
	misses []string
	best   int
}

// maxListed is how many examples an explanation lists of each kind.
const maxListed = 20

// listed is a list of examples, the first maxListed and how many more.
type listed struct {
	items []string
	more  int
}

func (l *listed) add(s string) {
	if len(l.items) < maxListed {
		l.items = append(l.items, s)
		return
	}
	l.more++
}

func (l *listed) write(b *strings.Builder) {
	writeList(b, l.items)
	if l.more > 0 {
		fmt.Fprintf(b, "  - ... and %d more\n", l.more)
	}
}

func (x *splExplainer) Push(ev *event.Event) error {
	r := x.rule
	sev := SPLEvent(*ev, r.opts)
	e := r.query.Explain(sev)
	switch {
	case e.Kept:
		set := evalValues(e)
		if x.want.Signal != "" && set["Signal"] != "" && set["Signal"] != x.want.Signal {
			return nil
		}
		x.kept.add(fmt.Sprintf("%s gives a row: %s%s", describe(*ev), formatSet(e), absent(*ev, x.fields, e)))
	case e.Search != nil && e.Search.Matched:
		last := e.Stages[len(e.Stages)-1]
		x.dropped.add(fmt.Sprintf("%s passes the search but %q drops it: %s", describe(*ev), text.OneLine(last.Command), formatSet(e)))
	case e.Search != nil:
		if x.want.Signal != "" && !wouldCarry(r.query.Hypothetical(sev), x.want.Signal) {
			return nil // even a match would not have given the signal asked for
		}
		fails := failing(e.Search)
		if len(x.misses) > 0 && len(fails) > x.best || len(x.misses) == 5 && len(fails) == x.best {
			return nil
		}
		var parts []string
		for _, f := range fails {
			parts = append(parts, leafText(f))
		}
		if len(x.misses) == 0 || len(fails) < x.best {
			x.misses, x.best = x.misses[:0], len(fails)
		}
		x.misses = append(x.misses, describe(*ev)+": "+strings.Join(parts, "; "))
	}
	return nil
}

func (x *splExplainer) String() string {
	r, want := x.rule, x.want
	var b strings.Builder
	if !want.Fires {
		if len(x.kept.items) == 0 {
			return fmt.Sprintf("rule %s yields no row for %s", r.id, want)
		}
		fmt.Fprintf(&b, "rule %s fires where %s was expected:\n", r.id, want)
		x.kept.write(&b)
		return strings.TrimRight(b.String(), "\n")
	}
	fmt.Fprintf(&b, "rule %s yields no row for %s.\n", r.id, want)
	if len(x.kept.items) > 0 {
		b.WriteString("Rows it does yield:\n")
		x.kept.write(&b)
	}
	if len(x.dropped.items) > 0 {
		b.WriteString("Events that pass the search and are dropped later:\n")
		x.dropped.write(&b)
	}
	if len(x.misses) > 0 {
		b.WriteString("Nearest misses of the search:\n")
		writeList(&b, x.misses)
	}
	return strings.TrimRight(b.String(), "\n")
}

// failing returns the smallest set of search clauses that, had they
// matched, would have let the event through: every failing side of an AND,
// and the nearest alternative of an OR.
func failing(t *spl.Trace) []*spl.Trace {
	if t.Matched {
		return nil
	}
	switch t.Op {
	case "AND":
		var out []*spl.Trace
		for _, c := range t.Children {
			out = append(out, failing(c)...)
		}
		return out
	case "OR":
		if sameFieldLeaves(t) {
			return []*spl.Trace{t}
		}
		var best []*spl.Trace
		for _, c := range t.Children {
			if f := failing(c); best == nil || len(f) < len(best) {
				best = f
			}
		}
		return best
	}
	return []*spl.Trace{t}
}

// sameFieldLeaves reports whether t is an OR of tests on one field, which
// reads best as one clause: none of (...) matched.
func sameFieldLeaves(t *spl.Trace) bool {
	field := ""
	for _, c := range t.Children {
		if len(c.Children) > 0 || c.Field == "" || (field != "" && c.Field != field) {
			return false
		}
		field = c.Field
	}
	return field != ""
}

func leafText(t *spl.Trace) string {
	field := t.Field
	if t.Op == "OR" && len(t.Children) > 0 {
		field = t.Children[0].Field
		for _, c := range t.Children {
			if c.Present {
				return fmt.Sprintf("none of %s (%d:%d) matched %s=%q", text.Clip(t.Text, 160), t.Line, t.Column, field, text.Clip(c.Actual, 160))
			}
		}
		return fmt.Sprintf("%s (%d:%d) failed: the event has no %s field", text.Clip(t.Text, 160), t.Line, t.Column, field)
	}
	if field != "" && !t.Present {
		return fmt.Sprintf("%s (%d:%d) failed: the event has no %s field", text.Clip(t.Text, 160), t.Line, t.Column, field)
	}
	if field != "" {
		return fmt.Sprintf("%s (%d:%d) did not match %s=%q", text.Clip(t.Text, 160), t.Line, t.Column, field, text.Clip(t.Actual, 160))
	}
	return fmt.Sprintf("%s (%d:%d) did not match", text.Clip(t.Text, 160), t.Line, t.Column)
}

func wouldCarry(set []spl.FieldValue, signal string) bool {
	for _, f := range set {
		if f.Field == "Signal" && f.Value.String() == signal {
			return true
		}
	}
	return false
}

func evalValues(x *spl.Explanation) map[string]string {
	m := map[string]string{}
	for _, s := range x.Stages {
		for _, f := range s.Set {
			m[f.Field] = f.Value.String()
		}
	}
	return m
}

func formatSet(x *spl.Explanation) string {
	var parts []string
	for _, s := range x.Stages {
		for _, f := range s.Set {
			v := f.Value.String()
			if f.Value.IsNull() {
				v = "null"
			}
			parts = append(parts, f.Field+"="+v)
		}
	}
	return strings.Join(parts, ", ")
}

// absent names the fields an eval of the rule reads that the event does
// not have: the usual reason an exception on a field can never apply.
func absent(ev event.Event, fields []string, x *spl.Explanation) string {
	m := ev.Fields()
	var missing []string
	for _, f := range fields {
		if _, ok := m[f]; !ok && f != "_time" && !assignedByEval(x, f) && readByEval(x, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("; this Event ID %d has no %s field", ev.EventID, strings.Join(missing, ", "))
}

// readByEval reports whether an eval command of the explained pipeline
// names field (as a whole word of its text).
func readByEval(x *spl.Explanation, field string) bool {
	for _, s := range x.Stages {
		if len(s.Set) == 0 {
			continue
		}
		for _, w := range strings.FieldsFunc(s.Command, func(r rune) bool {
			return !(r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
		}) {
			if w == field {
				return true
			}
		}
	}
	return false
}

// assignedByEval reports whether an eval of the pipeline creates field:
// such a field is never on an event, so naming it as absent is noise.
func assignedByEval(x *spl.Explanation, field string) bool {
	for _, s := range x.Stages {
		for _, f := range s.Set {
			if f.Field == field {
				return true
			}
		}
	}
	return false
}

func describe(ev event.Event) string {
	m := ev.Fields()
	switch {
	case ev.Channel == event.ProxyChannel:
		return fmt.Sprintf("proxy log (%s %s %s, cs-host=%q, %s bytes out, %s in)", m["c-ip"], m["cs-method"], text.Clip(m["c-uri"], 120), m["cs-host"], m["cs-bytes"], m["sc-bytes"])
	case event.IsNetwork(ev.Channel):
		return fmt.Sprintf("Zeek %s.log (%s:%s -> %s:%s, uid %s)", event.ZeekLog(ev.Channel), m["id.orig_h"], m["id.orig_p"], m["id.resp_h"], m["id.resp_p"], m["uid"])
	}
	what := m["Image"]
	if what == "" {
		what = m["NewProcessName"]
	}
	switch ev.EventID {
	case 1, 4688:
		return fmt.Sprintf("EventCode %d on %s (%s: %s)", ev.EventID, ev.Computer, what, text.Clip(m["CommandLine"], 160))
	case 3:
		return fmt.Sprintf("EventCode 3 on %s (%s -> %s:%s, DestinationHostname=%q)", ev.Computer, what, m["DestinationIp"], m["DestinationPort"], m["DestinationHostname"])
	case 22:
		return fmt.Sprintf("EventCode 22 on %s (%s asks for %s)", ev.Computer, what, m["QueryName"])
	case 4663:
		return fmt.Sprintf("EventCode 4663 on %s (%s reads %s)", ev.Computer, m["ProcessName"], m["ObjectName"])
	}
	return fmt.Sprintf("EventCode %d on %s (%s)", ev.EventID, ev.Computer, what)
}

func writeList(b *strings.Builder, items []string) {
	for _, it := range items {
		b.WriteString("  - ")
		b.WriteString(it)
		b.WriteByte('\n')
	}
}
