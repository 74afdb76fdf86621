package sigma

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on what a rule file may ask of the evaluator; beyond them Load
// refuses the rule with the reason.
const (
	MaxRuleBytes      = 1 << 20
	MaxConditionDepth = 64
	MaxValues         = 20000 // compiled values per rule
	maxExpansions     = 4096  // values one placeholder/offset expansion may give
)

// Config is what loading depends on beyond the rule text.
type Config struct {
	// Mapping selects events for logsources; nil is DefaultMapping.
	Mapping *Mapping
	// Placeholders give the values of %name% for the expand modifier.
	Placeholders map[string][]string
}

// withMapping returns a copy of the configuration (nil: the default one)
// with its Mapping set, reading DefaultMapping where none is given.
func (c *Config) withMapping() (*Config, error) {
	out := &Config{}
	if c != nil {
		*out = *c
	}
	if out.Mapping == nil {
		m, err := DefaultMapping()
		if err != nil {
			return nil, err
		}
		out.Mapping = m
	}
	return out, nil
}

// Rule is a loaded, usable Sigma detection rule.
type Rule struct {
	ID          string
	Name        string // the rule's name:, how correlations refer to it
	Title       string
	Level       string
	Status      string
	Description string
	Tags        []string
	// Path is the name the rule was loaded under; Line its document's
	// first line.
	Path      string
	Line      int
	Logsource Logsource

	selectors  []*Selector
	lsText     string
	display    string
	searches   []*search // in file order
	conds      []*cond   // OR'ed
	condText   []string
	fieldNames []string
	// filters suppress the rule's matches (Sigma filters, set by Compile
	// on its own copy of the rule).
	filters []*Filter
}

// Unsupported is a rule file that cannot be used, and why. It is also the
// error Load returns.
type Unsupported struct {
	Path string
	// Line is the 1-based line the reason refers to, or 0.
	Line   int
	Reason string
}

func (u Unsupported) Error() string {
	if u.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", u.Path, u.Line, u.Reason)
	}
	return u.Path + ": " + u.Reason
}

// search is one compiled search identifier.
type search struct {
	name string
	line int
	// alts are OR'ed; the fields of one alternative are AND'ed.
	alts [][]*field
}

// field is one compiled "Field|modifiers: values"; a keyword search is a
// field with no name, matched against every value of the event.
type field struct {
	key    string   // as written: "Image|endswith"
	name   string   // "Image"; "" for keywords
	all    bool     // |all: every value must match
	values []string // as written, for explanations
	vals   []valueMatcher
}

