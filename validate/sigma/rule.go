package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bradleyjkemp/sigma-go/evaluator"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator/modifiers"
	"gopkg.in/yaml.v3"
)

// sigmaGo names the library in reasons.
const sigmaGo = "sigma-go v0.6.6"

// Rule is a loaded, usable Sigma rule.
type Rule struct {
	ID          string
	Title       string
	Level       string
	Status      string
	Description string
	Tags        []string
	// Path is the name the rule was loaded under.
	Path      string
	Logsource Logsource

	kinds      kinds
	lsText     string
	display    string
	searches   []*search // in file order
	byName     map[string]*search
	conditions []sigmago.SearchExpr
	condText   []string
	// engine is sigma-go's own evaluator: it decides every match. The
	// compiled searches above only explain it, field by field.
	engine *evaluator.RuleEvaluator
	// fieldNames are the event fields the rule reads.
	fieldNames []string
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
	idx  int // position in Rule.searches
	line int
	// alts are OR'ed; the fields of one alternative are AND'ed. No
	// alternatives is sigma-go's degenerate always-true search.
	alts [][]*field
}

// field is one compiled "Field|modifiers: values".
type field struct {
	key    string // as written: "Image|endswith"
	name   string // "Image"
	all    bool   // trailing |all: every value must match
	base   bool   // no comparator modifier: equality
	values []string
	cmp    modifiers.ComparatorFunc
	// op is a fast path with sigma-go's exact semantics for a lone
	// comparator (no value modifiers); opCmp calls sigma-go's comparator.
	op       op
	lowered  []string                         // values lower-cased, for contains/startswith/endswith
	patterns []*regexp.Regexp                 // precompiled, for re
	notes    [kindPowerShellScript + 1]string // why the field is absent, per event kind
}

type op uint8

const (
	opCmp op = iota
	opEqual
	opContains
	opPrefix
	opSuffix
	opRegexp
)

// LoadFile reads and loads one rule file.
func LoadFile(path string) (*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// LoadDir loads every *.yml and *.yaml file under dir, recursively, in
// lexical order. Files that cannot be used (parse errors, unsupported
// logsource or construct) are returned as Unsupported; the error is only
// for I/O failure.
func LoadDir(dir string) ([]*Rule, []Unsupported, error) {
	var rules []*Rule
	var unsupported []Unsupported
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		r, err := Load(p, data)
		if err != nil {
			var u Unsupported
			if !errors.As(err, &u) {
				u = Unsupported{Path: p, Reason: err.Error()}
			}
			unsupported = append(unsupported, u)
			return nil
		}
		rules = append(rules, r)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sigma: %w", err)
	}
	return rules, unsupported, nil
}

// Load parses one rule file's bytes; name is used in errors and as Path.
// The error is an Unsupported naming the file (and line where known).
func Load(name string, data []byte) (r *Rule, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, Unsupported{Path: name, Reason: fmt.Sprintf("%s panicked: %v", sigmaGo, p)}
		}
	}()
	l := loader{name: name}
	return l.load(data)
}

type loader struct{ name string }

