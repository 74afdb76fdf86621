// Package rules holds the detection rules the harness validates by default:
// the seed Splunk query, copied verbatim from the detection's source, its
// Sigma twins, the other seeds' analytics (MITRE's Analytic 1, DET0318,
// D3FEND's ratio), SigmaHQ's two rules for the technique (unmodified, DRL
// 1.1) and Elastic's rules for the technique (elastic/*.toml, unmodified,
// under the Elastic License 2.0: see elastic/NOTICE.md). Rules are data: a rule file's name (without its extension)
// is the rule id the atomics' expect: blocks refer to.
package rules

import "embed"

// FS holds every *.spl, *.yml and elastic/*.toml rule.
//
//go:embed *.spl *.yml elastic
var FS embed.FS
