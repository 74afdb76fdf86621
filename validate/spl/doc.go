// Package spl evaluates the subset of Splunk's Search Processing Language
// (SPL) that detection content uses, so that a detection written for Splunk
// can be run, unchanged, over recorded or synthesised events.
//
// The package is a lexer, a parser to an abstract syntax tree and an
// evaluator. Queries are compiled once by [Parse]: wildcards become matchers,
// regular expressions are compiled, and [Query.Run] then evaluates the
// pipeline over a slice of [Event] values without re-reading the query text.
//
// # Supported subset
//
// The initial search (implicit `search`) and the `search` command support
// field=value terms with `*` wildcards anywhere in the value, quoted values
// with the backslash escapes `\\` (one backslash) and `\"` (a quote), bare
// terms, `field IN (a, b, "c*")`, the comparisons != < > <= >=, NOT, OR,
// explicit and implicit AND and parentheses. Values match case-insensitively;
// field names are case-sensitive. A bare term is a wildcard substring match
// on `_raw` when the event has one, otherwise on any field value but the
// metadata Splunk adds (index, sourcetype, source, host, _time...). dedup
// takes a count, fields and keepempty=; any other option is a parse error.
//
// The other commands are where, eval, table, fields, rename, sort, head,
// dedup and stats (count, count(X), dc, values, list, min, max, sum, avg,
// first, last). Expressions in where and eval support arithmetic (+ - * / %),
// string concatenation (.), comparisons (= == != < > <= >=), LIKE, IN, AND,
// OR, NOT, XOR, and the functions abs, case, coalesce, false, if, in, isnotnull,
// isnull, isnum, isstr, len, like, lower, ltrim, match, mvcount, null, replace,
// round, rtrim, substr, tonumber, tostring, trim, true and upper. Comparisons
// in where and eval are case-sensitive; values that look numeric on both sides
// compare as numbers. Null propagates as Splunk documents: arithmetic and
// concatenation with null give null, comparisons with null are false, and
// assigning null with eval removes the field. SPL comments (```...```) are
// skipped; macros (`name`) are rejected with an error asking for expansion.
//
// # Precedence
//
// Splunk evaluates Boolean operators differently by command ("Boolean
// expressions", Splunk Search Manual): in search, NOT binds tightest, then OR,
// then AND, so `a b OR c` means `a AND (b OR c)`. In where and eval the order
// is NOT, AND, OR, then XOR, as in most languages, so `a AND b OR c` means
// `(a AND b) OR c`.
//
// # Regular expressions
//
// Splunk uses PCRE; this package uses Go's RE2-based regexp package, which
// guarantees linear-time matching but lacks lookahead and lookbehind
// ((?=...), (?!...), (?<=...), (?<!...)), backreferences (\1, \k<name>),
// atomic groups ((?>...)) and possessive quantifiers (*+, ++, ?+). A regular
// expression using one of these is rejected at parse time with an error
// naming the construct. Inline flags such as (?i) work in both. Regular
// expressions must be string literals so that they are compiled once.
//
// A regular expression that is only an alternation of literals, such as
// "(?i)(code\.exe|pycharm)", is matched by substring search instead of the
// regex engine; the result is the same and much faster.
//
// # Events of one kind
//
// Events that implement [Keyed] say which of their fields one key (for
// Windows events, the channel and the event code) decides. A stream then
// specialises its search, and the where and eval commands that only
// search, where and eval precede, once per key: the terms and conditions
// on those fields are decided, so that a rule's EventCode and sourcetype
// tests cost nothing per event. The rows are those of the unspecialised
// query.
//
// # Explanations
//
// [Query.Explain] evaluates one event and reports, for each leaf term of the
// first search clause, the field, the pattern after unescaping and the
// event's actual value, within the AND/OR/NOT structure; then which later
// command (a where, say) dropped the event and what eval had computed.
//
// # Deliberate deviations
//
//   - Time modifiers (earliest, latest) match every event, because replayed
//     telemetry is not bounded by a search window.
//   - Bare search terms match by substring with wildcards rather than by
//     Splunk's indexed-token segmentation; field=value compares text, so
//     EventCode=03 does not match "3".
//   - Search comparisons (<, >, ...) on text are case-sensitive byte order.
//   - Conditions are two-valued: a comparison with null is false, so
//     NOT x=1 is true when x is null. A where condition that is not Boolean
//     (a case() with no match, say) drops the row.
//   - + concatenates as text unless both operands are numbers.
//   - sort orders numbers before text and text byte-wise; it does not sort
//     "10abc" by its leading number, and ip() sorts like auto().
//   - match() and replace() need a literal regular expression; TERM(),
//     CASE(), subsearches, macros and wildcard rename are not supported.
//   - Multivalue fields exist only as the output of stats values() and
//     list(); eval treats a multivalue field as its first value.
package spl
