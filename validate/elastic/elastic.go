// Package elastic loads Elastic detection rules from their TOML files as
// published (elastic/detection-rules) and runs them over ECS documents:
// `eql` rules through validate/eql, `query` rules (kuery) through
// validate/kql with the rule's filters, `esql` rules through validate/esql,
// `threshold` rules (with cardinality) and `new_terms` rules, whose history
// is the events before each one in the same input. A rule the engines cannot
// run (machine_learning, lucene, an unsupported construct) is refused at
// load with the reason.
package elastic

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/eql"
	"github.com/t1567001/harness/validate/esql"
	"github.com/t1567001/harness/validate/kql"
)

// Refused is a rule the engines cannot run, and why.
type Refused struct{ Reason string }

func (r *Refused) Error() string { return r.Reason }

// IsRefused reports whether err is a refusal (rather than a broken file).
func IsRefused(err error) bool {
	var r *Refused
	return errors.As(err, &r)
}

type file struct {
	Rule struct {
		RuleID    string       `toml:"rule_id"`
		Name      string       `toml:"name"`
		Type      string       `toml:"type"`
		Language  string       `toml:"language"`
		Query     string       `toml:"query"`
		Index     []string     `toml:"index"`
		Severity  string       `toml:"severity"`
		RiskScore int          `toml:"risk_score"`
		Filters   []filterSpec `toml:"filters"`
		Threshold *struct {
			Field       []string `toml:"field"`
			Value       int      `toml:"value"`
			Cardinality []struct {
				Field string `toml:"field"`
				Value int    `toml:"value"`
			} `toml:"cardinality"`
		} `toml:"threshold"`
		NewTerms *struct {
			Field string   `toml:"field"`
			Value []string `toml:"value"`
		} `toml:"new_terms"`
	} `toml:"rule"`
}

type filterSpec struct {
	Meta struct {
		Negate   bool `toml:"negate"`
		Disabled bool `toml:"disabled"`
	} `toml:"meta"`
	Query map[string]any `toml:"query"`
}

// Rule is one loaded Elastic rule.
type Rule struct {
	// ID is the rule file's name without .toml, as verdicts name it.
	ID        string
	RuleID    string
	Name      string
	Type      string
	Language  string
	Severity  string
	RiskScore int
	Index     []string

	query     string
	eql       *eql.Query
	kql       *kql.Query
	esql      *esql.Query
	filters   []core.Expr
	threshold *threshold
	newTerms  []string
}

type threshold struct {
	fields      []string
	value       int
	cardField   string
	cardinality int
}

// textFields are the ECS fields mapped as analyzed text, which KQL matches
// by phrase rather than exactly.
var textFields = map[string]bool{
	"message":                           true,
	"powershell.file.script_block_text": true,
	"error.message":                     true,
	"event.original":                    true,
}

// Load parses one rule file. A rule the engines cannot run gives a
// *Refused error; a file that is not a rule gives another error.
func Load(name string, data []byte) (*Rule, error) {
	var f file
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !md.IsDefined("rule") {
		return nil, fmt.Errorf("%s: no [rule] table", name)
	}
	fr := f.Rule
	r := &Rule{
		ID: strings.TrimSuffix(path.Base(name), path.Ext(name)), RuleID: fr.RuleID, Name: fr.Name, Type: fr.Type,
		Language: fr.Language, Severity: fr.Severity, RiskScore: fr.RiskScore, Index: fr.Index, query: fr.Query,
	}
	refuse := func(format string, args ...any) (*Rule, error) {
		return nil, &Refused{Reason: fmt.Sprintf(format, args...)}
	}
	switch fr.Type {
	case "eql":
		if r.eql, err = eql.Parse(fr.Query); err != nil {
			return refuse("%s", queryError(name, data, "EQL", err))
		}
	case "esql":
		if r.esql, err = esql.Parse(fr.Query); err != nil {
			return refuse("%s", queryError(name, data, "ES|QL", err))
		}
	case "query", "threshold", "new_terms":
		if fr.Language != "kuery" {
			return refuse("%s rule in language %q: only kuery (KQL) is supported", fr.Type, fr.Language)
		}
		if r.kql, err = kql.Parse(fr.Query, kql.Options{Text: func(f string) bool { return textFields[f] }}); err != nil {
			return refuse("%s", queryError(name, data, "KQL", err))
		}
		for _, fs := range fr.Filters {
			if fs.Meta.Disabled {
				continue
			}
			x, err := dsl(fs.Query)
			if err != nil {
				return refuse("filter: %v", err)
			}
			if fs.Meta.Negate {
				x = &core.Not{X: x}
			}
			r.filters = append(r.filters, x)
		}
		switch fr.Type {
		case "threshold":
			t := fr.Threshold
			if t == nil {
				return refuse("threshold rule without [rule.threshold]")
			}
			r.threshold = &threshold{fields: t.Field, value: t.Value}
			if len(t.Cardinality) > 1 {
				return refuse("threshold with %d cardinality fields: one is supported", len(t.Cardinality))
			}
			if len(t.Cardinality) == 1 {
				r.threshold.cardField, r.threshold.cardinality = t.Cardinality[0].Field, t.Cardinality[0].Value
			}
		case "new_terms":
			if fr.NewTerms == nil || len(fr.NewTerms.Value) == 0 {
				return refuse("new_terms rule without new_terms fields")
			}
			r.newTerms = fr.NewTerms.Value
		}
	default:
		return refuse("rule type %q cannot run here (eql, query, esql, threshold and new_terms can)", fr.Type)
	}
	return r, nil
}

