// Package validate runs detection rules over rendered telemetry and checks
// each atomic's expectations: for every host context and rule, whether the
// rule fires with the expected Signal and SuspicionScore or stays silent.
// When an expectation fails, or when a rule cannot do what its author meant,
// the verdict says why in the rule's own terms: which search clause failed
// on which field of which event, or which eval produced the score.
//
// Every row a rule yields names the events it rests on, and a verdict lists
// them with their provenance (event.Provenance). An expectation that a rule
// fires holds only when a row giving that outcome rests on an observed (or
// recorded) event, unless the expectation accepts declared, modelled or
// simulated evidence: a detection that rests on nothing a run observed does
// not pass.
package validate

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/t1567001/harness/validate/elastic"
	"github.com/t1567001/harness/validate/spl"
)

// Row is one result row, its fields in the rule's order.
type Row struct {
	Fields []string
	Values map[string]string
	// Sources are the indexes, in the events the rule ran over, of the
	// events the row rests on: the matched event for Sigma, every event a
	// stats row aggregates for SPL. A row with no sources rests on nothing.
	Sources []int
}

// MarshalJSON writes the row as an object keyed by its fields, in order,
// as SPL result rows are written.
func (r Row) MarshalJSON() ([]byte, error) {
	vals := make(map[string]spl.Value, len(r.Values))
	for k, v := range r.Values {
		vals[k] = spl.StringValue(v)
	}
	return spl.Row{Fields: r.Fields, Values: vals}.MarshalJSON()
}

// Outcome is what a rule does, or should do, for an expectation: fire with
// a row carrying Signal (and Score), or stay silent.
type Outcome struct {
	Fires  bool   `json:"fires"`
	Signal string `json:"signal,omitempty"`
	Score  *int   `json:"score,omitempty"`
}

func (o Outcome) String() string {
	if !o.Fires {
		if o.Signal != "" {
			return "no " + o.Signal + " row"
		}
		return "silent"
	}
	s := "fires"
	if o.Signal != "" {
		s += " " + o.Signal
	}
	if o.Score != nil {
		s += "/" + strconv.Itoa(*o.Score)
	}
	return s
}

// Rule is a detection rule the validator runs.
type Rule interface {
	ID() string
	Kind() string
	// Evaluate runs the rule over events and returns its result rows,
	// each with the events it rests on (Row.Sources).
	Evaluate(ctx context.Context, events []event.Event) ([]Row, error)
	// Explain says, in the rule's terms, why the events give (or do not
	// give) the outcome want.
	Explain(ctx context.Context, events []event.Event, want Outcome) string
}

// Unsupported is a rule file that cannot be evaluated, and why.
type Unsupported struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Options tune how events are presented to rules.
type Options struct {
	// Index is the Splunk index every event is in (default wineventlog).
	Index string
	// Sourcetype is the Splunk sourcetype, with {channel} standing for the
	// event's channel (default XmlWinEventLog:{channel}, as in the seed).
	Sourcetype string
	// ECS reads events as ECS documents for Elastic rules (*.toml); without
	// it those rules are reported unsupported.
	ECS ECSConverter
}

func (o Options) withDefaults() Options {
	if o.Index == "" {
		o.Index = "wineventlog"
	}
	if o.Sourcetype == "" {
		o.Sourcetype = "XmlWinEventLog:{channel}"
	}
	return o
}

// LoadRules loads every rule in fsys: *.spl files as Splunk queries, *.yml
// and *.yaml as Sigma rules, *.toml as Elastic rules. A rule's id is its file name without the
// extension. Files that cannot be used are returned as Unsupported; a rule
// that does not parse is an error naming the file and position.
func LoadRules(fsys fs.FS, opts Options) ([]Rule, []Unsupported, error) {
	opts = opts.withDefaults()
	var rules []Rule
	var unsupported []Unsupported
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch path.Ext(p) {
		case ".spl":
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			r, err := NewSPLRule(strings.TrimSuffix(path.Base(p), ".spl"), string(data), opts)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			rules = append(rules, r)
		case ".yml", ".yaml":
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			r, err := NewSigmaRule(p, data)
			if err != nil {
				// A rule the engine cannot run is reported, not fatal: rule
				// folders hold rules for many log sources.
				unsupported = append(unsupported, Unsupported{Path: p, Reason: err.Error()})
				return nil
			}
			rules = append(rules, r)
		case ".toml":
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			r, err := NewElasticRule(p, data, opts.ECS)
			if elastic.IsRefused(err) {
				unsupported = append(unsupported, Unsupported{Path: p, Reason: err.Error()})
				return nil
			}
			if err != nil {
				return err
			}
			rules = append(rules, r)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID() < rules[j].ID() })
	return rules, unsupported, nil
}

// ByID indexes rules by id.
func ByID(rules []Rule) map[string]Rule {
	m := make(map[string]Rule, len(rules))
	for _, r := range rules {
		m[r.ID()] = r
	}
	return m
}