// LoadFile reads and loads one rule file.
func LoadFile(path string) (*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load parses a file holding one detection rule with the default
// configuration; name is used in errors and as Path. The error is an
// Unsupported naming the file (and line where known).
func Load(name string, data []byte) (*Rule, error) {
	c, err := ParseFile(name, data, nil)
	if err != nil {
		return nil, err
	}
	if len(c.Rules) != 1 || len(c.Correlations) != 0 || len(c.Filters) != 0 {
		return nil, Unsupported{Path: name, Reason: fmt.Sprintf("file holds %d detection rule(s), %d correlation(s) and %d filter(s); load it as a collection", len(c.Rules), len(c.Correlations), len(c.Filters))}
	}
	return c.Rules[0], nil
}

// Collection is what one file (or folder) holds: detection rules,
// correlations and filters.
type Collection struct {
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
}

// ParseFile reads every YAML document of a rule file (Sigma rule
// collections, with action: global/reset/repeat). cfg may be nil.
func ParseFile(name string, data []byte, cfg *Config) (*Collection, error) {
	c, err := cfg.withMapping()
	if err != nil {
		return nil, err
	}
	l := loader{name: name, cfg: *c}
	if len(data) > MaxRuleBytes {
		return nil, l.fail(0, "rule file is %d bytes, more than the limit of %d", len(data), MaxRuleBytes)
	}
	return l.loadAll(data)
}

// LoadDir loads every *.yml and *.yaml file under dir, recursively, in
// lexical order. Files that cannot be used are returned as Unsupported;
// the error is only for I/O failure.
func LoadDir(dir string) ([]*Rule, []Unsupported, error) {
	c, unsupported, err := LoadDirWith(dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return c.Rules, unsupported, nil
}

// LoadDirWith is LoadDir with a configuration, keeping correlations.
func LoadDirWith(dir string, cfg *Config) (*Collection, []Unsupported, error) {
	// One mapping for every file, read once.
	c, err := cfg.withMapping()
	if err != nil {
		return nil, nil, err
	}
	cfg = c
	all := &Collection{}
	var unsupported []Unsupported
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yml", ".yaml":
		default:
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c, err := ParseFile(p, data, cfg)
		if err != nil {
			var u Unsupported
			if !errors.As(err, &u) {
				u = Unsupported{Path: p, Reason: err.Error()}
			}
			unsupported = append(unsupported, u)
			return nil
		}
		all.Rules = append(all.Rules, c.Rules...)
		all.Correlations = append(all.Correlations, c.Correlations...)
		all.Filters = append(all.Filters, c.Filters...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sigma: %w", err)
	}
	return all, unsupported, nil
}

type loader struct {
	name   string
	cfg    Config
	values int
}

func (l *loader) fail(line int, format string, args ...any) error {
	return Unsupported{Path: l.name, Line: line, Reason: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)
var yamlInnerLine = regexp.MustCompile(`\(line (\d+)\)|line (\d+):`)

// yamlErr turns "yaml: line 3: msg" into name:3: msg.
func (l *loader) yamlErr(err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if line == 0 {
		if m := yamlInnerLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1] + m[2])
		}
	}
	return l.fail(line, "parse error: %s", msg)
}

func (l *loader) loadAll(data []byte) (*Collection, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, l.yamlErr(err)
		}
		doc := &n
		if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			doc = doc.Content[0]
		}
		if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
			continue // an empty document
		}
		if doc.Kind != yaml.MappingNode {
			return nil, l.fail(doc.Line, "not a Sigma rule: expected a mapping")
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, l.fail(0, "empty file")
	}
	c := &Collection{}
	var global, previous *yaml.Node
	for _, doc := range docs {
		switch action := scalar(mapValue(doc, "action")); action {
		case "global":
			global = doc
			continue
		case "reset":
			global = nil
			continue
		case "repeat":
			if previous == nil {
				return nil, l.fail(doc.Line, "action: repeat with no rule before it")
			}
			doc = mergeMaps(previous, doc)
		case "":
		default:
			return nil, l.fail(doc.Line, "unknown action %q", action)
		}
		previous = doc
		if global != nil {
			doc = mergeMaps(global, doc)
		}
		if corr := mapValue(doc, "correlation"); corr != nil {
			cr, err := l.loadCorrelation(doc, corr)
			if err != nil {
				return nil, err
			}
			c.Correlations = append(c.Correlations, cr)
			continue
		}
		if f := mapValue(doc, "filter"); f != nil {
			fl, err := l.loadFilter(doc, f)
			if err != nil {
				return nil, err
			}
			c.Filters = append(c.Filters, fl)
			continue
		}
		r, err := l.loadRule(doc, "detection")
		if err != nil {
			return nil, err
		}
		c.Rules = append(c.Rules, r)
	}
	if len(c.Rules)+len(c.Correlations)+len(c.Filters) == 0 {
		return nil, l.fail(docs[0].Line, "not a Sigma rule: no detection")
	}
	return c, nil
}

