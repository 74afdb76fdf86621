package core

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fast matchers must agree with the obvious regular expressions.

// patternGen returns a generator of random text of up to n-1 pieces of
// the alphabet; without stars, a '*' drawn becomes an 'a'.
func patternGen(rng *rand.Rand, alphabet ...string) func(n int, stars bool) string {
	return func(n int, stars bool) string {
		var b strings.Builder
		for range rng.IntN(n) {
			c := alphabet[rng.IntN(len(alphabet))]
			if c == "*" && !stars {
				c = "a"
			}
			b.WriteString(c)
		}
		return b.String()
	}
}

func TestWildcardAgreesWithRegexp(t *testing.T) {
	gen := patternGen(rand.New(rand.NewPCG(1, 2)), "a", "B", "\\", ".", "*", "x", "é", "É")
	for range 20000 {
		pat := gen(6, true)
		var re strings.Builder
		re.WriteString("(?is)^")
		for i, seg := range strings.Split(pat, "*") {
			if i > 0 {
				re.WriteString(".*")
			}
			re.WriteString(regexp.QuoteMeta(seg))
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String())
		w := CompileWildcard(pat, false)
		s := gen(8, false)
		require.Equal(t, want.MatchString(s), w.Match(s), "pattern %q text %q", pat, s)
	}
}

// TestWildcardSetAgreesWithPatterns: a set matches exactly when one of its
// patterns does, whatever the patterns' shapes.
func TestWildcardSetAgreesWithPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	gen := patternGen(rng, "a", "B", "b", "\\", ".", "*", "*", "é", "É")
	shapes := map[string]bool{}
	for range 20000 {
		pats := make([]Wildcard, 1+rng.IntN(4))
		for i := range pats {
			pats[i] = CompileWildcard(gen(5, true), rng.IntN(8) == 0)
		}
		set := NewWildcardSet(pats)
		for _, k := range []struct {
			name string
			n    int
		}{{"exact", len(set.exact)}, {"prefix", len(set.prefix)}, {"suffix", len(set.suffix)}, {"contains", len(set.contains)}, {"contains in one pass", len(set.contains) * btoi(set.starts != nil)}, {"suffixes by separator", btoi(set.sep != 0)}, {"other", len(set.other)}} {
			shapes[k.name] = shapes[k.name] || k.n > 0
		}
		s := gen(7, false)
		want := false
		for i := range pats {
			want = want || pats[i].Match(s)
		}
		require.Equal(t, want, set.Match(s), "patterns %v text %q", pats, s)
	}
	assert.Equal(t, map[string]bool{"exact": true, "prefix": true, "suffix": true, "contains": true, "contains in one pass": true, "suffixes by separator": true, "other": true}, shapes, "every shape is tried")
}

// TestWildcardSetComparesAPatternOnce: a pattern given twice, in any
// case, as a hoisted test gathers them, is kept once.
func TestWildcardSetComparesAPatternOnce(t *testing.T) {
	var pats []Wildcard
	for _, p := range []string{"1", "3", "1", `*\Git.exe`, `*\git.EXE`, "push*", "PUSH*", "*hub*", "*HUB*"} {
		pats = append(pats, CompileWildcard(p, false))
	}
	set := NewWildcardSet(pats)
	assert.Equal(t, []string{"1", "3"}, set.exact)
	assert.Equal(t, []string{`\git.exe`}, set.suffix)
	assert.Equal(t, []string{"push"}, set.prefix)
	assert.Equal(t, []string{"hub"}, set.contains)
	assert.True(t, set.Match(`C:\GIT.exe`))
	assert.True(t, set.Match("Pushed"))
}

