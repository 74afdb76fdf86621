// Package rules holds the detection rules the harness validates by default:
// the seed Splunk query, copied verbatim from the detection's source, Sigma
// rules, and Elastic's rules for the technique (elastic/*.toml, unmodified,
// under the Elastic License 2.0: see elastic/NOTICE.md). Rules are data: a rule file's name (without its extension)
// is the rule id the atomics' expect: blocks refer to.
package rules

import "embed"

// FS holds every *.spl, *.yml and elastic/*.toml rule.
//
//go:embed *.spl *.yml elastic
var FS embed.FS