// mergeMaps returns base overlaid with over, merging nested mappings; the
// result's nodes keep their own lines.
func mergeMaps(base, over *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Line: over.Line, Column: over.Column}
	out.Content = append(out.Content, base.Content...)
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if k.Value == "action" {
			continue
		}
		replaced := false
		for j := 0; j+1 < len(out.Content); j += 2 {
			if out.Content[j].Value == k.Value {
				if v.Kind == yaml.MappingNode && out.Content[j+1].Kind == yaml.MappingNode {
					out.Content[j+1] = mergeMaps(out.Content[j+1], v)
				} else {
					out.Content[j+1] = v
				}
				replaced = true
				break
			}
		}
		if !replaced {
			out.Content = append(out.Content, k, v)
		}
	}
	return out
}

// mapValue returns the value of key in a mapping node.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// meta is what detection rules and correlations share.
type meta struct {
	ID, Name, Title, Level, Status, Description string
	Tags                                        []string
}

func (l *loader) meta(doc *yaml.Node) (meta, error) {
	var m meta
	for _, kv := range []struct {
		key string
		dst *string
	}{{"id", &m.ID}, {"name", &m.Name}, {"title", &m.Title}, {"level", &m.Level}, {"status", &m.Status}, {"description", &m.Description}} {
		if n := mapValue(doc, kv.key); n != nil {
			if n.Kind != yaml.ScalarNode {
				return m, l.fail(n.Line, "%s must be a string", kv.key)
			}
			*kv.dst = n.Value
		}
	}
	if n := mapValue(doc, "tags"); n != nil {
		if err := n.Decode(&m.Tags); err != nil {
			return m, l.fail(n.Line, "tags must be a list of strings")
		}
	}
	if m.ID == "" {
		m.ID = strings.TrimSuffix(path.Base(filepath.ToSlash(l.name)), path.Ext(l.name))
	}
	return m, nil
}

// loadRule compiles a detection rule, or a filter's detection (detKey
// "filter", whose rules: list is not a search).
func (l *loader) loadRule(doc *yaml.Node, detKey string) (*Rule, error) {
	detection := mapValue(doc, detKey)
	if detection == nil {
		return nil, l.fail(doc.Line, "not a Sigma rule: no detection")
	}
	if detection.Kind != yaml.MappingNode {
		return nil, l.fail(detection.Line, "%s must be a mapping", detKey)
	}
	m, err := l.meta(doc)
	if err != nil {
		return nil, err
	}
	var ls Logsource
	if n := mapValue(doc, "logsource"); n != nil {
		var raw struct{ Category, Product, Service string }
		if err := n.Decode(&raw); err != nil {
			return nil, l.fail(n.Line, "logsource: %v", err)
		}
		ls = Logsource(raw)
	}
	sels, err := l.cfg.Mapping.Selectors(ls)
	if err != nil {
		return nil, l.fail(0, "%v", err)
	}
	r := &Rule{
		ID: m.ID, Name: m.Name, Title: m.Title, Level: m.Level, Status: m.Status,
		Description: m.Description, Tags: m.Tags, Path: l.name, Line: doc.Line,
		Logsource: ls, selectors: sels,
	}
	r.display = displayName(r.ID, r.Title)
	r.lsText = logsourceText(ls, sels)

	var condNode *yaml.Node
	var names []string
	for i := 0; i+1 < len(detection.Content); i += 2 {
		k, v := detection.Content[i], detection.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			return nil, l.fail(k.Line, "timeframe belongs to Sigma v1 aggregations: write a correlation rule")
		case "rules":
			if detKey == "filter" {
				continue
			}
		}
		s, err := l.compileSearch(k.Value, k.Line, v)
		if err != nil {
			return nil, err
		}
		r.searches = append(r.searches, s)
		names = append(names, s.name)
	}
	if condNode == nil {
		return nil, l.fail(detection.Line, "detection has no condition")
	}
	condNodes := []*yaml.Node{condNode}
	if condNode.Kind == yaml.SequenceNode {
		condNodes = condNode.Content
	}
	for _, n := range condNodes {
		if n.Kind != yaml.ScalarNode {
			return nil, l.fail(n.Line, "condition must be a string or a list of strings")
		}
		c, err := parseCondition(n.Value, names)
		if err != nil {
			return nil, l.fail(n.Line, "condition %q: %v", n.Value, err)
		}
		r.conds = append(r.conds, c)
		r.condText = append(r.condText, n.Value)
	}
	if len(r.conds) == 0 {
		return nil, l.fail(condNode.Line, "detection has no condition")
	}
	seen := map[string]bool{}
	for _, s := range r.searches {
		for _, alt := range s.alts {
			for _, f := range alt {
				if f.name != "" && !seen[f.name] {
					seen[f.name] = true
					r.fieldNames = append(r.fieldNames, f.name)
				}
			}
		}
	}
	return r, nil
}