func (l *loader) fail(line int, format string, args ...any) error {
	return Unsupported{Path: l.name, Line: line, Reason: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlErr turns "yaml: line 3: msg" into name:3: msg.
func (l *loader) yamlErr(err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if line == 0 {
		if m := regexp.MustCompile(`\(line (\d+)\)`).FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
	}
	return l.fail(line, "parse error: %s", msg)
}

func (l *loader) load(data []byte) (*Rule, error) {
	// Read the documents ourselves: sigma-go takes the first one only.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, l.fail(0, "empty file")
		}
		return nil, l.yamlErr(err)
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, l.yamlErr(err)
		}
		if next.Kind == yaml.DocumentNode && len(next.Content) > 0 && next.Content[0].Kind != yaml.ScalarNode {
			return nil, l.fail(next.Line, "rule collections (several YAML documents, action: global) are not supported by %s: it reads the first document only", sigmaGo)
		}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, l.fail(doc.Line, "not a Sigma rule: expected a mapping")
	}
	detection := mapValue(doc, "detection")
	if detection == nil {
		return nil, l.fail(doc.Line, "not a Sigma rule: no detection")
	}

	// Logsource first: it is the usual reason a file is not usable here.
	var ls Logsource
	if n := mapValue(doc, "logsource"); n != nil {
		var raw struct{ Category, Product, Service string }
		if err := n.Decode(&raw); err != nil {
			return nil, l.yamlErr(err)
		}
		ls = Logsource(raw)
	}
	ks, why := mapLogsource(ls)
	if why != "" {
		return nil, l.fail(0, "%s", why)
	}

	// Conditions, with the line of each, before sigma-go sees them.
	condNode := mapValue(detection, "condition")
	if condNode == nil {
		return nil, l.fail(detection.Line, "detection has no condition")
	}
	condNodes := []*yaml.Node{condNode}
	if condNode.Kind == yaml.SequenceNode {
		condNodes = condNode.Content
	}
	var condText []string
	for _, n := range condNodes {
		if n.Kind != yaml.ScalarNode {
			return nil, l.fail(n.Line, "condition must be a string or a list of strings")
		}
		if _, err := sigmago.ParseCondition(n.Value); err != nil {
			return nil, l.fail(n.Line, "condition %q does not parse: %v", n.Value, err)
		}
		condText = append(condText, n.Value)
	}
	if len(condText) == 0 {
		return nil, l.fail(condNode.Line, "detection has no condition")
	}

	sr, err := sigmago.ParseRule(data)
	if err != nil {
		return nil, l.yamlErr(err)
	}
	r := &Rule{
		ID:          sr.ID,
		Title:       sr.Title,
		Level:       sr.Level,
		Status:      sr.Status,
		Description: sr.Description,
		Tags:        sr.Tags,
		Path:        l.name,
		Logsource:   ls,
		kinds:       ks,
		lsText:      logsourceText(ls, ks),
		byName:      map[string]*search{},
		condText:    condText,
		engine:      evaluator.ForRule(sr),
	}
	if r.ID == "" {
		r.ID = strings.TrimSuffix(path.Base(filepath.ToSlash(l.name)), path.Ext(l.name))
	}
	r.display = displayName(r.ID, r.Title)
	for name, s := range sr.Detection.Searches {
		cs, err := l.compileSearch(name, s)
		if err != nil {
			return nil, err
		}
		r.searches = append(r.searches, cs)
		r.byName[name] = cs
	}
	sort.Slice(r.searches, func(i, j int) bool {
		a, b := r.searches[i], r.searches[j]
		if a.line != b.line {
			return a.line < b.line
		}
		return a.name < b.name
	})
	for i, s := range r.searches {
		s.idx = i
		for _, alt := range s.alts {
			for _, f := range alt {
				if !slices.Contains(r.fieldNames, f.name) {
					r.fieldNames = append(r.fieldNames, f.name)
				}
			}
		}
	}
	for i, c := range sr.Detection.Conditions {
		line := condNodes[min(i, len(condNodes)-1)].Line
		if c.Aggregation != nil {
			agg, _ := c.MarshalYAML()
			return nil, l.fail(line, "aggregation condition %q needs correlation across events; not supported", agg)
		}
		if err := r.checkExpr(c.Search); err != nil {
			return nil, l.fail(line, "condition %q: %v", condText[min(i, len(condText)-1)], err)
		}
		r.conditions = append(r.conditions, c.Search)
	}
	return r, nil
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

// position returns a 1-based line from sigma-go's 0-based Position, which
// panics when the node is unknown.
func position(f func() (int, int)) (line int) {
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	l, _ := f()
	return l + 1
}

func (l *loader) compileSearch(name string, s sigmago.Search) (*search, error) {
	cs := &search{name: name, line: position(s.Position)}
	if len(s.Keywords) > 0 {
		return nil, l.fail(cs.line, "keyword search %q is not supported by %s", name, sigmaGo)
	}
	for _, em := range s.EventMatchers {
		var alt []*field
		for _, fm := range em {
			f, err := l.compileField(fm)
			if err != nil {
				return nil, err
			}
			alt = append(alt, f)
		}
		cs.alts = append(cs.alts, alt)
	}
	return cs, nil
}

var numeric = map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true}

