package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/text"
	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/elastic"
)

// ECSConverter reads an event as the ECS documents Elastic would store for
// it (telemetry renders them; validate does not import telemetry).
type ECSConverter func(e *event.Event) []map[string]any

// ElasticRule is an Elastic detection rule (TOML) run by package elastic
// over the events' ECS documents.
type ElasticRule struct {
	rule *elastic.Rule
	ecs  *ecsCache
}

// ecsCache reads each event as ECS documents once for every Elastic rule
// it goes to: the rules LoadRules loads share one, so that an event
// pushed to all of them in turn is rendered for the first only. The
// documents are never modified. It is safe for concurrent use.
type ecsCache struct {
	toECS ECSConverter
	mu    sync.Mutex
	ev    *event.Event
	key   ecsKey
	last  []core.Doc
}

// ecsKey tells apart the events a caller pushes through one reused Event.
type ecsKey struct {
	record           uint64
	time             time.Time
	id, fields       int
	channel, context string
	computer         string
}

func keyOf(ev *event.Event) ecsKey {
	return ecsKey{record: ev.RecordID, time: ev.TimeCreated, id: ev.EventID, fields: len(ev.Data), channel: ev.Channel, context: ev.Context, computer: ev.Computer}
}

// docs reads ev as ECS documents (an event may give several: Winlogbeat's
// shape and Elastic Defend's).
func (c *ecsCache) docs(ev *event.Event) []core.Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := keyOf(ev); c.ev != ev || c.key != k {
		ms := c.toECS(ev)
		c.last = make([]core.Doc, len(ms))
		for i, m := range ms {
			c.last[i] = core.FlattenDoc(m)
		}
		c.ev, c.key = ev, k
	}
	return c.last
}

// NewElasticRule loads the rule in data; its id is the file name without
// .toml, as Elastic names its rules' files.
func NewElasticRule(name string, data []byte, toECS ECSConverter) (*ElasticRule, error) {
	return newElasticRule(name, data, &ecsCache{toECS: toECS})
}

func newElasticRule(name string, data []byte, ecs *ecsCache) (*ElasticRule, error) {
	if ecs.toECS == nil {
		return nil, &elastic.Refused{Reason: "no ECS mapping to read events with"}
	}
	r, err := elastic.Load(name, data)
	if err != nil {
		return nil, err
	}
	return &ElasticRule{rule: r, ecs: ecs}, nil
}

// ID is the rule's file name without extension.
func (r *ElasticRule) ID() string { return r.rule.ID }

// Kind is "elastic-<type>" (elastic-eql, elastic-esql, ...).
func (r *ElasticRule) Kind() string { return "elastic-" + r.rule.Type }

// timeOrdered: a sequence joins its steps in time, new_terms alerts on a
// first sighting.
func (r *ElasticRule) timeOrdered() bool { return r.rule.TimeOrdered() }

// Start runs the rule over the events' ECS documents as they come (see
// elastic.Stream): a row per alert, with the rule's id, name, severity and
// risk score, then the alert's columns; its sources are the events under
// the documents the alert rests on.
func (r *ElasticRule) Start(ctx context.Context, emit func(Row) error) Feed {
	f := &elasticFeed{}
	f.s = r.rule.Stream(ctx, func(a elastic.Alert) error { return emit(r.row(a)) })
	f.docs = r.ecs.docs
	return f
}

type elasticFeed struct {
	s    *elastic.Stream
	docs func(*event.Event) []core.Doc
	n    int
	kept bool
}

func (f *elasticFeed) Push(ev *event.Event) error {
	f.kept = false
	for _, d := range f.docs(ev) {
		k, err := f.s.Push(d, f.n)
		if err != nil {
			return err
		}
		f.kept = f.kept || k
	}
	f.n++
	return nil
}

func (f *elasticFeed) Kept() bool { return f.kept }

func (f *elasticFeed) Done() bool { return false }
func (f *elasticFeed) Held() int  { return f.s.Held() }
func (f *elasticFeed) Oldest() int {
	if id, ok := f.s.Oldest(); ok {
		return id
	}
	return f.n
}
func (f *elasticFeed) Close() error { return f.s.Close() }

func (r *ElasticRule) row(a elastic.Alert) Row {
	row := Row{
		Fields: []string{"rule_id", "rule_name", "severity", "risk_score"},
		Values: []string{r.rule.RuleID, r.rule.Name, r.rule.Severity, fmt.Sprint(r.rule.RiskScore)},
	}
	for _, c := range a.Columns {
		row.add(c, strings.ReplaceAll(a.Values.Get(c).String(), "\n", ","))
	}
	row.Sources = slices.Clone(a.Sources)
	slices.Sort(row.Sources)
	row.Sources = slices.Compact(row.Sources)
	return row
}

// ruleFields is how many fields every row starts with (rule_id, rule_name,
// severity, risk_score) before the alert's own.
const ruleFields = 4

// Explainer says, in the rule's language, what the events lacked; or,
// where the rule should stay silent, on what it fired (from rows).
func (r *ElasticRule) Explainer(_ context.Context, want Outcome, rows []Row) Explainer {
	x := &elasticExplainer{r: r, want: want, rows: rows}
	if want.Fires {
		x.x = r.rule.Explainer()
	}
	return x
}

type elasticExplainer struct {
	r    *ElasticRule
	want Outcome
	rows []Row
	x    *elastic.Explainer
	n    int
}

func (x *elasticExplainer) Push(ev *event.Event) error {
	if x.x == nil {
		return nil
	}
	for _, d := range x.r.ecs.docs(ev) {
		x.x.Add(d, x.n)
	}
	x.n++
	return nil
}

func (x *elasticExplainer) String() string {
	r := x.r
	if x.want.Fires {
		return fmt.Sprintf("rule %s (%s, %s) does not fire:\n  %s", r.rule.ID, r.rule.Name, r.Kind(), indentLines(x.x.String()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rule %s (%s) fires %d time(s) where it should stay silent:", r.rule.ID, r.rule.Name, len(x.rows))
	for i, row := range x.rows {
		if i == 3 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(x.rows)-i)
			break
		}
		var parts []string
		for i := min(ruleFields, len(row.Fields)); i < len(row.Fields); i++ {
			v, _ := row.at(i)
			parts = append(parts, row.Fields[i]+"="+text.Clip(v, 80))
		}
		fmt.Fprintf(&b, "\n  - on %d event(s): %s", len(row.Sources), strings.Join(parts, " "))
	}
	return b.String()
}