func (l *loader) compileSearch(name string, line int, n *yaml.Node) (*search, error) {
	s := &search{name: name, line: line}
	switch n.Kind {
	case yaml.MappingNode:
		alt, err := l.compileMap(n)
		if err != nil {
			return nil, err
		}
		s.alts = [][]*field{alt}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, l.fail(n.Line, "search %q is an empty list", name)
		}
		if n.Content[0].Kind == yaml.MappingNode {
			for _, item := range n.Content {
				if item.Kind != yaml.MappingNode {
					return nil, l.fail(item.Line, "search %q mixes maps and plain values", name)
				}
				alt, err := l.compileMap(item)
				if err != nil {
					return nil, err
				}
				s.alts = append(s.alts, alt)
			}
			break
		}
		f, err := l.compileField("", line, n)
		if err != nil {
			return nil, err
		}
		s.alts = [][]*field{{f}}
	case yaml.ScalarNode:
		f, err := l.compileField("", line, n)
		if err != nil {
			return nil, err
		}
		s.alts = [][]*field{{f}}
	default:
		return nil, l.fail(n.Line, "search %q: unexpected YAML %v", name, n.Tag)
	}
	return s, nil
}

func (l *loader) compileMap(n *yaml.Node) ([]*field, error) {
	if len(n.Content) == 0 {
		return nil, l.fail(n.Line, "empty map in a search")
	}
	var out []*field
	for i := 0; i+1 < len(n.Content); i += 2 {
		f, err := l.compileField(n.Content[i].Value, n.Content[i].Line, n.Content[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// rawValue is a YAML value: a string, or nil for null.
type rawValue struct {
	s    string
	null bool
	line int
}

func (l *loader) rawValues(key string, n *yaml.Node) ([]rawValue, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			return nil, l.fail(n.Line, "%s: empty list of values", key)
		}
	}
	var out []rawValue
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			return nil, l.fail(it.Line, "%s: a value must be a string, number, boolean or null", key)
		}
		out = append(out, rawValue{s: it.Value, null: it.Tag == "!!null", line: it.Line})
	}
	return out, nil
}

var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true,
	"base64": true, "base64offset": true, "utf16le": true, "utf16be": true, "utf16": true, "wide": true,
	"windash": true, "re": true, "i": true, "m": true, "s": true, "cidr": true, "exists": true,
	"expand": true, "fieldref": true, "gt": true, "gte": true, "lt": true, "lte": true, "cased": true,
}

