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
	"context"
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

// Alert is one result: the columns the rule yields and the documents it
// rests on (indexes into Run's input, or the ids given to Stream.Push).
type Alert struct {
	Columns []string
	Values  core.Doc
	Sources []int
}

// TimeOrdered reports whether the rule's result depends on the order of
// the documents: a sequence joins its steps in time, and new_terms alerts
// on a first sighting. Such a rule expects its documents in time order.
func (r *Rule) TimeOrdered() bool {
	return r.eql != nil && r.eql.Sequence || r.newTerms != nil
}

// order is the order Run reads documents in: in time for a rule that
// depends on it (stable), as given otherwise.
func (r *Rule) order(docs []core.Doc) []int {
	if r.TimeOrdered() {
		return core.InTimeOrder(docs, eql.TimeField)
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	return order
}

// Run evaluates the rule over docs.
func (r *Rule) Run(docs []core.Doc) []Alert {
	var out []Alert
	s := r.Stream(context.Background(), func(a Alert) error { out = append(out, a); return nil })
	for _, i := range r.order(docs) {
		// Only the context can fail, and it is never done.
		_, _ = s.Push(docs[i], i)
	}
	_ = s.Close()
	return out
}

// Stream is one run of a rule over documents pushed one at a time, in time
// order. It keeps only what the rule needs: an event query, a sequence's
// pending partial sequences (see eql.Stream), a threshold's count and
// distinct cardinality values per group, new_terms the combinations seen,
// ES|QL its aggregates (see esql.Stream). Alerts go out as soon as they
// are known, a threshold's and an ES|QL stats' at Close.
type Stream struct {
	r    *Rule
	ctx  context.Context
	emit func(Alert) error
	err  error
	n    int
	eql  *eql.Stream
	esql *esql.Stream
	// threshold groups, in order of first sighting
	order  []*thresholdGroup
	groups map[string]*thresholdGroup
	// seen: the new_terms combinations seen
	seen map[string]bool
	// cited counts the ids a threshold's groups cite, first is the
	// first of them (-1 before).
	cited, first int
}

type thresholdGroup struct {
	vals    []core.Value
	count   int
	sources []int
	card    map[string]bool
}

// ctxEvery is how many documents pass between two looks at the context.
const ctxEvery = 64

// Stream starts a run whose alerts go to emit; it stops with ctx's error
// when ctx is done.
func (r *Rule) Stream(ctx context.Context, emit func(Alert) error) *Stream {
	s := &Stream{r: r, ctx: ctx, emit: emit, first: -1}
	switch {
	case r.esql != nil:
		s.esql = r.esql.Stream(IndexOf, func(row esql.Row) {
			s.send(Alert{Columns: row.Columns, Values: row.Values, Sources: row.Sources})
		})
	case r.eql != nil:
		s.eql = r.eql.Stream(func(m eql.Match) { s.send(r.eventAlert(m.Docs, m.Events)) })
	case r.threshold != nil:
		s.groups = map[string]*thresholdGroup{}
	case r.newTerms != nil:
		s.seen = map[string]bool{}
	}
	return s
}

func (s *Stream) send(a Alert) {
	if s.err == nil {
		s.err = s.emit(a)
	}
}

// Held is how many documents the run cites now in what it keeps: a
// sequence's pending partial sequences, a threshold's or an ES|QL stats'
// groups, the rows an ES|QL sort or limit holds. A new_terms rule keeps
// the combinations of terms it has seen, and no document.
func (s *Stream) Held() int {
	switch {
	case s.eql != nil:
		return s.eql.Held()
	case s.esql != nil:
		return s.esql.Held()
	}
	return s.cited
}

// Oldest is the id of the oldest document the run keeps to cite; false
// when it keeps none.
func (s *Stream) Oldest() (id int, ok bool) {
	switch {
	case s.eql != nil:
		return s.eql.Oldest()
	case s.esql != nil:
		return s.esql.Oldest()
	}
	return s.first, s.first >= 0
}

// Push runs one document, which the caller names id, through the rule. It
// reports whether the run keeps id to cite it in an alert it yields later.
func (s *Stream) Push(d core.Doc, id int) (kept bool, err error) {
	if s.err != nil {
		return false, s.err
	}
	if s.n++; s.n%ctxEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			s.err = fmt.Errorf("rule %s: stopped after %d documents: %w", s.r.ID, s.n-1, err)
			return false, s.err
		}
	}
	r := s.r
	switch {
	case s.esql != nil:
		kept = s.esql.Push(d, id)
	case s.eql != nil:
		if r.inIndex(d) {
			kept = s.eql.Push(d, id)
		}
	case r.matches(d):
		switch {
		case r.threshold != nil:
			kept = s.count(d, id)
		case r.newTerms != nil:
			s.newTerm(d, id)
		default:
			s.send(r.eventAlert([]core.Doc{d}, []int{id}))
		}
	}
	return kept, s.err
}

// Close ends the stream and emits the alerts still held.
func (s *Stream) Close() error {
	if s.err != nil {
		return s.err
	}
	switch {
	case s.esql != nil:
		s.esql.Close()
	case s.groups != nil:
		s.thresholdAlerts()
	}
	return s.err
}

// matches reports whether d is in the rule's indices and its KQL query and
// filters accept it.
func (r *Rule) matches(d core.Doc) bool {
	if !r.inIndex(d) || !r.kql.Match(d) {
		return false
	}
	for _, f := range r.filters {
		if !core.Truthy(f.Eval(d)) {
			return false
		}
	}
	return true
}