// queryError places a query's syntax error in the rule file: the line of
// the file the query's line is on, then the query's own line:col and caret.
func queryError(name string, data []byte, lang string, err error) string {
	var se *core.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Sprintf("%s query: %v", lang, err)
	}
	return fmt.Sprintf("%s:%d: %s query: %v", name, queryLine(data)+se.Line-1, lang, err)
}

// queryLine is the line of the file on which the query's text starts (the
// line after the opening quotes of a multi-line string).
func queryLine(data []byte) int {
	for i, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "query")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "=")
		if !ok {
			continue
		}
		if rest = strings.TrimSpace(rest); rest == `'''` || rest == `"""` {
			return i + 2
		}
		return i + 1
	}
	return 1
}

// IndexOf names a document's data stream, logs-<dataset>-<namespace>, which
// the rules' index patterns (logs-endpoint.events.network-*) select.
func IndexOf(d core.Doc) string {
	typ, _ := d.Get("data_stream.type").Text()
	ds, _ := d.Get("data_stream.dataset").Text()
	ns, _ := d.Get("data_stream.namespace").Text()
	if typ == "" {
		typ = "logs"
	}
	if ns == "" {
		ns = "default"
	}
	return typ + "-" + ds + "-" + ns
}

func (r *Rule) inIndex(d core.Doc) bool {
	if len(r.Index) == 0 {
		return true
	}
	name := IndexOf(d)
	for _, p := range r.Index {
		// winlogbeat-* indices hold what Winlogbeat ships: the windows.*
		// and system.security data streams here.
		if p == "winlogbeat-*" {
			ds, _ := d.Get("data_stream.dataset").Text()
			if strings.HasPrefix(ds, "windows.") || ds == "system.security" {
				return true
			}
		}
		if core.Glob(name, p, '*', 0, false) {
			return true
		}
	}
	return false
}

// Alert is one result: the columns the rule yields and the documents
// (indexes into the input) it rests on.
type Alert struct {
	Columns []string
	Values  core.Doc
	Sources []int
}

// Run evaluates the rule over docs.
func (r *Rule) Run(docs []core.Doc) []Alert {
	switch {
	case r.esql != nil:
		var out []Alert
		for _, row := range r.esql.Run(docs, IndexOf) {
			out = append(out, Alert{Columns: row.Columns, Values: row.Values, Sources: row.Sources})
		}
		return out
	case r.eql != nil:
		idx, sub := r.selectIndex(docs)
		var out []Alert
		for _, m := range r.eql.Run(sub) {
			src := make([]int, len(m.Events))
			for i, e := range m.Events {
				src[i] = idx[e]
			}
			out = append(out, r.eventAlert(docs, src))
		}
		return out
	}
	idx := r.matching(docs)
	switch {
	case r.threshold != nil:
		return r.runThreshold(docs, idx)
	case r.newTerms != nil:
		return r.runNewTerms(docs, idx)
	}
	var out []Alert
	for _, i := range idx {
		out = append(out, r.eventAlert(docs, []int{i}))
	}
	return out
}

func (r *Rule) selectIndex(docs []core.Doc) ([]int, []core.Doc) {
	var idx []int
	var sub []core.Doc
	for i, d := range docs {
		if r.inIndex(d) {
			idx = append(idx, i)
			sub = append(sub, d)
		}
	}
	return idx, sub
}