func (l *loader) compileField(key string, line int, n *yaml.Node) (*field, error) {
	parts := strings.Split(key, "|")
	f := &field{key: key, name: parts[0]}
	if f.key == "" {
		f.key = "keywords"
	}
	mods := parts[1:]
	raws, err := l.rawValues(f.key, n)
	if err != nil {
		return nil, err
	}
	kind := vString
	var wrap strOp = opEqual
	var reFlags string
	cased := false
	transforms := 0
	for i, m := range mods {
		m = strings.ToLower(m)
		mods[i] = m
		if !knownModifiers[m] {
			return nil, l.fail(line, "unknown modifier %q (%s)", m, key)
		}
		switch m {
		case "all":
			f.all = true
		case "cased":
			cased = true
		case "contains", "startswith", "endswith":
			if wrap != opEqual || kind != vString && kind != vFieldref {
				return nil, l.fail(line, "modifier %q cannot follow another comparison (%s)", m, key)
			}
			wrap = map[string]strOp{"contains": opContains, "startswith": opPrefix, "endswith": opSuffix}[m]
		case "re", "cidr", "exists", "gt", "gte", "lt", "lte", "fieldref":
			if kind != vString || transforms > 0 {
				return nil, l.fail(line, "modifier %q cannot be combined with the modifiers before it (%s)", m, key)
			}
			kind = map[string]valueKind{"re": vRegexp, "cidr": vCIDR, "exists": vExists, "gt": vNumber, "gte": vNumber, "lt": vNumber, "lte": vNumber, "fieldref": vFieldref}[m]
		case "i", "m", "s":
			if kind != vRegexp {
				return nil, l.fail(line, "regular expression flag %q needs re before it (%s)", m, key)
			}
			reFlags += m
		default:
			// A value transform (base64, windash, expand, ...) applies to
			// a string, not to a regular expression, CIDR, number or field
			// reference.
			if kind != vString {
				return nil, l.fail(line, "modifier %q cannot follow re, cidr, exists, fieldref or gt/gte/lt/lte (%s)", m, key)
			}
			transforms++
		}
	}
	if kind != vString && kind != vFieldref && wrap != opEqual {
		return nil, l.fail(line, "contains, startswith and endswith cannot be combined with re, cidr, exists or gt/gte/lt/lte (%s)", key)
	}
	if f.name == "" && kind != vString {
		return nil, l.fail(line, "keyword search %s: only string modifiers apply to keywords", key)
	}
	for _, raw := range raws {
		if f.name == "" && raw.null {
			return nil, l.fail(raw.line, "a keyword cannot be null (%s)", f.key)
		}
		f.values = append(f.values, displayValue(raw))
		v, err := l.compileValue(f, raw, mods, kind, wrap, reFlags, cased)
		if err != nil {
			return nil, l.fail(raw.line, "%v (%s)", err, key)
		}
		f.vals = append(f.vals, v)
	}
	return f, nil
}

func displayValue(r rawValue) string {
	if r.null {
		return "null"
	}
	return r.s
}

