package reports

import (
	"strings"
	"unicode/utf8"
)

// TextOptions shape the text report for a terminal or a log.
type TextOptions struct {
	// Width is the line length the report keeps to (default 100): long
	// lines are wrapped, or elided in the middle where their two ends say
	// the most (a command line, a request); names are never cut.
	Width int
	// Color marks pass, FAIL, gap and SIMULATED with ANSI colours; for a
	// terminal only (the CLI also honours NO_COLOR).
	Color bool
	// OutDir is where the run's report files are, to say so at the end;
	// empty when none were written.
	OutDir string
}

func (o TextOptions) width() int {
	if o.Width <= 0 {
		return 100
	}
	return o.Width
}

// OutFile is one file `run --out DIR` writes.
type OutFile struct {
	Name, What string
}

// OutFiles lists every file `run --out DIR` writes, for the CLI's help and
// the report's last lines.
var OutFiles = []OutFile{
	{"report.html", "the run for people: open in a browser (self-contained, works offline)"},
	{"report.md", "the run for a pull-request comment or a CI job summary"},
	{"junit.xml", "JUnit for CI: a case per staged file and per expectation"},
	{"results.json", "the results document (atomics, uploads, verdicts)"},
	{"ledger.json", "every request the mock received (never the token)"},
	{"events.xml", "the rendered Windows events, one <Events> document"},
	{"events.provenance.jsonl", "what each event in events.xml rests on (its provenance sidecar)"},
	{"events.jsonl", "the same events as JSON lines, with run id and provenance"},
	{"events.ecs.jsonl", "the events and the audit log as Elastic Common Schema documents"},
	{"github-audit.jsonl", "the mock's GitHub audit log, in GitHub's shape"},
	{"proxy.jsonl", "the web proxy log at the interception point (Sigma's proxy fields)"},
	{"access.log", "the same proxy log in Squid's native format"},
	{"zeek", "Zeek's conn.log, dns.log, http.log and ssl.log (Zeek's JSON)"},
	{"layer.json", "an ATT&CK Navigator layer (format 4.5) scored by coverage"},
	{"coverage.html", "the coverage matrix of variants and benign look-alikes, for people"},
	{"coverage-layer.json", "a Navigator layer scored by the variants' detection rates"},
}

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

func (o TextOptions) paint(code, s string) string {
	if !o.Color || s == "" {
		return s
	}
	return code + s + reset
}

// elide shortens s to width runes by cutting its middle.
func elide(s string, width int) string {
	if utf8.RuneCountInString(s) <= width || width < 5 {
		return s
	}
	r := []rune(s)
	head := (width - 1) * 2 / 3
	tail := width - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// wrap breaks s into lines of at most width runes at spaces, the first
// prefixed with first and the rest with indent; a word longer than a line
// is broken where it must be, never dropped.
func wrap(s string, width int, first, indent string) string {
	if !strings.Contains(s, "\n") && utf8.RuneCountInString(first+s) <= width {
		return first + s // fits: spacing kept as it is
	}
	var b strings.Builder
	for i, para := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		prefix := first
		if i > 0 {
			prefix = indent
		}
		// A paragraph's own indentation (a list inside an explanation) is kept.
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		prefix += lead
		indent := indent + lead
		line := prefix
		room := func() int { return width - utf8.RuneCountInString(line) }
		empty := true
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width-utf8.RuneCountInString(indent) {
				// A token longer than a whole line (a URL, a hash).
				if !empty {
					b.WriteString(line + "\n")
					line, empty = indent, true
				}
				r := []rune(word)
				n := room()
				b.WriteString(line + string(r[:n]) + "\n")
				line, word = indent, string(r[n:])
			}
			if !empty && utf8.RuneCountInString(word)+1 > room() {
				b.WriteString(line + "\n")
				line, empty = indent, true
			}
			if !empty {
				line += " "
			}
			line += word
			empty = false
		}
		b.WriteString(line)
	}
	return b.String()
}

// fold fits s in at most two lines of width: wrapped, and elided in the
// middle first when even two lines cannot hold it.
func fold(s string, width int, first, indent string) string {
	room := 2*width - utf8.RuneCountInString(first) - utf8.RuneCountInString(indent) - 8 // slack for wrapping at spaces
	return wrap(elide(s, room), width, first, indent)
}