func (l *loader) compileField(fm sigmago.FieldMatcher) (*field, error) {
	line := position(fm.Position)
	key := fm.Field
	if len(fm.Modifiers) > 0 {
		key += "|" + strings.Join(fm.Modifiers, "|")
	}
	f := &field{key: key, name: fm.Field}
	for k := range f.notes {
		f.notes[k] = absentNote(f.name, kind(k))
	}
	mods := fm.Modifiers
	if n := len(mods); n > 0 && mods[n-1] == "all" {
		f.all, mods = true, mods[:n-1]
	}
	// Check every modifier against what sigma-go implements, then let
	// sigma-go build the comparator (which also checks the order).
	comparator := ""
	for _, m := range mods {
		_, isCmp := modifiers.Comparators[m]
		_, isVal := modifiers.ValueModifiers[m]
		_, isEv := modifiers.EventValueModifiers[m]
		switch {
		case isCmp:
			comparator = m
		case isVal || isEv:
		default:
			return nil, l.fail(line, "modifier %q is not supported by %s (%s)", m, sigmaGo, key)
		}
	}
	f.base = comparator == ""
	cmp, err := modifiers.GetComparator(fm.Field, modifiers.Comparators, mods...)
	if err != nil {
		return nil, l.fail(line, "%s: %v (%s)", sigmaGo, err, key)
	}
	f.cmp = cmp
	for _, v := range fm.Values {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case int, float32, float64, bool:
			s = fmt.Sprintf("%v", v)
		case nil:
			return nil, l.fail(line, "null value is not supported by %s (%s)", sigmaGo, key)
		default:
			return nil, l.fail(line, "non-scalar value %v is not supported by %s (%s)", v, sigmaGo, key)
		}
		if strings.HasPrefix(s, "%") && strings.HasSuffix(s, "%") && len(s) > 1 {
			return nil, l.fail(line, "placeholder %s has no expansion here (%s)", s, key)
		}
		switch {
		case comparator == "re":
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, l.fail(line, "regular expression %q is not RE2: %v (%s)", s, err, key)
			}
			if len(mods) == 1 {
				f.patterns = append(f.patterns, re)
			}
		case comparator == "cidr":
			if _, _, err := net.ParseCIDR(s); err != nil {
				return nil, l.fail(line, "invalid CIDR %q (%s)", s, key)
			}
		case numeric[comparator]:
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return nil, l.fail(line, "%s needs a number, got %q (%s)", comparator, s, key)
			}
		}
		f.values = append(f.values, s)
	}
	switch {
	case len(mods) == 0:
		f.op = opEqual
	case len(mods) > 1:
		f.op = opCmp
	case comparator == "re":
		f.op = opRegexp
	case comparator == "contains", comparator == "startswith", comparator == "endswith":
		f.op = map[string]op{"contains": opContains, "startswith": opPrefix, "endswith": opSuffix}[comparator]
		for _, v := range f.values {
			f.lowered = append(f.lowered, strings.ToLower(v))
		}
	}
	return f, nil
}

// checkExpr rejects what sigma-go's evaluator cannot evaluate: undefined
// identifiers (always false there), patterns naming nothing, and "1 of X"
// or "all of X" on one identifier (it panics).
func (r *Rule) checkExpr(e sigmago.SearchExpr) error {
	switch e := e.(type) {
	case sigmago.And:
		for _, x := range e {
			if err := r.checkExpr(x); err != nil {
				return err
			}
		}
	case sigmago.Or:
		for _, x := range e {
			if err := r.checkExpr(x); err != nil {
				return err
			}
		}
	case sigmago.Not:
		return r.checkExpr(e.Expr)
	case sigmago.SearchIdentifier:
		if r.byName[e.Name] == nil {
			return fmt.Errorf("search identifier %q is not defined", e.Name)
		}
	case sigmago.OneOfPattern:
		return r.checkPattern(e.Pattern)
	case sigmago.AllOfPattern:
		return r.checkPattern(e.Pattern)
	case sigmago.OneOfThem, sigmago.AllOfThem:
	case sigmago.OneOfIdentifier:
		return fmt.Errorf("\"1 of %s\" (one identifier, no wildcard) is not supported by %s", e.Ident.Name, sigmaGo)
	case sigmago.AllOfIdentifier:
		return fmt.Errorf("\"all of %s\" (one identifier, no wildcard) is not supported by %s", e.Ident.Name, sigmaGo)
	default:
		return fmt.Errorf("condition node %T is not supported by %s", e, sigmaGo)
	}
	return nil
}

func (r *Rule) checkPattern(p string) error {
	for _, s := range r.searches {
		if ok, err := path.Match(p, s.name); err != nil {
			return fmt.Errorf("pattern %q: %v", p, err)
		} else if ok {
			return nil
		}
	}
	return fmt.Errorf("pattern %q matches no search identifier", p)
}
