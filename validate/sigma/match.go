package sigma

import (
	"context"
	"fmt"
	"strings"

	"github.com/t1567001/harness/event"
)

// selector returns the rule's selector the event falls under, or nil.
func (r *Rule) selector(ev *event.Event) *Selector {
	for _, s := range r.selectors {
		if s.Matches(ev) {
			return s
		}
	}
	return nil
}

// Applies reports whether the event is in the rule's logsource.
func (r *Rule) Applies(ev event.Event) bool { return r.selector(&ev) != nil }

// Explanation says why a rule did or did not match one event.
type Explanation struct {
	Rule  string // "id (title)"
	Event string // "Sysmon 3 on WS-FIN-0142"
	// Applies is false when the event is outside the rule's logsource;
	// Searches is then empty.
	Applies    bool
	Logsource  string // "network_connection ← Sysmon 3"
	Conditions []string
	Matched    bool
	// Searches are the rule's search identifiers in file order, then
	// those of the filters applied to it.
	Searches []SearchResult
	// SuppressedBy names the filter that suppressed a match.
	SuppressedBy string
}

// SearchResult is one search identifier's outcome.
type SearchResult struct {
	Name    string
	Matched bool
	// Fields: for a matched search, the fields of the map that matched;
	// for a failed one, the first failing field of each map.
	Fields []FieldResult
}

// FieldResult is one field comparison.
type FieldResult struct {
	Key     string   // as written: "Image|endswith"
	Values  []string // the rule's values
	All     bool     // |all: every value had to match
	Actual  string   // the event's value (for keywords: the value that matched)
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
	case !f.Present && f.Matched:
		b.WriteString(" matched: field absent")
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
	parts := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		parts[i] = f.String()
	}
	switch {
	case s.Matched && len(parts) == 0:
		return s.Name + ": matched"
	case s.Matched:
		return s.Name + ": matched (" + strings.Join(parts, ", ") + ")"
	case len(parts) == 0:
		return s.Name + ": did not match"
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
	case e.SuppressedBy != "":
		b.WriteString(": matched " + e.Event + " but filter " + e.SuppressedBy + " suppresses it")
	default:
		b.WriteString(": did not match " + e.Event)
	}
	b.WriteString("; condition: " + strings.Join(e.Conditions, " | "))
	for _, s := range e.Searches {
		b.WriteString("\n  " + s.String())
	}
	return b.String()
}

// Match evaluates the rule on one event and explains the verdict. An
// event outside the rule's logsource does not match (the explanation says
// so). The error is for a cancelled context.
func (r *Rule) Match(ctx context.Context, ev event.Event) (bool, *Explanation, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	exp := &Explanation{
		Rule:       r.display,
		Event:      describeEvent(&ev),
		Logsource:  r.lsText,
		Conditions: r.condText,
	}
	sel := r.selector(&ev)
	if sel == nil {
		return false, exp, nil
	}
	exp.Applies = true
	fs := fields{ev: &ev, sel: sel}
	exp.Searches = make([]SearchResult, len(r.searches))
	for i, s := range r.searches {
		exp.Searches[i] = s.explain(fs)
	}
	test := func(i int) bool { return exp.Searches[i].Matched }
	for _, c := range r.conds {
		if c.eval(test) {
			exp.Matched = true
			break
		}
	}
	for _, f := range r.filters {
		if !exp.Matched {
			break
		}
		fsel := f.detection.selector(&ev)
		if fsel == nil {
			continue
		}
		ffs := fields{ev: &ev, sel: fsel}
		results := make([]SearchResult, len(f.detection.searches))
		for i, s := range f.detection.searches {
			results[i] = s.explain(ffs)
			results[i].Name = "filter " + f.ID + ": " + results[i].Name
		}
		held := false
		for _, c := range f.detection.conds {
			if c.eval(func(i int) bool { return results[i].Matched }) {
				held = true
				break
			}
		}
		exp.Searches = append(exp.Searches, results...)
		if held {
			exp.Matched, exp.SuppressedBy = false, displayName(f.ID, f.Title)
		}
	}
	return exp.Matched, exp, nil
}

// Matches is the verdict alone: the fast path for many events.
func (r *Rule) Matches(ctx context.Context, ev event.Event) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return r.matches(&ev), nil
}

func (r *Rule) matches(ev *event.Event) bool {
	sel := r.selector(ev)
	if sel == nil {
		return false
	}
	fs := fields{ev: ev, sel: sel}
	if !r.holds(fs) {
		return false
	}
	for _, f := range r.filters {
		if f.suppresses(ev) {
			return false
		}
	}
	return true
}

// holds evaluates the rule's conditions on an event of its logsource.
func (r *Rule) holds(fs fields) bool {
	test := func(i int) bool { return r.searches[i].match(fs) }
	for _, c := range r.conds {
		if c.eval(test) {
			return true
		}
	}
	return false
}

// match: maps OR'ed, fields AND'ed.
func (s *search) match(fs fields) bool {
	for _, alt := range s.alts {
		ok := true
		for _, f := range alt {
			if !f.match(fs) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (s *search) explain(fs fields) SearchResult {
	res := SearchResult{Name: s.name}
	var failures []FieldResult
	for _, alt := range s.alts {
		var matched []FieldResult
		ok := true
		for _, f := range alt {
			fr := f.explain(fs)
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

// matchValue applies the field's values to one event value.
func (f *field) matchValue(actual string, present bool, fs fields) bool {
	if f.all {
		for i := range f.vals {
			if !f.vals[i].match(actual, present, fs) {
				return false
			}
		}
		return true
	}
	for i := range f.vals {
		if f.vals[i].match(actual, present, fs) {
			return true
		}
	}
	return false
}

func (f *field) match(fs fields) bool {
	if f.name == "" {
		return f.matchKeywords(fs) != ""
	}
	actual, present := fs.get(f.name)
	return f.matchValue(actual, present, fs)
}

// matchKeywords returns the first event value the keywords match, or "".
// With |all each keyword may be found in a different value.
func (f *field) matchKeywords(fs fields) (hit string) {
	if f.all {
		for i := range f.vals {
			found := fs.each(func(v string) bool {
				if f.vals[i].match(v, true, fs) {
					hit = v
					return true
				}
				return false
			})
			if !found {
				return ""
			}
		}
		return hit
	}
	fs.each(func(v string) bool {
		if f.matchValue(v, true, fs) {
			hit = v
			return true
		}
		return false
	})
	return hit
}

func (f *field) explain(fs fields) FieldResult {
	fr := FieldResult{Key: f.key, Values: f.values, All: f.all}
	if f.name == "" {
		fr.Actual = f.matchKeywords(fs)
		fr.Present, fr.Matched = true, fr.Actual != ""
		if !fr.Matched {
			fr.Actual = "(no value of the event)"
		}
		return fr
	}
	fr.Actual, fr.Present = fs.get(f.name)
	fr.Matched = f.matchValue(fr.Actual, fr.Present, fs)
	if !fr.Present {
		fr.Note = absentNote(f.name, fs)
	}
	return fr
}

func absentNote(name string, fs fields) string {
	kind := shortChannel(fs.ev.Channel)
	if kind == "" {
		kind = shortChannel(fs.ev.Provider.Name)
	}
	if fs.ev.EventID != 0 {
		kind += fmt.Sprintf(" %d", fs.ev.EventID)
	}
	if fs.sel != nil && fs.sel.fields != nil {
		// Events seen through a fieldmap lack what the rules' own source
		// has (Security 4688: no ParentCommandLine, Hashes, ...).
		return kind + " has no " + name
	}
	return kind + " events have no " + name
}
