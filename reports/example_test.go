package reports_test

import (
	"os"

	"github.com/t1567001/harness/reports"
)

// WriteFiles ends the text report by saying where the run's files are.
func ExampleWriteFiles() {
	_ = reports.WriteFiles(os.Stdout, reports.TextOptions{OutDir: "out"})
	// Output:
	// Report files in out:
	//   out/report.html              the run for people: open in a browser (self-contained, works offline)
	//   out/report.md                the run for a pull-request comment or a CI job summary
	//   out/junit.xml                JUnit for CI: a case per staged file and per expectation
	//   out/results.json             the results document (atomics, uploads, verdicts)
	//   out/ledger.json              every request the mock received (never the token)
	//   out/events.xml               the rendered Windows events, one <Events> document
	//   out/events.provenance.jsonl  what each event in events.xml rests on (its provenance sidecar)
	//   out/events.jsonl             the same events as JSON lines, with run id and provenance
	//   out/events.ecs.jsonl         the events and the audit log as Elastic Common Schema documents
	//   out/github-audit.jsonl       the mock's GitHub audit log, in GitHub's shape
	//   out/proxy.jsonl              the web proxy log at the interception point (Sigma's proxy fields)
	//   out/access.log               the same proxy log in Squid's native format
	//   out/zeek                     Zeek's conn.log, dns.log, http.log and ssl.log (Zeek's JSON)
	//   out/layer.json               an ATT&CK Navigator layer (format 4.5) scored by coverage
	//   out/coverage.html            the coverage matrix of variants and benign look-alikes, for people
	//   out/coverage-layer.json      a Navigator layer scored by the variants' detection rates
}
