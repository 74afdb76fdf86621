package validate

import (
	"context"
	"fmt"
	"sort"
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

func (r *ElasticRule) docs(events []event.Event) []core.Doc {
	var docs []core.Doc
	for i := range events {
		for _, d := range r.toECS(&events[i]) {
			docs = append(docs, core.FlattenDoc(d))
		}
	}
	return docs
}

// Evaluate yields a row per alert: the rule's id and name, what the alert
// rests on (provenance of its documents, how many), then its columns.
func (r *ElasticRule) Evaluate(ctx context.Context, events []event.Event) ([]Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	docs := r.docs(events)
	var rows []Row
	for _, a := range r.rule.Run(docs) {
		row := Row{
			Fields: []string{"rule_id", "rule_name", "severity", "risk_score", "provenance", "documents"},
			Values: map[string]string{"rule_id": r.rule.RuleID, "rule_name": r.rule.Name, "severity": r.rule.Severity,
				"risk_score": fmt.Sprint(r.rule.RiskScore), "provenance": provenanceOf(docs, a.Sources), "documents": fmt.Sprint(len(a.Sources))},
		}
		for _, c := range a.Columns {
			if _, dup := row.Values[c]; dup {
				continue
			}
			row.Fields = append(row.Fields, c)
			row.Values[c] = strings.ReplaceAll(a.Values.Get(c).String(), "\n", ",")
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func provenanceOf(docs []core.Doc, src []int) string {
	seen := map[string]bool{}
	for _, i := range src {
		p, ok := docs[i].Get("harness.provenance").Text()
		if !ok {
			p = string(event.Recorded)
		}
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Explain says, in the rule's language, what the events lacked.
func (r *ElasticRule) Explain(ctx context.Context, events []event.Event, want Outcome) string {
	docs := r.docs(events)
	if want.Fires {
		return fmt.Sprintf("rule %s (%s, %s) does not fire:\n  %s", r.rule.ID, r.rule.Name, r.Kind(), indentLines(r.rule.Explain(docs)))
	}
	n := len(r.rule.Run(docs))
	return fmt.Sprintf("rule %s (%s) fires %d time(s) where it should stay silent", r.rule.ID, r.rule.Name, n)
}
