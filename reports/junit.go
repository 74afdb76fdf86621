package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/t1567001/harness/validate"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitCase struct {
	Classname  string          `xml:"classname,attr"`
	Name       string          `xml:"name,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Failure    *junitFailure   `xml:"failure,omitempty"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

// junitProperty says what a test case rests on (provenance).
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one testcase per verdict (atomic x context x rule),
// grouped in a suite per host context; a failed expectation's explanation
// is the failure text, and a gap to the rule author's intent goes to
// system-out, so CI shows both without failing on a known gap.
func WriteJUnit(w io.Writer, r *Results) error {
	doc := junitSuites{Name: "t1567-harness " + r.RunID}
	index := map[string]int{}
	for _, v := range r.Verdicts {
		i, ok := index[v.Context]
		if !ok {
			i = len(doc.Suites)
			index[v.Context] = i
			suite := junitSuite{Name: "context " + v.Context}
			if r.Sandbox != "" {
				suite.Properties = []junitProperty{{Name: "sandbox", Value: r.Sandbox}}
			}
			doc.Suites = append(doc.Suites, suite)
		}
		c := junitCase{
			Classname:  "T1567.001." + v.Context,
			Name:       fmt.Sprintf("%s :: %s :: %s%s", v.Atomic, v.Rule, v.Expected, SimulatedMark(v)),
			Properties: []junitProperty{{Name: "provenance", Value: RestsOn(v)}},
		}
		var out []string
		if v.Why != "" {
			out = append(out, "expectation note: "+v.Why)
		}
		if v.Gap != "" {
			out = append(out, fmt.Sprintf("gap: the rule's author meant %s\n%s", v.Intent, v.Gap))
		}
		c.SystemOut = strings.Join(out, "\n")
		if !v.Pass {
			c.Failure = &junitFailure{
				Message: fmt.Sprintf("expected %s, got %s", v.Expected, ActualString(v)),
				Type:    "expectation",
				Text:    v.Explanation,
			}
			doc.Suites[i].Failures++
			doc.Failures++
		}
		doc.Suites[i].Tests++
		doc.Tests++
		doc.Suites[i].Cases = append(doc.Suites[i].Cases, c)
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
		s := row.Values["Signal"]
		if sc, ok := row.Values["SuspicionScore"]; ok {
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
