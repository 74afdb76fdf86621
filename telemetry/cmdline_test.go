package telemetry

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuoteArg(t *testing.T) {
	// Expected values are what syscall.EscapeArg and list2cmdline produce.
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", "plain"},
		{"-noninteractive", "-noninteractive"},
		{"two words", `"two words"`},
		{"tab\there", "\"tab\there\""},
		{" ", `" "`},
		{`say "hi"`, `"say \"hi\""`},
		{`a"b`, `a\"b`},
		{`"`, `\"`},
		{`C:\dir\`, `C:\dir\`},
		{`C:\my dir\`, `"C:\my dir\\"`},
		{`C:\my dir\\`, `"C:\my dir\\\\"`},
		{`a\"b`, `a\\\"b`},
		{`a\\"b c`, `"a\\\\\"b c"`},
		{`\\server\share\x`, `\\server\share\x`},
		{`C:\Program Files\Git\cmd\git.exe`, `"C:\Program Files\Git\cmd\git.exe"`},
		{`%%temp%%\sam & reg`, `"%%temp%%\sam & reg"`},
		{`C:\Users\Jörg`, `C:\Users\Jörg`},
		{`{"a": 1}`, `"{\"a\": 1}"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := QuoteArg(tt.in)
			assert.Equal(t, tt.want, got)
			// As a non-first argument it must parse back.
			assert.Equal(t, []string{"x", tt.in}, SplitCommandLine("x "+got))
		})
	}
}

func TestJoinCommandLine(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"nil", nil, ""},
		{"program only", []string{"cmd.exe"}, "cmd.exe"},
		{"program with space", []string{`C:\Program Files\Git\cmd\git.exe`, "clone", "https://x/y z"},
			`"C:\Program Files\Git\cmd\git.exe" clone "https://x/y z"`},
		{"argv0 trailing backslash not doubled", []string{`C:\my dir\`, `C:\my dir\`},
			`"C:\my dir\" "C:\my dir\\"`},
		{"argv0 backslashes literal", []string{`C:\a\b.exe`, `x\"y`}, `C:\a\b.exe x\\\"y`},
		{"empty argv0 and arg", []string{"", ""}, `"" ""`},
		{"cmd /c", []string{`C:\Windows\system32\cmd.exe`, "/c", `echo "a & b"`},
			`C:\Windows\system32\cmd.exe /c "echo \"a & b\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JoinCommandLine(tt.argv)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.argv, SplitCommandLine(got))
		})
	}
}

func TestSplitCommandLine(t *testing.T) {
	// Cases from CommandLineToArgvW's documentation and
	// daviddeley.com's parameter tables; argv[0] is "p" unless testing it.
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"p", []string{"p"}},
		{`p "a b c" d e`, []string{"p", "a b c", "d", "e"}},
		{`p "ab\"c" "\\" d`, []string{"p", `ab"c`, `\`, "d"}},
		{`p a\\\b d"e f"g h`, []string{"p", `a\\\b`, "de fg", "h"}},
		{`p a\\\"b c d`, []string{"p", `a\"b`, "c", "d"}},
		{`p a\\\\"b c" d e`, []string{"p", `a\\b c`, "d", "e"}},
		{`p "a""b"`, []string{"p", `a"b`}},
		{`p "a""b c"`, []string{"p", `a"b`, "c"}},
		{`p """"`, []string{"p", `"`}},
		{`p ""`, []string{"p", ""}},
		{"p \t a \t", []string{"p", "a"}},
		{`p a\`, []string{"p", `a\`}},
		{`p "unterminated arg`, []string{"p", "unterminated arg"}},
		// argv[0]: no escapes, ends at the next quote or whitespace.
		{`"C:\my dir\" x`, []string{`C:\my dir\`, "x"}},
		{`C:\a\\"b c`, []string{`C:\a\\"b`, "c"}},
		{`"a b"c d`, []string{"a b", "c", "d"}},
		{`"unterminated`, []string{"unterminated"}},
		{" leading", []string{"", "leading"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, SplitCommandLine(tt.in))
		})
	}
}

// TestCommandLineRoundTrip is a property test: any argv whose argv[0] has
// no quote (Windows paths cannot) survives Join then Split.
func TestCommandLineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const argChars = `ab\\\" "	\é-/`
	const progChars = `ab\\ 	é.:`
	word := func(chars string) string {
		runes := []rune(chars)
		n := rng.Intn(8)
		var b strings.Builder
		for range n {
			b.WriteRune(runes[rng.Intn(len(runes))])
		}
		return b.String()
	}
	for i := range 20000 {
		argv := []string{word(progChars)}
		for range rng.Intn(5) {
			argv = append(argv, word(argChars))
		}
		line := JoinCommandLine(argv)
		require.Equal(t, argv, SplitCommandLine(line), "case %d: command line %q", i, line)
	}
}