// alertFields are shown for an event alert, after the rule's own fields.
var alertFields = []string{"@timestamp", "event.action", "host.name", "user.name", "process.name", "harness.provenance"}

// eventAlert is an alert on docs, which the caller names src.
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
		for _, d := range docs {
			if v := d.Get(f); !v.IsNull() {
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

// count adds d to its threshold group; it reports whether the group cites
// it (the first core.MaxSources of a group).
func (s *Stream) count(d core.Doc, id int) bool {
	t := s.r.threshold
	k, vals, ok := groupKey(d, t.fields)
	if !ok {
		return false
	}
	g := s.groups[k]
	if g == nil {
		g = &thresholdGroup{vals: vals, card: map[string]bool{}}
		s.groups[k] = g
		s.order = append(s.order, g)
	}
	g.count++
	if t.cardField != "" {
		for _, v := range d.Get(t.cardField).Values() {
			g.card[v] = true
		}
	}
	if len(g.sources) < core.MaxSources {
		g.sources = append(g.sources, id)
		if s.cited++; s.first < 0 {
			s.first = id
		}
		return true
	}
	return false
}

func (s *Stream) thresholdAlerts() {
	t := s.r.threshold
	for _, g := range s.order {
		if g.count < t.value || (t.cardField != "" && len(g.card) < t.cardinality) {
			continue
		}
		a := Alert{Values: core.Doc{}, Sources: g.sources}
		for i, f := range t.fields {
			a.Columns = append(a.Columns, f)
			a.Values[f] = g.vals[i]
		}
		a.Columns = append(a.Columns, "threshold_result.count")
		a.Values["threshold_result.count"] = core.NumberValue(float64(g.count))
		if t.cardField != "" {
			name := "threshold_result.cardinality." + t.cardField
			a.Columns = append(a.Columns, name)
			a.Values[name] = core.NumberValue(float64(len(g.card)))
		}
		s.send(a)
	}
}

// newTerm alerts on the first document with each combination of the
// new-terms fields' values: the history window holds only the documents
// before it in the same stream, so a first sighting is new.
func (s *Stream) newTerm(d core.Doc, id int) {
	k, _, ok := groupKey(d, s.r.newTerms)
	if !ok || s.seen[k] {
		return
	}
	s.seen[k] = true
	a := s.r.eventAlert([]core.Doc{d}, []int{id})
	for _, f := range s.r.newTerms {
		if !slices.Contains(a.Columns, f) {
			a.Columns = append(a.Columns, f)
			a.Values[f] = d.Get(f)
		}
	}
	s.send(a)
}

// Explain says, in the rule's language, why docs give no alert (or which
// documents do).
func (r *Rule) Explain(docs []core.Doc) string {
	x := r.Explainer()
	for _, i := range r.order(docs) {
		x.Add(docs[i], i)
	}
	return x.String()
}

// Explainer follows documents one at a time, in time order, and says at
// the end why they give no alert, holding counts, the indices seen and
// the document closest to matching, never the documents.
type Explainer struct {
	r              *Rule
	total, inIndex int
	indices        map[string]bool
	matching       int
	eql            *eql.Explainer
	esql           *esql.Explainer
	closest        *core.Closest
}

// Explainer starts an explanation.
func (r *Rule) Explainer() *Explainer {
	x := &Explainer{r: r, indices: map[string]bool{}}
	switch {
	case r.esql != nil:
		x.esql = r.esql.Explainer(IndexOf)
	case r.eql != nil:
		x.eql = r.eql.Explainer()
	default:
		x.closest = r.kql.Closest()
	}
	return x
}

// Add offers the next document, which the caller names id.
func (x *Explainer) Add(d core.Doc, id int) {
	x.total++
	if x.esql != nil {
		x.esql.Add(d, id)
		return
	}
	if !x.r.inIndex(d) {
		x.indices[IndexOf(d)] = true
		return
	}
	x.inIndex++
	switch {
	case x.eql != nil:
		x.eql.Add(d, id)
	default:
		x.closest.Add(d)
		if x.r.matches(d) {
			x.matching++
		}
	}
}

func (x *Explainer) String() string {
	r := x.r
	if x.esql != nil {
		return x.esql.String()
	}
	head := fmt.Sprintf("%d of %d ECS documents are in the rule's indices (%s)", x.inIndex, x.total, strings.Join(r.Index, ", "))
	if x.inIndex == 0 {
		have := make([]string, 0, len(x.indices))
		for n := range x.indices {
			have = append(have, n)
		}
		sort.Strings(have)
		return head + "; the events are in " + strings.Join(have, ", ")
	}
	if x.eql != nil {
		return head + "\n" + x.eql.String()
	}
	switch {
	case x.matching == 0:
		return head + "\n" + x.closest.String()
	case r.threshold != nil:
		s := fmt.Sprintf("%s\n%d documents match the query; the threshold is %d per [%s]", head, x.matching, r.threshold.value, strings.Join(r.threshold.fields, ", "))
		if r.threshold.cardField != "" {
			s += fmt.Sprintf(" with at least %d distinct %s", r.threshold.cardinality, r.threshold.cardField)
		}
		return s
	}
	return fmt.Sprintf("%s\n%d events match the query", head, x.matching)
}