// TestWildcardSetExactLengths: exact values are tried by length, values
// of 63 bytes or more sharing one mark.
func TestWildcardSetExactLengths(t *testing.T) {
	long := strings.Repeat("x", 70)
	set := NewWildcardSet([]Wildcard{CompileWildcard("ab", false), CompileWildcard(long, false), CompileWildcard("q*", false)})
	for _, tc := range []struct {
		text string
		want bool
	}{{"AB", true}, {"abc", false}, {"a", false}, {"", false}, {strings.ToUpper(long), true}, {long + "x", false}, {strings.Repeat("x", 63), false}, {"qz", true}} {
		assert.Equal(t, tc.want, set.Match(tc.text), "%q", tc.text)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLiteralMatcher(t *testing.T) {
	texts := []string{"", "Code.exe", `C:\VS Code\CODE.EXE`, "codeXexe", "jenkins-1", "CI-runner", "ci_x", "cix", "gitlab-runner", "push", "PUSH", "github.com", "api.github.com/gists", strings.Repeat("x", 600) + "PyCharm"}
	for _, re := range []string{
		`(?i)(code\.exe|idea64\.exe|pycharm|devenv\.exe|sourcetree|gitkraken|fork\.exe|tower\.exe)`,
		`(?i)(jenkins|gitlab-runner|ci[-_]|build[-_]|deploy|devops|runner|bamboo|teamcity)`,
		`push`,
		`(github\.com|gitlab\.com|bitbucket\.org)`,
		`(api\.github\.com|api\.gitlab\.com|gist\.github\.com)`,
	} {
		m := CompileLiterals(re)
		require.NotNil(t, m, "%s should take the literal fast path", re)
		rx := regexp.MustCompile(re)
		for _, s := range texts {
			assert.Equal(t, rx.MatchString(s), m.Match(s), "%s on %q", re, s)
		}
	}
	for _, re := range []string{`^push`, `a.b`, `[a-z]+`, `(?i)[k]`, `x*`, `(?i)é`, `a(?i)b`} {
		assert.Nil(t, CompileLiterals(re), "%s must keep the regex engine", re)
	}
}

func TestLikeMatch(t *testing.T) {
	for _, c := range []struct {
		s, p string
		want bool
	}{
		{"abc", "abc", true}, {"abc", "a%", true}, {"abc", "%c", true}, {"abc", "%b%", true},
		{"abc", "a_c", true}, {"abc", "a_", false}, {"", "%", true}, {"", "_", false},
		{"éa", "_a", true}, {"aXbXc", "a%b%c", true}, {"abc", "ABC", false}, {"a%b", "a%%b", true},
	} {
		assert.Equal(t, c.want, Glob(c.s, c.p, '%', '_', false), "%q LIKE %q", c.s, c.p)
	}
}

func TestGlobAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "B", "b", "?", "*", "x", "é", "É"}
	gen := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		pat, text := gen(6), gen(8)
		text = strings.NewReplacer("*", "", "?", "").Replace(text)
		var re strings.Builder
		re.WriteString("(?is)^")
		for _, r := range pat {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(text)
		require.Equal(t, want, Glob(text, pat, '*', '?', true), "pattern %q text %q", pat, text)
	}
}

// TestWildcardSetSuffixesBySeparator: suffixes that each begin with one
// separator are compared from the text's last separator on, and only
// where that holds.
func TestWildcardSetSuffixesBySeparator(t *testing.T) {
	byPath := NewWildcardSet([]Wildcard{CompileWildcard(`*\git.exe`, false), CompileWildcard(`*\curl.exe`, false)})
	require.Equal(t, byte('\\'), byPath.sep)
	for _, tc := range []struct {
		text string
		want bool
	}{
		{`C:\a\git.exe`, true}, {`C:\x\GIT.EXE`, true}, {`\git.exe`, true}, {`C:\x\\curl.exe`, true},
		{`C:\git.exe\x`, false}, {`git.exe`, false}, {`C:\x\y.git.exe`, false}, {`C:\git.exe\git.ex`, false}, {``, false},
	} {
		assert.Equal(t, tc.want, byPath.Match(tc.text), "%q", tc.text)
	}
	// A suffix with the separator inside it keeps the plain comparison.
	nested := NewWildcardSet([]Wildcard{CompileWildcard(`*\bin\git.exe`, false), CompileWildcard(`*\curl.exe`, false)})
	assert.Zero(t, nested.sep)
	assert.True(t, nested.Match(`C:\Git\bin\git.exe`))
	assert.False(t, nested.Match(`C:\Git\cmd\git.exe`))
}
