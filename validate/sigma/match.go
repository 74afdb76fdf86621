package sigma

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"path"
	"strings"

	sigmago "github.com/bradleyjkemp/sigma-go"
)

// Applies reports whether the event is in the rule's logsource.
func (r *Rule) Applies(ev event.Event) bool {
	return r.kinds.has(kindOf(&ev))
}

// Explanation says why a rule did or did not match one event.
type Explanation struct {
	Rule  string // "id (title)"
	Event string // "Sysmon 3 on WS-FIN-0142"
	// Applies is false when the event is outside the rule's logsource;
	// Searches is then empty.
	Applies    bool
	Logsource  string // "network_connection ← Sysmon 3"
	Conditions []string
	// Matched is sigma-go's verdict.
	Matched bool
	// Searches are the rule's search identifiers in file order.
	Searches []SearchResult
	// Disagreement is set when the field-by-field reading of Searches does
	// not reach sigma-go's verdict (a bug to report, never expected).
	Disagreement string
}

// SearchResult is one search identifier's outcome.
type SearchResult struct {
	Name    string
	Matched bool
	// Fields: for a matched search, the fields of the map that matched;
	// for a failed one, the first failing field of each map (sigma-go
	// stops at the first failure).
	Fields []FieldResult
}

// FieldResult is one field comparison.
type FieldResult struct {
	Key     string   // as written: "Image|endswith"
	Values  []string // the rule's values
	All     bool     // |all: every value had to match
	Actual  string   // the event's value
	Present bool     // whether the event has the field
	Matched bool
	// Note says why an absent field is absent, e.g. "Security 4688 has
	// no ParentCommandLine".
	Note string
}

func (f FieldResult) String() string {
	var b strings.Builder
	b.WriteString(f.Key)
	b.WriteByte(' ')
	writeValues(&b, f.Values)
	switch {
	case !f.Present && f.Note != "":
		b.WriteString(" did not match: field absent (" + f.Note + ")")
	case !f.Present:
		b.WriteString(" did not match: field absent")
	case f.Matched:
		b.WriteString(" matched \"" + f.Actual + "\"")
	default:
		b.WriteString(" did not match \"" + f.Actual + "\"")
	}
	return b.String()
}

func writeValues(b *strings.Builder, vs []string) {
	if len(vs) == 1 {
		b.WriteString("\"" + vs[0] + "\"")
		return
	}
	b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("\"" + v + "\"")
	}
	b.WriteByte(']')
}

// String renders the result as `selection: Image|endswith "\git.exe" did
// not match "C:\...\git-remote-https.exe"`; the failures of a search with
// several maps are joined with "; or ".
func (s SearchResult) String() string {
	if s.Matched {
		if len(s.Fields) == 0 {
			return s.Name + ": matched"
		}
		parts := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			parts[i] = f.String()
		}
		return s.Name + ": matched (" + strings.Join(parts, ", ") + ")"
	}
	if len(s.Fields) == 0 {
		return s.Name + ": did not match"
	}
	parts := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		parts[i] = f.String()
	}
	return s.Name + ": " + strings.Join(parts, "; or ")
}

// Search returns the named search's result.
func (e *Explanation) Search(name string) (SearchResult, bool) {
	for _, s := range e.Searches {
		if s.Name == name {
			return s, true
		}
	}
	return SearchResult{}, false
}

func (e *Explanation) String() string {
	var b strings.Builder
	b.WriteString(e.Rule)
	switch {
	case !e.Applies:
		fmt.Fprintf(&b, ": %s is not in logsource %s", e.Event, e.Logsource)
		return b.String()
	case e.Matched:
		b.WriteString(": matched " + e.Event)
	default:
		b.WriteString(": did not match " + e.Event)
	}
	b.WriteString("; condition: " + strings.Join(e.Conditions, " | "))
	for _, s := range e.Searches {
		b.WriteString("\n  " + s.String())
	}
	if e.Disagreement != "" {
		b.WriteString("\n  note: " + e.Disagreement)
	}
	return b.String()
}

// Match evaluates the rule on one event. An event outside the rule's
// logsource does not match (the explanation says so). The error is for a
// cancelled context or an evaluation failure.
func (r *Rule) Match(ctx context.Context, ev event.Event) (matched bool, exp *Explanation, err error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			matched, exp, err = false, nil, fmt.Errorf("sigma: rule %s: evaluation panicked: %v", r.Path, p)
		}
	}()
	k := kindOf(&ev)
	exp = &Explanation{
		Rule:       r.display,
		Event:      describeEvent(&ev, k),
		Logsource:  r.lsText,
		Conditions: r.condText,
	}
	if !r.kinds.has(k) {
		return false, exp, nil
	}
	exp.Applies = true
	fs := fields{ev: &ev, k: k}
	exp.Searches = make([]SearchResult, len(r.searches))
	for i, s := range r.searches {
		exp.Searches[i] = s.eval(fs)
	}
	explained := false
	for _, c := range r.conditions {
		if r.evalExpr(c, exp.Searches) {
			explained = true
			break
		}
	}
	// sigma-go decides; the field-by-field reading must agree with it, and
	// says so when it does not.
	res, err := r.engine.Matches(ctx, r.eventFor(fs))
	if err != nil {
		return false, exp, fmt.Errorf("sigma: rule %s: %w", r.Path, err)
	}
	exp.Matched = res.Match
	if explained != res.Match {
		exp.Disagreement = fmt.Sprintf("sigma-go says matched=%v where the field-by-field reading says %v", res.Match, explained)
	}
	return exp.Matched, exp, nil
}