func (l *loader) compileValue(f *field, raw rawValue, mods []string, kind valueKind, wrap strOp, reFlags string, cased bool) (valueMatcher, error) {
	v := valueMatcher{kind: kind, cased: cased}
	l.values++
	if l.values > MaxValues {
		return v, fmt.Errorf("rule has more than %d values", MaxValues)
	}
	if raw.null {
		if kind != vString || len(mods) > 0 {
			return v, fmt.Errorf("null cannot take modifiers")
		}
		v.kind = vNull
		return v, nil
	}
	switch kind {
	case vExists:
		b, err := strconv.ParseBool(raw.s)
		if err != nil {
			return v, fmt.Errorf("exists needs true or false, got %q", raw.s)
		}
		v.exists = b
		return v, nil
	case vNumber:
		n, err := strconv.ParseFloat(raw.s, 64)
		if err != nil {
			return v, fmt.Errorf("%s needs a number, got %q", mods[len(mods)-1], raw.s)
		}
		for _, m := range mods {
			if m == "gt" || m == "gte" || m == "lt" || m == "lte" {
				v.numOp = m
			}
		}
		v.num = n
		return v, nil
	case vCIDR:
		p, err := netip.ParsePrefix(raw.s)
		if err != nil {
			return v, fmt.Errorf("invalid CIDR %q", raw.s)
		}
		v.prefix = p.Masked()
		return v, nil
	case vRegexp:
		expr := raw.s
		if reFlags != "" {
			expr = "(?" + reFlags + ")" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return v, fmt.Errorf("regular expression %q is not RE2 (Go): %v", raw.s, err)
		}
		v.re = re
		return v, nil
	case vFieldref:
		v.ref, v.refOp = raw.s, wrap
		return v, nil
	}
	vals := []sstring{parseSString(raw.s)}
	for _, m := range mods {
		var next []sstring
		for _, s := range vals {
			switch m {
			case "contains", "startswith", "endswith":
				next = append(next, wrapSString(s, wrap))
			case "base64", "base64offset":
				p, ok := s.plain()
				if !ok {
					return v, fmt.Errorf("%s of a value with wildcards", m)
				}
				if m == "base64" {
					next = append(next, sstring{{kind: tokLit, lit: base64.StdEncoding.EncodeToString([]byte(p))}})
					break
				}
				for _, o := range base64Offsets(p) {
					next = append(next, sstring{{kind: tokLit, lit: o}})
				}
			case "utf16le", "wide":
				next = append(next, s.mapLit(func(x string) string { return utf16Bytes(x, false) }))
			case "utf16be":
				next = append(next, s.mapLit(func(x string) string { return utf16Bytes(x, true) }))
			case "utf16":
				bom := sstring{{kind: tokLit, lit: "\xff\xfe"}}
				next = append(next, append(bom, s.mapLit(func(x string) string { return utf16Bytes(x, false) })...))
			case "windash":
				next = append(next, windash(s))
			case "expand":
				ex, err := expand(s, l.cfg.Placeholders)
				if err != nil {
					return v, err
				}
				next = append(next, ex...)
			default:
				next = append(next, s)
			}
		}
		if len(next) > maxExpansions {
			return v, fmt.Errorf("modifiers give more than %d values", maxExpansions)
		}
		vals = next
	}
	if f.name == "" {
		for i := range vals {
			vals[i] = wrapSString(vals[i], opContains)
		}
	}
	for _, s := range vals {
		m, err := compileSString(s, cased)
		if err != nil {
			return v, err
		}
		v.alts = append(v.alts, m)
	}
	return v, nil
}

// wrapSString adds the wildcards of contains, startswith or endswith.
func wrapSString(s sstring, op strOp) sstring {
	star := token{kind: tokStar}
	out := append(sstring{}, s...)
	if op == opContains || op == opSuffix {
		out = append(sstring{star}, out...)
	}
	if op == opContains || op == opPrefix {
		out = append(out, star)
	}
	return out
}

func displayName(id, title string) string {
	if title == "" {
		return id
	}
	return id + " (" + title + ")"
}

func logsourceText(l Logsource, sels []*Selector) string {
	s := l.Category
	if s == "" {
		s = l.String()
	}
	names := make([]string, len(sels))
	for i, sel := range sels {
		names[i] = sel.String()
	}
	return s + " ← " + strings.Join(names, ", ")
}

// ParsePlaceholders reads the values of %name% placeholders for the
// expand modifier: a YAML mapping of name to a value or a list of values
// (each a Sigma value: wildcards allowed).
func ParsePlaceholders(name string, data []byte) (map[string][]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l := loader{name: name}
		return nil, l.yamlErr(err)
	}
	out := map[string][]string{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, Unsupported{Path: name, Line: m.Line, Reason: "placeholders: expected a mapping of name to values"}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		var vals []string
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []string{v.Value}
		case yaml.SequenceNode:
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, Unsupported{Path: name, Line: it.Line, Reason: fmt.Sprintf("placeholder %s: a value must be a string", k.Value)}
				}
				vals = append(vals, it.Value)
			}
		default:
			return nil, Unsupported{Path: name, Line: v.Line, Reason: fmt.Sprintf("placeholder %s: expected a value or a list of values", k.Value)}
		}
		if len(vals) == 0 {
			return nil, Unsupported{Path: name, Line: v.Line, Reason: fmt.Sprintf("placeholder %s has no values", k.Value)}
		}
		out[k.Value] = vals
	}
	return out, nil
}
