// Package core is the execution core the query languages share (SPL, EQL,
// KQL, ES|QL): typed values and their comparison, case-insensitive
// wildcard matching, a literal fast path for regular expressions, and
// aggregation. Each language's parser compiles to these pieces, so a
// wildcard or a number compares the same way whichever language asked.
package core
