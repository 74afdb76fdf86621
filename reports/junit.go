package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/t1567001/harness/validate"
)

// The JUnit shapes follow Jenkins' junit-10.xsd (xunit-plugin), which
// GitLab, GitHub and Azure test reporters also read. The schema allows
// properties on suites only, so each suite is one thing whose properties
// describe every case in it: one atomic's delivery, or one rule's
// expectations for one atomic in one host context.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Time     string       `xml:"time,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr,omitempty"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the run for CI: per atomic a suite with one case per
// staged file ("arrived intact"), then per atomic, host context and rule a
// suite with one case per expectation. A failed expectation is a failure
// with its explanation; a test that timed out, was interrupted or never ran
// is an error on each of its cases, and an atomic that could not run for a
// missing prerequisite is skipped with the reason. A known gap to the
// rule author's intent goes to system-out: CI shows it without failing.
func WriteJUnit(w io.Writer, r *Results) error {
	doc := junitSuites{Name: "t1567-harness " + r.RunID, Time: seconds(r.Started, r.Ended)}
	add := func(s junitSuite) {
		doc.Suites = append(doc.Suites, s)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	for _, a := range r.Atomics {
		add(deliverySuite(r, a))
	}
	for _, u := range r.Unfinished {
		s := junitSuite{Name: "delivery :: " + u.Name, Properties: atomicProperties(r, Atomic{Name: u.Name, GUID: u.GUID, Execution: "not-run"})}
		s.add(junitCase{Classname: "T1567.001.delivery", Name: u.Name + " :: ran",
			Error: &junitMessage{Message: "the run ended before this test started: " + u.Reason, Type: "interrupted"}})
		add(s)
	}
	// Verdicts of one atomic, context and rule share a suite while they
	// rest on the same evidence, so the suite's properties hold for each.
	var cur *junitSuite
	key := ""
	for _, v := range r.Verdicts {
		name := fmt.Sprintf("%s :: %s :: %s", v.Context, v.Rule, v.Atomic)
		if k := name + "\x00" + RestsOn(v); cur == nil || k != key {
			key = k
			if cur != nil {
				add(*cur)
			}
			a := r.atomic(v)
			cur = &junitSuite{Name: name, Timestamp: timestamp(a.Started), Properties: append(atomicProperties(r, a),
				junitProperty{"context", v.Context}, junitProperty{"rule", v.Rule}, junitProperty{"provenance", RestsOn(v)})}
		}
		cur.add(verdictCase(r, v))
	}
	if cur != nil {
		add(*cur)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func (s *junitSuite) add(c junitCase) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func deliverySuite(r *Results, a Atomic) junitSuite {
	s := junitSuite{Name: "delivery :: " + a.Name, Time: seconds(a.Started, a.Ended), Timestamp: timestamp(a.Started), Properties: atomicProperties(r, a)}
	per := seconds(a.Started, a.Ended)
	for _, f := range a.Staged {
		c := junitCase{Classname: "T1567.001.delivery", Name: fmt.Sprintf("%s :: %s arrived intact", a.Name, f.Name), Time: per}
		switch {
		case a.Execution == "not-run":
			c.Skipped = &junitMessage{Message: "missing prerequisite: " + strings.Join(a.MissingPrereqs, "; "), Type: "prerequisite"}
		case a.Role != "" && !f.Arrived:
			// A variant or benign look-alike is judged by the coverage
			// matrix, not by what reached the mock.
			c.Skipped = &junitMessage{Message: fmt.Sprintf("a %s case of the coverage matrix: judged there (coverage.html), not by delivery", a.Role), Type: "coverage-case"}
		case a.Interrupted && !f.Arrived:
			c.Error = &junitMessage{Message: "interrupted before the file arrived", Type: "interrupted"}
		case a.TimedOut && !f.Arrived:
			c.Error = &junitMessage{Message: "timed out" + after(a) + " before the file arrived", Type: "timeout", Text: a.Stderr}
		case !f.Arrived:
			c.Failure = &junitMessage{Message: fmt.Sprintf("%s (sha256 %s) did not arrive intact at the mock", f.Name, f.SHA256), Type: "delivery", Text: a.Stderr}
		default:
			c.SystemOut = fmt.Sprintf("%d bytes, sha256 %s, stored by the mock unchanged", f.Size, f.SHA256)
		}
		s.add(c)
	}
	if len(a.Staged) == 0 {
		s.add(junitCase{Classname: "T1567.001.delivery", Name: a.Name + " :: staged files", Time: per,
			Failure: &junitMessage{Message: "the test staged no file, so nothing can arrive intact", Type: "delivery"}})
	}
	return s
}

// after names the time limit a test ran into, when the results carry it.
func after(a Atomic) string {
	if a.Timeout > 0 {
		return " after " + a.Timeout.String()
	}
	return ""
}

func verdictCase(r *Results, v validate.Verdict) junitCase {
	c := junitCase{
		Classname: "T1567.001." + v.Context + "." + v.Rule,
		Name:      fmt.Sprintf("%s :: %s :: %s%s", v.Atomic, v.Rule, v.Expected, SimulatedMark(v)),
	}
	var out []string
	if v.Why != "" {
		out = append(out, "expectation note: "+v.Why)
	}
	if v.Gap != "" {
		out = append(out, fmt.Sprintf("gap: the rule's author meant %s\n%s", v.Intent, v.Gap))
	}
	c.SystemOut = strings.Join(out, "\n")
	a := r.atomic(v)
	switch {
	case v.Pass:
	case a.Execution == "not-run":
		c.Skipped = &junitMessage{Message: "missing prerequisite: " + strings.Join(a.MissingPrereqs, "; "), Type: "prerequisite"}
	case a.Interrupted:
		c.Error = &junitMessage{Message: "the test was interrupted: " + v.Explanation, Type: "interrupted"}
	case a.TimedOut:
		c.Error = &junitMessage{Message: "the test timed out" + after(a), Type: "timeout", Text: v.Explanation}
	default:
		c.Failure = &junitMessage{Message: fmt.Sprintf("expected %s, got %s", v.Expected, ActualString(v)), Type: "expectation", Text: v.Explanation}
	}
	return c
}

func atomicProperties(r *Results, a Atomic) []junitProperty {
	ps := []junitProperty{{"run_id", r.RunID}, {"mode", r.Mode}, {"atomic", a.Name}, {"guid", a.GUID},
		{"execution", a.Execution}, {"simulated", strconv.FormatBool(a.Execution == "simulated")}}
	if r.Sandbox != "" {
		ps = append(ps, junitProperty{"sandbox", r.Sandbox})
	}
	return ps
}

// seconds is a duration in the schema's SUREFIRE_TIME form.
func seconds(from, to time.Time) string {
	if from.IsZero() || to.Before(from) {
		return "0.000"
	}
	return strconv.FormatFloat(to.Sub(from).Seconds(), 'f', 3, 64)
}

// timestamp is the suite's start as JUnit writers give it: ISO 8601, UTC.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// RestsOn says what a verdict rests on: the provenance of the events
// under its firing rows ("observed", "declared+simulated"), or "nothing"
// when no row fires.
func RestsOn(v validate.Verdict) string {
	if b := v.Basis(); b != "" {
		return b
	}
	return "nothing"
}

// SimulatedMark is " [simulated]" for a verdict that rests only on
// simulated events, so that no simulation reads as a run.
func SimulatedMark(v validate.Verdict) string {
	if v.Simulated() {
		return " [simulated]"
	}
	return ""
}

// ActualString summarises what a rule did for a verdict: its distinct
// Signal/score pairs, or silence.
func ActualString(v validate.Verdict) string {
	if !v.Actual.Fires {
		return "silent"
	}
	seen := map[string]bool{}
	var parts []string
	for _, row := range v.Actual.Rows {
		s, _ := row.Value("Signal")
		if sc, ok := row.Value("SuspicionScore"); ok {
			s += "/" + sc
		}
		if s == "" {
			continue // a rule without Signal (Sigma): counted below
		}
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("fires (%d match(es))", len(v.Actual.Rows))
	}
	return "fires " + strings.Join(parts, ", ")
}
