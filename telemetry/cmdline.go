package telemetry

import "strings"

// QuoteArg quotes one argument the way CreateProcess/CommandLineToArgvW
// expects, the rules syscall.EscapeArg and Python's
// subprocess.list2cmdline implement: quote when the argument is empty or
// contains a space or tab; double the backslashes that precede a quote or
// the closing quote; escape " as \". Other backslashes stay single, so
// C:\Program Files\x.exe becomes "C:\Program Files\x.exe", as Windows
// shows it.
func QuoteArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	quote := strings.ContainsAny(s, " \t")
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	if quote {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			// 2N+1 backslashes then " read back as N backslashes and a
			// literal quote.
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	if quote {
		// Trailing backslashes would otherwise escape the closing quote.
		b.WriteString(strings.Repeat(`\`, slashes))
		b.WriteByte('"')
	}
	return b.String()
}

// JoinCommandLine joins argv into a Windows command line with QuoteArg.
//
// argv[0] is the exception: CommandLineToArgvW takes the program name
// verbatim (up to the next quote if it starts with one, else up to the
// first space or tab) and processes no backslash escapes there. So argv[0]
// is only wrapped in quotes, never escaped: "C:\dir with space\" stays as
// is. A program name containing '"' (impossible in a Windows path) cannot
// be represented; it falls back to QuoteArg and will not split back
// exactly.
func JoinCommandLine(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
			b.WriteString(QuoteArg(a))
			continue
		}
		switch {
		case strings.Contains(a, `"`):
			b.WriteString(QuoteArg(a))
		case a == "" || strings.ContainsAny(a, " \t"):
			b.WriteString(`"` + a + `"`)
		default:
			b.WriteString(a)
		}
	}
	return b.String()
}

// SplitCommandLine is the inverse of JoinCommandLine, implementing
// CommandLineToArgvW's parsing (as Wine and Go's os package reproduce it):
// argv[0] by the program-name rule above; then arguments separated by
// spaces and tabs, where 2N backslashes + " give N backslashes and toggle
// quoting, 2N+1 backslashes + " give N backslashes and a literal ", other
// backslashes are literal, and "" inside quotes gives a literal " and ends
// the quoted run. A command line starting with whitespace has an empty
// argv[0], as in Windows; an empty command line gives no arguments (where
// Windows would substitute the module path).
func SplitCommandLine(s string) []string {
	if s == "" {
		return nil
	}
	var args []string
	// Program name.
	if s[0] == '"' {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return []string{s[1:]}
		}
		args = append(args, s[1:1+end])
		s = s[2+end:]
	} else {
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			return []string{s}
		}
		args = append(args, s[:end])
		s = s[end:]
	}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return args
		}
		var arg string
		arg, s = nextCmdlineArg(s)
		args = append(args, arg)
	}
}

// nextCmdlineArg reads one non-first argument from s (which does not start
// with whitespace) and returns it and the rest of s.
func nextCmdlineArg(s string) (arg, rest string) {
	var b strings.Builder
	inQuote := false
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes/2))
			if slashes%2 == 1 {
				b.WriteByte('"')
			} else {
				if inQuote && i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
				}
				inQuote = !inQuote
			}
			slashes = 0
			continue
		case ' ', '\t':
			if !inQuote {
				b.WriteString(strings.Repeat(`\`, slashes))
				return b.String(), s[i+1:]
			}
		}
		b.WriteString(strings.Repeat(`\`, slashes))
		slashes = 0
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	return b.String(), ""
}