// matching lists the documents in the rule's indices that its KQL query and
// filters accept.
func (r *Rule) matching(docs []core.Doc) []int {
	var out []int
	for i, d := range docs {
		if !r.inIndex(d) || !r.kql.Match(d) {
			continue
		}
		ok := true
		for _, f := range r.filters {
			if !core.Truthy(f.Eval(d)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// alertFields are shown for an event alert, after the rule's own fields.
var alertFields = []string{"@timestamp", "event.action", "host.name", "user.name", "process.name", "harness.provenance"}

func (r *Rule) eventAlert(docs []core.Doc, src []int) Alert {
	a := Alert{Values: core.Doc{}, Sources: src}
	var fields []string
	switch {
	case r.eql != nil:
		for _, st := range r.eql.Steps {
			fields = append(fields, core.FieldNames(st.Cond)...)
		}
	case r.kql != nil:
		fields = core.FieldNames(r.kql.Cond)
	}
	for _, f := range append(alertFields, fields...) {
		if slices.Contains(a.Columns, f) {
			continue
		}
		for _, i := range src {
			if v := docs[i].Get(f); !v.IsNull() {
				a.Columns = append(a.Columns, f)
				a.Values[f] = v
				break
			}
		}
	}
	return a
}

func groupKey(d core.Doc, fields []string) (string, []core.Value, bool) {
	var b strings.Builder
	vals := make([]core.Value, len(fields))
	for i, f := range fields {
		v := d.Get(f)
		if v.IsNull() {
			return "", nil, false
		}
		vals[i] = v
		b.WriteString(v.String())
		b.WriteByte(0)
	}
	return b.String(), vals, true
}

func (r *Rule) runThreshold(docs []core.Doc, idx []int) []Alert {
	t := r.threshold
	type group struct {
		vals    []core.Value
		sources []int
		card    map[string]bool
	}
	var order []string
	groups := map[string]*group{}
	for _, i := range idx {
		k, vals, ok := groupKey(docs[i], t.fields)
		if !ok {
			continue
		}
		g := groups[k]
		if g == nil {
			g = &group{vals: vals, card: map[string]bool{}}
			groups[k] = g
			order = append(order, k)
		}
		g.sources = append(g.sources, i)
		if t.cardField != "" {
			for _, v := range docs[i].Get(t.cardField).Values() {
				g.card[v] = true
			}
		}
	}
	var out []Alert
	for _, k := range order {
		g := groups[k]
		if len(g.sources) < t.value || (t.cardField != "" && len(g.card) < t.cardinality) {
			continue
		}
		a := Alert{Values: core.Doc{}, Sources: g.sources}
		for i, f := range t.fields {
			a.Columns = append(a.Columns, f)
			a.Values[f] = g.vals[i]
		}
		a.Columns = append(a.Columns, "threshold_result.count")
		a.Values["threshold_result.count"] = core.NumberValue(float64(len(g.sources)))
		if t.cardField != "" {
			name := "threshold_result.cardinality." + t.cardField
			a.Columns = append(a.Columns, name)
			a.Values[name] = core.NumberValue(float64(len(g.card)))
		}
		out = append(out, a)
	}
	return out
}

// runNewTerms alerts on the first document with each combination of the
// new-terms fields' values: the history window holds only the events
// before it in the same input, so a run's first sighting is new.
func (r *Rule) runNewTerms(docs []core.Doc, idx []int) []Alert {
	sorted := append([]int(nil), idx...)
	sort.SliceStable(sorted, func(a, b int) bool {
		return docs[sorted[a]].Time("@timestamp").Before(docs[sorted[b]].Time("@timestamp"))
	})
	seen := map[string]bool{}
	var out []Alert
	for _, i := range sorted {
		k, _, ok := groupKey(docs[i], r.newTerms)
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		a := r.eventAlert(docs, []int{i})
		for _, f := range r.newTerms {
			if !slices.Contains(a.Columns, f) {
				a.Columns = append(a.Columns, f)
				a.Values[f] = docs[i].Get(f)
			}
		}
		out = append(out, a)
	}
	return out
}

// Explain says, in the rule's language, why docs give no alert (or which
// documents do).
func (r *Rule) Explain(docs []core.Doc) string {
	if r.esql != nil {
		return r.esql.Explain(docs, IndexOf)
	}
	idx, sub := r.selectIndex(docs)
	head := fmt.Sprintf("%d of %d ECS documents are in the rule's indices (%s)", len(idx), len(docs), strings.Join(r.Index, ", "))
	if len(sub) == 0 {
		var have []string
		seen := map[string]bool{}
		for _, d := range docs {
			if n := IndexOf(d); !seen[n] {
				seen[n] = true
				have = append(have, n)
			}
		}
		sort.Strings(have)
		return head + "; the events are in " + strings.Join(have, ", ")
	}
	if r.eql != nil {
		return head + "\n" + r.eql.Explain(sub)
	}
	m := r.matching(docs)
	switch {
	case len(m) == 0:
		return head + "\n" + r.kql.Explain(sub)
	case r.threshold != nil:
		s := fmt.Sprintf("%s\n%d documents match the query; the threshold is %d per [%s]", head, len(m), r.threshold.value, strings.Join(r.threshold.fields, ", "))
		if r.threshold.cardField != "" {
			s += fmt.Sprintf(" with at least %d distinct %s", r.threshold.cardinality, r.threshold.cardField)
		}
		return s
	}
	return fmt.Sprintf("%s\n%d events match the query", head, len(m))
}
