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
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/elastic"
	"github.com/t1567001/harness/validate/sigma"
)

// Row is one result row, its fields in the rule's order.
type Row struct {
	// Fields may be shared by the rows of one run: append to them, but
	// copy them before changing one in place.
	Fields []string
	// Values are beside Fields, Values[i] the value of Fields[i]: a slice
	// rather than a map, as a row is built for every event a rule keeps.
	// A field past the end of Values, or marked in Null, has no value.
	Values []string
	// Null marks the fields without a value (null in SPL, which is not
	// the empty string); nil when every field has one.
	Null []bool
	// Sources are the indexes, in the events the rule ran over, of the
	// events the row rests on: the matched event for Sigma, every event a
	// stats row aggregates for SPL. A row with no sources rests on nothing.
	Sources []int
}

// Value returns the value of field, and whether the row has one.
func (r Row) Value(field string) (string, bool) {
	for i, f := range r.Fields {
		if f == field {
			return r.at(i)
		}
	}
	return "", false
}

// at returns the value of the i-th field, and whether it has one.
func (r Row) at(i int) (string, bool) {
	if i >= len(r.Values) || i < len(r.Null) && r.Null[i] {
		return "", false
	}
	return r.Values[i], true
}

// add appends field with value, unless the row has the field already.
func (r *Row) add(field, value string) {
	if slices.Contains(r.Fields, field) {
		return
	}
	r.Fields = append(r.Fields, field)
	r.Values = append(r.Values, value)
}

// MarshalJSON writes the row as an object keyed by its fields, in order,
// as SPL result rows are written: a field without a value is null.
func (r Row) MarshalJSON() ([]byte, error) {
	return core.MarshalObject(r.Fields, func(i int) ([]byte, error) {
		v, ok := r.at(i)
		if !ok {
			return []byte("null"), nil
		}
		return json.Marshal(v)
	})
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

// Rule is a detection rule the validator runs, over a stream of events:
// it keeps only what it needs, never every event (Evaluate and Explain
// run it over events held in memory).
type Rule interface {
	ID() string
	Kind() string
	// Start runs the rule over events pushed one at a time, in time order
	// as recordings are; rows go to emit as the rule yields them, each
	// with the events it rests on (Row.Sources).
	Start(ctx context.Context, emit func(Row) error) Feed
	// Explainer follows the same events again and says, in the rule's
	// terms, why they give (or do not give) the outcome want; rows are
	// what the rule yielded on them.
	Explainer(ctx context.Context, want Outcome, rows []Row) Explainer
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
	// SigmaPlaceholders are the values of %name% for Sigma's expand
	// modifier (see sigma.ParsePlaceholders); a rule naming one not given
	// here is unsupported.
	SigmaPlaceholders map[string][]string
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
	var sigmaCfg *sigma.Config // read once, at the first Sigma file
	type sigmaFile struct {
		path string
		c    *sigma.Collection
	}
	var sigmaFiles []sigmaFile
	lib := &sigma.Collection{}
	ecs := &ecsCache{toECS: opts.ECS}
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
			if sigmaCfg == nil {
				m, err := sigma.DefaultMapping()
				if err != nil {
					return err
				}
				sigmaCfg = &sigma.Config{Mapping: m, Placeholders: opts.SigmaPlaceholders}
			}
			c, err := sigma.ParseFile(p, data, sigmaCfg)
			if err != nil {
				// A rule the engine cannot run is reported, not fatal: rule
				// folders hold rules for many log sources.
				unsupported = append(unsupported, Unsupported{Path: p, Reason: err.Error()})
				return nil
			}
			sigmaFiles = append(sigmaFiles, sigmaFile{p, c})
			lib.Rules = append(lib.Rules, c.Rules...)
			lib.Correlations = append(lib.Correlations, c.Correlations...)
			lib.Filters = append(lib.Filters, c.Filters...)
		case ".toml":
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			r, err := newElasticRule(p, data, ecs)
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
	// A Sigma file's correlations and filters may name rules of other
	// files in the folder.
	for _, f := range sigmaFiles {
		c := f.c.Complete(lib)
		if len(f.c.Rules)+len(f.c.Correlations) == 0 {
			// A file of filters only: they act in the files of the rules
			// they name, and must name one.
			if _, err := sigma.Compile(&sigma.Collection{Rules: lib.Rules, Filters: f.c.Filters}); err != nil {
				unsupported = append(unsupported, Unsupported{Path: f.path, Reason: err.Error()})
			}
			continue
		}
		r, err := sigmaRuleOf(f.path, c)
		if err != nil {
			unsupported = append(unsupported, Unsupported{Path: f.path, Reason: err.Error()})
			continue
		}
		rules = append(rules, r)
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
