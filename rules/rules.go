// Package rules holds the detection rules the harness validates by default:
// the seed Splunk query, copied verbatim from the detection's source, its
// Sigma twins, the other seeds' analytics (MITRE's Analytic 1, DET0318,
// D3FEND's ratio) and SigmaHQ's two rules for the technique, unmodified. Rules are data: a rule file's name (without its extension)
// is the rule id the atomics' expect: blocks refer to.
package rules

import "embed"

// FS holds every *.spl and *.yml rule.
//
//go:embed *.spl *.yml
var FS embed.FS
