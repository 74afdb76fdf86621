package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/elastic"
)

// ECSConverter reads an event as the ECS documents Elastic would store for
// it (telemetry renders them; validate does not import telemetry).
type ECSConverter func(e *event.Event) []map[string]any

// ElasticRule is an Elastic detection rule (TOML) run by package elastic
// over the events' ECS documents.
type ElasticRule struct {
	rule  *elastic.Rule
	toECS ECSConverter
}

// NewElasticRule loads the rule in data; its id is the file name without
// .toml, as Elastic names its rules' files.
func NewElasticRule(name string, data []byte, toECS ECSConverter) (*ElasticRule, error) {
	if toECS == nil {
		return nil, &elastic.Refused{Reason: "no ECS mapping to read events with"}
	}
	r, err := elastic.Load(name, data)
	if err != nil {
		return nil, err
	}
	return &ElasticRule{rule: r, toECS: toECS}, nil
}

// ID is the rule's file name without extension.
func (r *ElasticRule) ID() string { return r.rule.ID }

// Kind is "elastic-<type>" (elastic-eql, elastic-esql, ...).
func (r *ElasticRule) Kind() string { return "elastic-" + r.rule.Type }

// docs reads events as ECS documents; owner[i] is the index of the event
// document i came from (an event may give several: Winlogbeat's shape and
// Elastic Defend's).
func (r *ElasticRule) docs(events []event.Event) (docs []core.Doc, owner []int) {
	for i := range events {
		for _, d := range r.toECS(&events[i]) {
			docs = append(docs, core.FlattenDoc(d))
			owner = append(owner, i)
		}
	}
	return docs, owner
}

// Evaluate yields a row per alert: the rule's id, name, severity and risk
// score, then the alert's columns; its sources are the events under the
// documents the alert rests on.
func (r *ElasticRule) Evaluate(ctx context.Context, events []event.Event) ([]Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	docs, owner := r.docs(events)
	var rows []Row
	for _, a := range r.rule.Run(docs) {
		row := Row{
			Fields: []string{"rule_id", "rule_name", "severity", "risk_score"},
			Values: map[string]string{"rule_id": r.rule.RuleID, "rule_name": r.rule.Name, "severity": r.rule.Severity,
				"risk_score": fmt.Sprint(r.rule.RiskScore)},
		}
		for _, c := range a.Columns {
			if _, dup := row.Values[c]; dup {
				continue
			}
			row.Fields = append(row.Fields, c)
			row.Values[c] = strings.ReplaceAll(a.Values.Get(c).String(), "\n", ",")
		}
		for _, d := range a.Sources {
			row.Sources = append(row.Sources, owner[d])
		}
		slices.Sort(row.Sources)
		row.Sources = slices.Compact(row.Sources)
		rows = append(rows, row)
	}
	return rows, nil
}

// Explain says, in the rule's language, what the events lacked.
func (r *ElasticRule) Explain(ctx context.Context, events []event.Event, want Outcome) string {
	docs, _ := r.docs(events)
	if want.Fires {
		return fmt.Sprintf("rule %s (%s, %s) does not fire:\n  %s", r.rule.ID, r.rule.Name, r.Kind(), indentLines(r.rule.Explain(docs)))
	}
	alerts := r.rule.Run(docs)
	var b strings.Builder
	fmt.Fprintf(&b, "rule %s (%s) fires %d time(s) where it should stay silent:", r.rule.ID, r.rule.Name, len(alerts))
	for i, a := range alerts {
		if i == 3 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(alerts)-i)
			break
		}
		var parts []string
		for _, c := range a.Columns {
			v := a.Values.Get(c).String()
			if len(v) > 80 {
				v = v[:77] + "..."
			}
			parts = append(parts, c+"="+strings.ReplaceAll(v, "\n", ","))
		}
		fmt.Fprintf(&b, "\n  - on %d document(s): %s", len(a.Sources), strings.Join(parts, " "))
	}
	return b.String()
}
