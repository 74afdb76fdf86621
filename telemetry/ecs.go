package telemetry

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/t1567001/harness/event"
)

// The ECS mapping is data: ecs.yaml says, field by field, how each event
// becomes one or more Elastic Common Schema documents (Winlogbeat's Sysmon,
// Security and PowerShell modules; Elastic Defend; the GitHub integration).
//
//go:embed ecs.yaml
var ecsYAML []byte

// ECSMapping is the loaded mapping.
type ECSMapping struct {
	Groups map[string]ecsRules `yaml:"groups"`
	Events []ecsSource         `yaml:"events"`
}

type ecsSource struct {
	Channel string    `yaml:"channel"`
	ID      int       `yaml:"id"` // 0: any event of the channel
	Docs    []ecsRule `yaml:"docs"`
}

type ecsRule struct {
	ecsRules `yaml:",inline"`
	Dataset  string   `yaml:"dataset"`
	Shape    string   `yaml:"shape"`
	Include  []string `yaml:"include"`
}

type ecsRules struct {
	Set    map[string]any `yaml:"set"`
	Fields []ecsField     `yaml:"fields"`
}

type ecsField struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
	As   string `yaml:"as"`
}

// ECSDoc is one ECS document: dotted field names to values (string, int,
// bool, []string), as Elasticsearch accepts them.
type ECSDoc map[string]any

// LoadECSMapping parses a mapping; nil data means the embedded one.
func LoadECSMapping(data []byte) (*ECSMapping, error) {
	if data == nil {
		data = ecsYAML
	}
	m := &ECSMapping{}
	if err := yaml.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("ecs mapping: %w", err)
	}
	for _, src := range m.Events {
		for _, d := range src.Docs {
			for _, g := range d.Include {
				if _, ok := m.Groups[g]; !ok {
					return nil, fmt.Errorf("ecs mapping: %s/%d includes unknown group %q", src.Channel, src.ID, g)
				}
			}
			for _, f := range append(append([]ecsField(nil), d.Fields...), m.groupFields(d.Include)...) {
				if _, ok := transforms[f.As]; !ok {
					return nil, fmt.Errorf("ecs mapping: %s/%d: %s -> %s: unknown transform %q", src.Channel, src.ID, f.From, f.To, f.As)
				}
			}
		}
	}
	return m, nil
}

func (m *ECSMapping) groupFields(names []string) []ecsField {
	var out []ecsField
	for _, g := range names {
		out = append(out, m.Groups[g].Fields...)
	}
	return out
}

// Render converts one event into its ECS documents under profile p (nil:
// no profile data, so no code signatures). An event the mapping does not
// name gives none.
func (m *ECSMapping) Render(p *Profile, e *event.Event) []ECSDoc {
	var out []ECSDoc
	for _, src := range m.Events {
		if src.Channel != e.Channel || (src.ID != 0 && src.ID != e.EventID) {
			continue
		}
		for _, r := range src.Docs {
			d := ECSDoc{}
			consumed := map[string]bool{}
			for _, g := range r.Include {
				apply(d, m.Groups[g], p, e, consumed)
			}
			apply(d, r.ecsRules, p, e, consumed)
			for _, g := range append(slices.Clone(r.Include), "") {
				rules := r.ecsRules
				if g != "" {
					rules = m.Groups[g]
				}
				for _, f := range rules.Fields {
					if f.From != "$event_data" {
						continue
					}
					// What the pipeline does not rename stays under
					// winlog.event_data.
					for _, x := range e.Data {
						if x.Value != "" && x.Value != "-" && !consumed[x.Name] {
							d[f.To+"."+x.Name] = x.Value
						}
					}
				}
			}
			d["data_stream.type"] = "logs"
			d["data_stream.dataset"] = r.Dataset
			d["data_stream.namespace"] = "default"
			d["event.dataset"] = r.Dataset
			d["harness.provenance"] = string(e.Origin())
			if r.Shape != "" {
				d["harness.shape"] = r.Shape
			}
			if e.RunID != "" {
				d["harness.run_id"] = e.RunID
			}
			if e.Context != "" {
				d["harness.context"] = e.Context
			}
			if len(e.Observations) > 0 {
				d["harness.observations"] = e.Observations
			}
			if len(e.ModelledFields) > 0 {
				d["harness.modelled_fields"] = e.ModelledFields
			}
			out = append(out, d)
		}
	}
	return out
}

func apply(d ECSDoc, r ecsRules, p *Profile, e *event.Event, consumed map[string]bool) {
	for k, v := range r.Set {
		d[k] = v
	}
	for _, f := range r.Fields {
		if f.From == "$event_data" {
			continue // after every other line (Render)
		}
		consumed[f.From] = true
		v, ok := source(f.From, p, e)
		if !ok || v == "" || v == "-" {
			continue
		}
		transforms[f.As](d, f.To, v, p)
	}
}

// source reads an EventData field, or a $-named part of the event or the
// profile.
func source(name string, p *Profile, e *event.Event) (string, bool) {
	switch name {
	case "$time":
		return e.TimeCreated.UTC().Format(time.RFC3339Nano), true
	case "$computer":
		return e.Computer, true
	case "$user_id":
		return e.UserID, true
	case "$event_id":
		return strconv.Itoa(e.EventID), true
	case "$channel":
		return e.Channel, true
	case "$provider":
		return e.Provider.Name, true
	case "$record_id":
		return strconv.FormatUint(e.RecordID, 10), true
	case "$profile.user.sid":
		if p != nil {
			return p.User.SID, true
		}
		return "", false
	case "$profile.host.ip":
		if p != nil {
			return p.Host.IP, true
		}
		return "", false
	}
	return e.Get(name)
}

