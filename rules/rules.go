// Package rules holds the detection rules the harness validates by default:
// the seed Splunk query, copied verbatim from the detection's source, and
// Sigma rules. Rules are data: a rule file's name (without its extension)
// is the rule id the atomics' expect: blocks refer to.
package rules

import "embed"

// FS holds every *.spl and *.yml rule.
//
//go:embed *.spl *.yml
var FS embed.FS
