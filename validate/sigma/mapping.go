package sigma

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/t1567001/harness/event"
)

//go:embed logsources.yml
var defaultMapping []byte

// Mapping says which events a Sigma logsource selects, and under which
// field names a rule sees them. It is data (logsources.yml, embedded);
// DefaultMapping reads it, ParseMapping reads another.
type Mapping struct {
	sources   []mappedSource
	fieldmaps map[string]map[string]fieldSource
}

type mappedSource struct {
	Logsource
	events []*Selector
}

// Selector is one kind of event: a channel (or provider), event IDs and
// field values. The zero EventIDs selects any event of the channel.
type Selector struct {
	Channel  string
	Provider string
	EventIDs []int
	// Fields must all be equal (case-insensitive) in the event.
	Fields map[string]string
	// FieldMap names the fieldmap of these events, or is empty.
	FieldMap string

	fields map[string]fieldSource
}

// fieldSource is a rule field computed from the event's own fields.
type fieldSource struct {
	From      []string `yaml:"from"`
	Transform string   `yaml:"transform"`
}

var transforms = map[string]func([]string) string{
	"":                func(v []string) string { return v[0] },
	"hex_to_decimal":  func(v []string) string { return decimalPID(v[0]) },
	"integrity_level": func(v []string) string { return integrityLevels[strings.ToUpper(v[0])] },
	"domain_user": func(v []string) string {
		if d := v[0]; d != "" && d != "-" {
			return d + `\` + v[1]
		}
		return v[1]
	},
}

// DefaultMapping returns the embedded mapping.
func DefaultMapping() (*Mapping, error) {
	return ParseMapping("logsources.yml", defaultMapping)
}

// ParseMapping reads a mapping in the format of logsources.yml.
func ParseMapping(name string, data []byte) (*Mapping, error) {
	var raw struct {
		Fieldmaps map[string]map[string]fieldSource `yaml:"fieldmaps"`
		Sources   []struct {
			Product  string `yaml:"product"`
			Category string `yaml:"category"`
			Service  string `yaml:"service"`
			Events   []struct {
				Channel  string            `yaml:"channel"`
				Provider string            `yaml:"provider"`
				EventID  []int             `yaml:"event_id"`
				Fields   map[string]string `yaml:"fields"`
				FieldMap string            `yaml:"fieldmap"`
			} `yaml:"events"`
		} `yaml:"sources"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("logsource mapping %s: %w", name, err)
	}
	m := &Mapping{fieldmaps: raw.Fieldmaps}
	for fm, fields := range raw.Fieldmaps {
		for f, src := range fields {
			if _, ok := transforms[src.Transform]; !ok {
				return nil, fmt.Errorf("logsource mapping %s: fieldmap %s field %s: unknown transform %q", name, fm, f, src.Transform)
			}
			want := 1
			if src.Transform == "domain_user" {
				want = 2
			}
			if len(src.From) != want {
				return nil, fmt.Errorf("logsource mapping %s: fieldmap %s field %s: transform %q takes %d field(s), got %d", name, fm, f, src.Transform, want, len(src.From))
			}
		}
	}
	for i, s := range raw.Sources {
		if s.Product == "" && s.Category == "" && s.Service == "" {
			return nil, fmt.Errorf("logsource mapping %s: source %d has no product, category or service", name, i+1)
		}
		ms := mappedSource{Logsource: Logsource{Product: s.Product, Category: s.Category, Service: s.Service}}
		for _, e := range s.Events {
			if e.Channel == "" && e.Provider == "" {
				return nil, fmt.Errorf("logsource mapping %s: %s: an event needs a channel or a provider", name, ms.Logsource)
			}
			sel := &Selector{Channel: e.Channel, Provider: e.Provider, EventIDs: e.EventID, Fields: e.Fields, FieldMap: e.FieldMap}
			if e.FieldMap != "" {
				fm, ok := raw.Fieldmaps[e.FieldMap]
				if !ok {
					return nil, fmt.Errorf("logsource mapping %s: %s: unknown fieldmap %q", name, ms.Logsource, e.FieldMap)
				}
				sel.fields = fm
			}
			ms.events = append(ms.events, sel)
		}
		if len(ms.events) == 0 {
			return nil, fmt.Errorf("logsource mapping %s: %s selects no events", name, ms.Logsource)
		}
		m.sources = append(m.sources, ms)
	}
	return m, nil
}

// Selectors returns the events a rule's logsource selects, or why none.
func (m *Mapping) Selectors(l Logsource) ([]*Selector, error) {
	prod, cat, svc := strings.ToLower(l.Product), strings.ToLower(l.Category), strings.ToLower(l.Service)
	if prod == "" && cat == "" && svc == "" {
		return nil, fmt.Errorf("logsource is empty")
	}
	find := func(c, s string) []*Selector {
		var out []*Selector
		for _, ms := range m.sources {
			if strings.EqualFold(ms.Category, c) && strings.EqualFold(ms.Service, s) &&
				(prod == "" || strings.EqualFold(ms.Product, prod) || ms.Product == "") {
				out = append(out, ms.events...)
			}
		}
		return out
	}
	switch {
	case cat != "" && svc != "":
		byCat, bySvc := find(cat, ""), find("", svc)
		if len(byCat) == 0 || len(bySvc) == 0 {
			return nil, fmt.Errorf("logsource %s has no source in the logsource mapping", l)
		}
		var out []*Selector
		for _, c := range byCat {
			if slices.ContainsFunc(bySvc, func(s *Selector) bool { return s.sameLog(c) }) {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("logsource %s is inconsistent: service %s does not log %s events", l, l.Service, l.Category)
		}
		return out, nil
	case cat != "" || svc != "":
		if out := find(cat, svc); len(out) > 0 {
			return out, nil
		}
	default:
		if out := find("", ""); len(out) > 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("logsource %s has no source in the logsource mapping", l)
}

// Logsources lists the mapping's logsources an event belongs to: how a
// reader routes an event to the rules that can see it.
func (m *Mapping) Logsources(ev *event.Event) []Logsource {
	var out []Logsource
	for _, ms := range m.sources {
		for _, s := range ms.events {
			if s.Channel != "*" && s.Matches(ev) {
				out = append(out, ms.Logsource)
				break
			}
		}
	}
	return out
}

func (s *Selector) sameLog(o *Selector) bool {
	if s.Channel != "" && o.Channel != "" {
		return strings.EqualFold(s.Channel, o.Channel)
	}
	return s.Provider != "" && strings.EqualFold(s.Provider, o.Provider)
}

// Matches reports whether the event is one the selector selects.
func (s *Selector) Matches(ev *event.Event) bool {
	// The cheap tests first: the event ID, then the channel as written.
	if len(s.EventIDs) > 0 && !slices.Contains(s.EventIDs, ev.EventID) {
		return false
	}
	switch {
	case s.Channel == "*":
	case ev.Channel != "":
		if ev.Channel != s.Channel && !strings.EqualFold(ev.Channel, s.Channel) {
			return false
		}
	case s.Provider == "" || !strings.EqualFold(ev.Provider.Name, s.Provider):
		return false
	}
	for k, v := range s.Fields {
		got, ok := ev.Get(k)
		if !ok || !strings.EqualFold(got, v) {
			return false
		}
	}
	return true
}

func (s *Selector) String() string {
	name := s.Channel
	if name == "" || name == "*" {
		name = s.Provider
	}
	if name == "" {
		name = "any channel"
	}
	switch short := strings.TrimPrefix(strings.TrimSuffix(name, "/Operational"), "Microsoft-Windows-"); {
	case short != name:
		name = short
	}
	if len(s.EventIDs) > 0 {
		ids := make([]string, len(s.EventIDs))
		for i, id := range s.EventIDs {
			ids[i] = strconv.Itoa(id)
		}
		name += " " + strings.Join(ids, "/")
	}
	for k, v := range s.Fields {
		name += " " + k + "=" + v
	}
	return name
}

var integrityLevels = map[string]string{
	"S-1-16-0":     "Untrusted",
	"S-1-16-4096":  "Low",
	"S-1-16-8192":  "Medium",
	"S-1-16-8448":  "MediumPlus",
	"S-1-16-12288": "High",
	"S-1-16-16384": "System",
	"S-1-16-20480": "Protected",
}

// decimalPID turns 4688's "0x1a2c" into Sysmon's "6700"; other text is
// kept as is.
func decimalPID(s string) string {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if n, err := strconv.ParseUint(h, 16, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
	}
	return s
}