// transforms turn a source value into one or more ECS fields.
var transforms = map[string]func(d ECSDoc, to, v string, p *Profile){
	"": func(d ECSDoc, to, v string, _ *Profile) { d[to] = v },
	"int": func(d ECSDoc, to, v string, _ *Profile) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d[to] = n
		}
	},
	"bool": func(d ECSDoc, to, v string, _ *Profile) {
		if b, err := strconv.ParseBool(v); err == nil {
			d[to] = b
		}
	},
	"list":  func(d ECSDoc, to, v string, _ *Profile) { d[to] = []string{v} },
	"lower": func(d ECSDoc, to, v string, _ *Profile) { d[to] = strings.ToLower(v) },
	"basename": func(d ECSDoc, to, v string, _ *Profile) {
		d[to] = v[strings.LastIndexAny(v, `\/`)+1:]
	},
	"args": func(d ECSDoc, to, v string, _ *Profile) {
		args := SplitCommandLine(v)
		d[to] = args
		d[to+"_count"] = len(args)
	},
	// DOMAIN\user, as Sysmon's User and 4688's names are written.
	"user_domain": func(d ECSDoc, to, v string, _ *Profile) {
		if i := strings.IndexByte(v, '\\'); i > 0 {
			d[to] = v[:i]
		}
	},
	"user_name": func(d ECSDoc, to, v string, _ *Profile) { d[to] = v[strings.IndexByte(v, '\\')+1:] },
	// Sysmon's Hashes: SHA256=...,MD5=... to <to>.sha256, <to>.md5.
	"hashes": func(d ECSDoc, to, v string, _ *Profile) {
		for _, kv := range strings.Split(v, ",") {
			if k, h, ok := strings.Cut(kv, "="); ok {
				d[to+"."+strings.ToLower(k)] = strings.ToLower(h)
			}
		}
	},
	// The profile's Authenticode data for an image path.
	"code_signature": func(d ECSDoc, to, v string, p *Profile) {
		if p == nil {
			return
		}
		img, ok := p.ImageByPath(v)
		if !ok || img.CodeSignature.SubjectName == "" {
			d[to+".exists"] = false
			return
		}
		d[to+".exists"] = true
		d[to+".subject_name"] = img.CodeSignature.SubjectName
		d[to+".trusted"] = img.CodeSignature.Trusted
		d[to+".status"] = "trusted"
		if !img.CodeSignature.Trusted {
			d[to+".status"] = "errorUntrustedRoot"
		}
	},
	// A JSON value flattened under to: objects by key, arrays of objects
	// into arrays per key (GitHub's reasons: [{code, message}]).
	"json": func(d ECSDoc, to, v string, _ *Profile) {
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			d[to] = v
			return
		}
		flattenJSON(d, to, x)
	},
	// The GitHub integration: the category is the action's prefix.
	"github_category": func(d ECSDoc, to, v string, _ *Profile) {
		if c, _, ok := strings.Cut(v, "."); ok {
			d[to] = c
		}
	},
	// The GitHub integration: creation for *create*/*add*, deletion for
	// *delete*/*remove*, change otherwise.
	"github_event_type": func(d ECSDoc, to, v string, _ *Profile) {
		_, rest, _ := strings.Cut(v, ".")
		var types []string
		if strings.Contains(rest, "create") || strings.Contains(rest, "add") {
			types = append(types, "creation")
		}
		if strings.Contains(rest, "delete") || strings.Contains(rest, "remove") {
			types = append(types, "deletion")
		}
		if len(types) == 0 {
			types = []string{"change"}
		}
		d[to] = types
	},
}

func flattenJSON(d ECSDoc, to string, x any) {
	switch v := x.(type) {
	case map[string]any:
		for k, sub := range v {
			flattenJSON(d, to+"."+k, sub)
		}
	case []any:
		for _, el := range v {
			if m, ok := el.(map[string]any); ok {
				for k, sub := range m {
					key := to + "." + k
					prev, _ := d[key].([]string)
					d[key] = append(prev, fmt.Sprint(sub))
				}
				continue
			}
			prev, _ := d[to].([]string)
			d[to] = append(prev, fmt.Sprint(el))
		}
	case nil:
	default:
		d[to] = v
	}
}

// Nested turns dotted names into nested objects, as Winlogbeat writes them.
func (d ECSDoc) Nested() map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "@timestamp" {
			out[k] = d[k]
			continue
		}
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = d[k]
	}
	return out
}

// WriteECS writes every event's ECS documents as JSON lines (nested
// objects). profileFor picks the profile an event was rendered under.
func (m *ECSMapping) WriteECS(w io.Writer, events []event.Event, profileFor func(*event.Event) *Profile) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range events {
		e := &events[i]
		for _, d := range m.Render(profileFor(e), e) {
			if err := enc.Encode(d.Nested()); err != nil {
				return fmt.Errorf("ecs: %w", err)
			}
		}
	}
	return bw.Flush()
}

// Converter returns the function detection engines call to read an event
// as ECS documents, picking each event's profile by its context.
func (m *ECSMapping) Converter(profiles []*Profile) func(*event.Event) []map[string]any {
	pick := ProfilePicker(profiles)
	return func(e *event.Event) []map[string]any {
		docs := m.Render(pick(e), e)
		out := make([]map[string]any, len(docs))
		for i, d := range docs {
			out[i] = d
		}
		return out
	}
}

// ProfilePicker finds an event's profile by its context name (nil when the
// event names none of them).
func ProfilePicker(profiles []*Profile) func(*event.Event) *Profile {
	by := map[string]*Profile{}
	for _, p := range profiles {
		by[p.Name] = p
	}
	return func(e *event.Event) *Profile { return by[e.Context] }
}