// Matches is sigma-go's verdict alone, without the explanation: the fast
// path for evaluating a rule over many events.
func (r *Rule) Matches(ctx context.Context, ev event.Event) (bool, error) {
	k := kindOf(&ev)
	if !r.kinds.has(k) {
		return false, nil
	}
	res, err := r.engine.Matches(ctx, r.eventFor(fields{ev: &ev, k: k}))
	if err != nil {
		return false, fmt.Errorf("sigma: rule %s: %w", r.Path, err)
	}
	return res.Match, nil
}

// eventFor gives sigma-go the fields the rule reads, through the logsource
// mapping; absent fields stay absent.
func (r *Rule) eventFor(fs fields) map[string]interface{} {
	m := make(map[string]interface{}, len(r.fieldNames))
	for _, name := range r.fieldNames {
		if v, ok := fs.get(name); ok {
			m[name] = v
		}
	}
	return m
}

func displayName(id, title string) string {
	if title == "" {
		return id
	}
	return id + " (" + title + ")"
}

func logsourceText(l Logsource, ks kinds) string {
	s := l.Category
	if s == "" {
		s = l.String()
	}
	return s + " ← " + ks.String()
}

// eval mirrors sigma-go's evaluateSearch: maps OR'ed, fields AND'ed.
func (s *search) eval(fs fields) SearchResult {
	res := SearchResult{Name: s.name}
	if len(s.alts) == 0 {
		res.Matched = true
		return res
	}
	var failures []FieldResult
	for _, alt := range s.alts {
		var matched []FieldResult
		ok := true
		for _, f := range alt {
			fr := f.eval(fs)
			if !fr.Matched {
				failures = append(failures, fr)
				ok = false
				break
			}
			matched = append(matched, fr)
		}
		if ok {
			res.Matched, res.Fields = true, matched
			return res
		}
	}
	res.Fields = failures
	return res
}

// eval mirrors sigma-go's matcherMatchesValues for one event value, except
// that an absent field only matches 'null'.
func (f *field) eval(fs fields) FieldResult {
	actual, present := fs.get(f.name)
	fr := FieldResult{Key: f.key, Values: f.values, All: f.all, Actual: actual, Present: present}
	if !present {
		fr.Note = f.notes[fs.k]
	}
	var lower string
	if f.lowered != nil && present {
		lower = strings.ToLower(actual)
	}
	matched := f.all
	for i, want := range f.values {
		var ok bool
		switch {
		case !present:
			ok = f.base && strings.EqualFold(want, "null")
		case f.op == opEqual:
			ok = strings.EqualFold(actual, want)
		case f.op == opContains:
			ok = strings.Contains(lower, f.lowered[i])
		case f.op == opPrefix:
			ok = strings.HasPrefix(lower, f.lowered[i])
		case f.op == opSuffix:
			ok = strings.HasSuffix(lower, f.lowered[i])
		case f.op == opRegexp:
			ok = f.patterns[i].MatchString(actual)
		default:
			ok, _ = f.cmp(actual, want) // sigma-go ignores comparator errors too
		}
		if f.all {
			matched = matched && ok
			if !matched {
				break
			}
		} else if ok {
			matched = true
			break
		}
	}
	fr.Matched = matched
	return fr
}

func absentNote(name string, k kind) string {
	if k == kindSecurityProcess && sysmonOnly[name] {
		return "Security 4688 has no " + name
	}
	return k.String() + " events have no " + name
}

// evalExpr mirrors sigma-go's evaluateSearchExpression.
func (r *Rule) evalExpr(e sigmago.SearchExpr, results []SearchResult) bool {
	switch e := e.(type) {
	case sigmago.And:
		for _, x := range e {
			if !r.evalExpr(x, results) {
				return false
			}
		}
		return true
	case sigmago.Or:
		for _, x := range e {
			if r.evalExpr(x, results) {
				return true
			}
		}
		return false
	case sigmago.Not:
		return !r.evalExpr(e.Expr, results)
	case sigmago.SearchIdentifier:
		return results[r.byName[e.Name].idx].Matched
	case sigmago.OneOfThem:
		for _, s := range r.searches {
			if results[s.idx].Matched {
				return true
			}
		}
		return false
	case sigmago.AllOfThem:
		for _, s := range r.searches {
			if !results[s.idx].Matched {
				return false
			}
		}
		return true
	case sigmago.OneOfPattern:
		for _, s := range r.searches {
			if ok, _ := path.Match(e.Pattern, s.name); ok && results[s.idx].Matched {
				return true
			}
		}
		return false
	case sigmago.AllOfPattern:
		for _, s := range r.searches {
			if ok, _ := path.Match(e.Pattern, s.name); ok && !results[s.idx].Matched {
				return false
			}
		}
		return true
	}
	// Load rejects every other node; were one to slip through, the reading
	// would disagree with sigma-go's verdict, and the explanation says so.
	return false
}
