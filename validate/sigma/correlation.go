package sigma

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Correlation types (Sigma specification v2, correlation rules).
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
)

// Correlation is a loaded Sigma correlation rule: it counts the matches
// of other rules, per group, within a timespan.
type Correlation struct {
	ID, Name, Title, Level, Status, Description string
	Tags                                        []string
	Path                                        string
	Line                                        int

	Type string
	// Rules are the referenced rules' names or ids, as written.
	Rules    []string
	GroupBy  []string
	Timespan time.Duration
	// Generate: the referenced rules report their own matches too.
	Generate bool
	// Aliases: alias -> rule name or id -> the field in that rule's events.
	Aliases map[string]map[string]string
	// Field is value_count's field.
	Field string

	cond     []bound
	condText string
	inputs   []source
}

// bound is one comparison of the condition: "gte 3".
type bound struct {
	op string
	n  float64
}

func (b bound) holds(n float64) bool {
	switch b.op {
	case "gt":
		return n > b.n
	case "gte":
		return n >= b.n
	case "lt":
		return n < b.n
	case "lte":
		return n <= b.n
	case "eq":
		return n == b.n
	case "neq":
		return n != b.n
	}
	return false
}

// upper reports whether the condition can stop holding as events are
// added (it has lt, lte, eq or neq): such a window is judged when it
// closes, not when it first holds.
func (c *Correlation) upper() bool {
	for _, b := range c.cond {
		if b.op != "gt" && b.op != "gte" {
			return true
		}
	}
	return false
}

func (c *Correlation) holds(n float64) bool {
	for _, b := range c.cond {
		if !b.holds(n) {
			return false
		}
	}
	return true
}

var timespanRE = regexp.MustCompile(`^(\d+)([smhdw])$`)

func parseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number and one of s, m, h, d, w", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if n <= 0 {
		return 0, fmt.Errorf("timespan %q must be positive", s)
	}
	return time.Duration(n) * unit, nil
}

func (l *loader) loadCorrelation(doc, n *yaml.Node) (*Correlation, error) {
	m, err := l.meta(doc)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, l.fail(n.Line, "correlation must be a mapping")
	}
	c := &Correlation{ID: m.ID, Name: m.Name, Title: m.Title, Level: m.Level, Status: m.Status,
		Description: m.Description, Tags: m.Tags, Path: l.name, Line: doc.Line}
	var raw struct {
		Type     string                       `yaml:"type"`
		Rules    yaml.Node                    `yaml:"rules"`
		GroupBy  []string                     `yaml:"group-by"`
		Timespan string                       `yaml:"timespan"`
		Timefr   string                       `yaml:"timeframe"`
		Generate bool                         `yaml:"generate"`
		Aliases  map[string]map[string]string `yaml:"aliases"`
		Cond     yaml.Node                    `yaml:"condition"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, l.fail(n.Line, "correlation: %v", err)
	}
	if g := mapValue(doc, "generate"); g != nil && g.Value == "true" {
		raw.Generate = true
	}
	switch raw.Type {
	case EventCount, ValueCount, Temporal, TemporalOrdered:
	case "":
		return nil, l.fail(n.Line, "correlation has no type")
	default:
		return nil, l.fail(n.Line, "correlation type %q is not one of event_count, value_count, temporal, temporal_ordered", raw.Type)
	}
	c.Type, c.GroupBy, c.Generate, c.Aliases = raw.Type, raw.GroupBy, raw.Generate, raw.Aliases
	switch raw.Rules.Kind {
	case yaml.ScalarNode:
		c.Rules = []string{raw.Rules.Value}
	case yaml.SequenceNode:
		if err := raw.Rules.Decode(&c.Rules); err != nil {
			return nil, l.fail(raw.Rules.Line, "correlation rules must be a list of rule names or ids")
		}
	}
	if len(c.Rules) == 0 {
		return nil, l.fail(n.Line, "correlation names no rules")
	}
	ts := raw.Timespan
	if ts == "" {
		ts = raw.Timefr
	}
	if ts == "" {
		return nil, l.fail(n.Line, "correlation has no timespan")
	}
	if c.Timespan, err = parseTimespan(ts); err != nil {
		return nil, l.fail(n.Line, "%v", err)
	}
	switch raw.Cond.Kind {
	case 0:
		if c.Type == EventCount || c.Type == ValueCount {
			return nil, l.fail(n.Line, "%s correlation needs a condition", c.Type)
		}
		// temporal: every referenced rule.
		c.cond = []bound{{op: "gte", n: float64(len(c.Rules))}}
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(raw.Cond.Content); i += 2 {
			k, v := raw.Cond.Content[i].Value, raw.Cond.Content[i+1].Value
			if k == "field" {
				c.Field = v
				continue
			}
			switch k {
			case "gt", "gte", "lt", "lte", "eq", "neq":
			default:
				return nil, l.fail(raw.Cond.Content[i].Line, "correlation condition %q is not one of gt, gte, lt, lte, eq, neq, field", k)
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, l.fail(raw.Cond.Content[i].Line, "correlation condition %s needs a number, got %q", k, v)
			}
			c.cond = append(c.cond, bound{op: k, n: f})
			parts = append(parts, k+" "+v)
		}
		c.condText = strings.Join(parts, " and ")
		if len(c.cond) == 0 {
			return nil, l.fail(raw.Cond.Line, "correlation condition has no comparison")
		}
	default:
		return nil, l.fail(raw.Cond.Line, "correlation condition must be a mapping such as {gte: 3}")
	}
	if c.condText == "" {
		c.condText = fmt.Sprintf("gte %d", len(c.Rules))
	}
	if c.Type == ValueCount && c.Field == "" {
		return nil, l.fail(n.Line, "value_count correlation needs condition field")
	}
	return c, nil
}

// source is what a correlation counts: a detection rule's matches or
// another correlation's hits (a chain).
type source struct {
	rule *Rule
	corr *Correlation
}

func (s source) refs() (name, id string) {
	if s.rule != nil {
		return s.rule.Name, s.rule.ID
	}
	return s.corr.Name, s.corr.ID
}

// fieldFor returns the field a group-by or value field names in the
// events of input pos, through the aliases.
func (c *Correlation) fieldFor(name string, pos int) string {
	if a, ok := c.Aliases[name]; ok {
		rn, id := c.inputs[pos].refs()
		if f, ok := a[rn]; ok && rn != "" {
			return f
		}
		if f, ok := a[id]; ok {
			return f
		}
	}
	return name
}

// resolve finds the referenced rules and correlations by name or id.
func (c *Correlation) resolve(byRef map[string]source) error {
	for _, ref := range c.Rules {
		src, ok := byRef[ref]
		if !ok {
			return Unsupported{Path: c.Path, Line: c.Line, Reason: fmt.Sprintf("correlation %s: rule %q is not loaded", c.ID, ref)}
		}
		if slices.Contains(c.inputs, src) {
			return Unsupported{Path: c.Path, Line: c.Line, Reason: fmt.Sprintf("correlation %s names rule %q twice", c.ID, ref)}
		}
		c.inputs = append(c.inputs, src)
	}
	return nil
}
