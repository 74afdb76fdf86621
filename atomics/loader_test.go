package atomics

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/t1567001/harness/internal/reftest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCorpusAtomicRedTeam(t *testing.T) {
	dir := reftest.Dir(t, "atomic-red-team")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	assert.Greater(t, len(files), 300, "corpus looks truncated")
	assert.Len(t, files, 341, "the snapshot described in SOURCE.md has 341 technique files")

	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			tech, err := LoadFile(file)
			require.NoError(t, err)
			assert.Equal(t, file, tech.Path)
			assert.NotEmpty(t, tech.Tests)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(file), ".yaml"), tech.AttackTechnique)
			for _, test := range tech.Tests {
				assert.Positive(t, test.Line, test.Name)
				assert.NotEmpty(t, test.Executor.Name, test.Name)
			}
		})
	}

	all, err := LoadDir(dir)
	require.NoError(t, err)
	assert.Len(t, all, len(files), "LoadDir must find every file Glob does")
}

// TestCorpusQuirks pins corpus entries that a naive struct decode gets wrong.
func TestCorpusQuirks(t *testing.T) {
	dir := reftest.Dir(t, "atomic-red-team")
	tests := []struct {
		file, test, arg, want string
	}{
		{"T1137.004.yaml", "Install Outlook Home Page Persistence", "outlook_version", "16.0"}, // YAML float
		{"T1055.011.yaml", "Process Injection via Extra Window Memory (EWM) x64 executable", "arch", "x64"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			tech, err := LoadFile(filepath.Join(dir, tc.file))
			require.NoError(t, err)
			test, ok := tech.Find(tc.test)
			require.True(t, ok, "test %q", tc.test)
			args, err := test.Args(nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, args[tc.arg])
		})
	}

	// A default that refers to another argument stays literal: substitution
	// is a single pass (see Substitute).
	tech, err := LoadFile(filepath.Join(dir, "T1055.011.yaml"))
	require.NoError(t, err)
	args, err := tech.Tests[0].Args(nil)
	require.NoError(t, err)
	assert.Equal(t, `PathToAtomicsFolder\T1055.011\bin\T1055.011_#{arch}.exe`, Substitute(tech.Tests[0].Executor.Command, args))

	// Defaults written as YAML ints and as empty/null must come out as text.
	all, err := LoadDir(dir)
	require.NoError(t, err)
	var ints, empties, manual int
	for _, tech := range all {
		for _, test := range tech.Tests {
			if test.Executor.Name == "manual" {
				manual++
				assert.NotEmpty(t, test.Executor.Steps)
			}
			for _, a := range test.InputArguments {
				switch {
				case a.Default == "":
					empties++
				case strings.Trim(a.Default, "0123456789") == "":
					ints++
				}
			}
		}
	}
	assert.Positive(t, ints, "integer defaults")
	assert.Positive(t, empties, "empty defaults")
	assert.Positive(t, manual, "manual executors")
}

func TestCorpusHarnessAtomics(t *testing.T) {
	dir := reftest.Dir(t, "atomics")
	all, err := LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, all, 4)
	for _, tech := range all {
		assert.NotEmpty(t, tech.Tests, tech.Path)
	}
}

// TestEmbeddedVariantsAndBenign: the files a run loads by default are the
// atomics (per-rule expectations; T1567.001, T1567.002 and T1567.003), the variants
// (expect: detected) and the benign look-alikes (expect: silent), every
// test with a distinct GUID.
func TestEmbeddedVariantsAndBenign(t *testing.T) {
	techs, err := LoadEmbedded()
	require.NoError(t, err)
	require.Len(t, techs, len(EmbeddedFiles))
	want := map[string]Role{"atomics/T1567.001.yaml": "", "atomics/T1567.001-variants.yaml": Variant, "atomics/T1567.001-benign.yaml": Benign,
		"atomics/T1567.002.yaml": "", "atomics/T1567.003.yaml": ""}
	guids := map[string]bool{}
	for _, tech := range techs {
		role, ok := want[tech.Path]
		require.True(t, ok, tech.Path)
		require.NotEmpty(t, tech.Tests, tech.Path)
		for _, tc := range tech.Tests {
			assert.Equal(t, role, tc.Role, "%s: %s", tech.Path, tc.Name)
			assert.Equal(t, role == "", len(tc.Expect) > 0, "%s: %s: per-rule expectations only on the atomics", tech.Path, tc.Name)
			assert.False(t, guids[tc.GUID], "duplicate GUID %s", tc.GUID)
			guids[tc.GUID] = true
		}
	}
}

// TestEmbedded checks the harness's own technique file, which the binary
// embeds, against the same rules.
func TestEmbedded(t *testing.T) {
	tech, err := Load("atomics/T1567.001.yaml", Embedded)
	require.NoError(t, err)
	assert.Equal(t, "T1567.001", tech.AttackTechnique)
	assert.NotEmpty(t, tech.Tests)
}

func TestLoadTestdata(t *testing.T) {
	tech, err := LoadFile(filepath.Join("testdata", "valid", "T0000.yaml"))
	require.NoError(t, err)
	require.Len(t, tech.Tests, 2)
	assert.Equal(t, "T0000", tech.AttackTechnique)

	upload, manual := tech.Tests[0], tech.Tests[1]
	assert.Equal(t, 5, upload.Line)
	assert.Equal(t, 64, manual.Line)

	defaults := map[string]string{}
	for name, a := range upload.InputArguments {
		defaults[name] = a.Default
	}
	assert.Equal(t, map[string]string{
		"url":     "https://example.invalid/upload",
		"retries": "5",
		"verbose": "true",
		"ratio":   "16.0",
		"empty":   "",
		"absent":  "",
	}, defaults)
	assert.Equal(t, "integer", upload.InputArguments["retries"].Type)
	assert.Equal(t, []string{"linux", "macos"}, upload.SupportedPlatforms)
	assert.Equal(t, "sh", upload.DependencyExecutorName)
	assert.Equal(t, []Dependency{{"curl must exist", "command -v curl", "echo install curl"}}, upload.Dependencies)
	assert.Equal(t, "", upload.Executor.CleanupCommand)
	require.NotNil(t, upload.WindowsExecutor)
	assert.Equal(t, Executor{Name: "powershell", Command: "Invoke-WebRequest #{url}"}, *upload.WindowsExecutor)
	assert.Equal(t, []string{"secrets.txt"}, upload.StagedFiles)
	assert.Equal(t, &Simulation{Requires: "curl", Command: "#{harness} simulate upload", Reason: "curl is not always installed"}, upload.Simulation)
	score := 70
	assert.Equal(t, map[string][]Expectation{"workstation": {
		{Rule: "curl_upload", Fires: true, Signal: "upload", Score: &score, Why: "curl -F posts a file"},
		{Rule: "rclone_copy"},
	}}, upload.Expect)

	assert.Equal(t, Executor{Name: "manual", Steps: "1. Open the browser.\n"}, manual.Executor)
	assert.Nil(t, manual.InputArguments)
	assert.Nil(t, manual.Simulation)
}

func TestLoadDir(t *testing.T) {
	all, err := LoadDir(filepath.Join("testdata", "valid"))
	require.NoError(t, err)
	var ids []string
	for _, tech := range all {
		ids = append(ids, tech.AttackTechnique)
	}
	// notes.txt is not YAML and nested/ holds a broken file: neither is read.
	assert.Equal(t, []string{"T0000", "T0001"}, ids)

	_, err = LoadDir(filepath.Join("testdata", "broken"))
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, filepath.Join("testdata", "broken", "b_syntax.yaml"), pe.File, "first error wins")
	assert.Equal(t, 5, pe.Line)
	assert.Contains(t, err.Error(), "b_syntax.yaml:5: ")

	_, err = LoadDir(filepath.Join("testdata", "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = LoadFile(filepath.Join("testdata", "missing.yaml"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// head is a valid technique header; the test entries written after it start
// on line 4.
const head = "attack_technique: T0000\ndisplay_name: Broken\natomic_tests:\n"

// okTest is a valid test entry (lines 4-7 when it comes first).
const okTest = `- name: ok
  description: d
  supported_platforms: [linux]
  executor: {name: sh, command: echo}
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		line  int
		col   int // 0: not checked
		field string
		msg   string
	}{
		{
			name: "syntax error",
			yaml: head + "- name: \"unterminated\n  description: d\n",
			line: 4, msg: "found unexpected end of stream",
		},
		{
			name: "tab indentation",
			yaml: head + "- name: x\n\tdescription: d\n",
			line: 5, msg: "found a tab character that violates indentation",
		},
		{
			name: "unknown executor",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor: {name: zsh, command: echo}\n",
			line: 7, col: 20, field: "atomic_tests[0].executor.name", msg: `unknown executor "zsh" (one of bash, command_prompt, manual, powershell, sh)`,
		},
		{
			name: "key outside its block (yaml.v3 says the line before)",
			yaml: head + "- name: x\n  description: d\n supported_platforms: [linux]\n",
			line: 6, msg: "did not find expected key",
		},
		{name: "empty file", yaml: "", line: 0, msg: "empty document"},
		{name: "null document", yaml: "~\n", line: 1, msg: "empty document"},
		{name: "top level list", yaml: "- a\n", line: 1, col: 1, msg: "expected a mapping, got a list"},
		{
			name: "missing attack_technique",
			yaml: "display_name: x\natomic_tests: []\n",
			line: 1, col: 1, field: "attack_technique", msg: "required field is missing",
		},
		{
			name: "empty display_name",
			yaml: "attack_technique: T1\ndisplay_name: ''\n",
			line: 2, col: 1, field: "display_name", msg: "required field is empty",
		},
		{
			name: "expect scalar other than detected or silent",
			yaml: head + okTest + "  expect: maybe\n",
			line: 8, col: 11, field: "atomic_tests[0].expect", msg: `expected "detected", "silent" or a mapping of host contexts, got "maybe"`,
		},
		{
			name: "no atomic_tests",
			yaml: "attack_technique: T1\ndisplay_name: x\natomic_tests: []\n",
			line: 3, col: 1, field: "atomic_tests", msg: "required field is empty",
		},
		{
			name: "atomic_tests is a mapping",
			yaml: "attack_technique: T1\ndisplay_name: x\natomic_tests:\n  a: b\n",
			line: 4, col: 3, field: "atomic_tests", msg: "expected a list, got a mapping",
		},
		{
			name: "test is a string",
			yaml: head + okTest + "- just words\n",
			line: 8, col: 3, field: "atomic_tests[1]", msg: "expected a mapping, got a string",
		},
		{
			name: "missing executor.name",
			yaml: head + okTest + "- name: second\n  description: d\n  supported_platforms: [linux]\n  executor:\n    command: echo\n",
			line: 11, col: 3, field: "atomic_tests[1].executor.name", msg: "required field is missing",
		},
		{
			name: "missing executor",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n",
			line: 4, col: 3, field: "atomic_tests[0].executor", msg: "required field is missing",
		},
		{
			name: "null executor",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor:\n",
			line: 7, col: 3, field: "atomic_tests[0].executor", msg: "required field is empty",
		},
		{
			name: "missing executor.command",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: sh\n",
			line: 7, col: 3, field: "atomic_tests[0].executor.command", msg: "required field is missing",
		},
		{
			name: "manual executor without steps",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: manual\n    command: echo\n",
			line: 7, col: 3, field: "atomic_tests[0].executor.steps", msg: "required field is missing",
		},
		{
			name: "missing name",
			yaml: head + "- description: d\n  supported_platforms: [linux]\n  executor: {name: sh, command: echo}\n",
			line: 4, col: 3, field: "atomic_tests[0].name", msg: "required field is missing",
		},
		{
			name: "name is a mapping",
			yaml: head + "- name: {a: b}\n",
			line: 4, col: 9, field: "atomic_tests[0].name", msg: "expected a string, got a mapping",
		},
		{
			name: "missing description",
			yaml: head + "- name: x\n  supported_platforms: [linux]\n",
			line: 4, col: 3, field: "atomic_tests[0].description", msg: "required field is missing",
		},
		{
			// Every ART file writes a list; a bare string is a mistake.
			name: "supported_platforms is a string",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: windows\n",
			line: 6, col: 24, field: "atomic_tests[0].supported_platforms", msg: "expected a list, got a string",
		},
		{
			name: "supported_platforms is empty",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: []\n",
			line: 6, col: 3, field: "atomic_tests[0].supported_platforms", msg: "required field is empty",
		},
		{
			name: "platform is a list",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [[linux]]\n",
			line: 6, col: 25, field: "atomic_tests[0].supported_platforms[0]", msg: "expected a string, got a list",
		},
		{
			name: "argument without type",
			yaml: head + okTest + "  input_arguments:\n    file:\n      default: x\n",
			line: 9, col: 5, field: "atomic_tests[0].input_arguments.file.type", msg: "required field is missing",
		},
		{
			name: "argument default is a mapping",
			yaml: head + okTest + "  input_arguments:\n    file:\n      type: path\n      default: {a: b}\n",
			line: 11, col: 16, field: "atomic_tests[0].input_arguments.file.default", msg: "expected a string, got a mapping",
		},
		{
			name: "input_arguments is a list",
			yaml: head + okTest + "  input_arguments: [a]\n",
			line: 8, col: 20, field: "atomic_tests[0].input_arguments", msg: "expected a mapping, got a list",
		},
		{
			name: "elevation_required not a bool",
			yaml: head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor: {name: sh, command: echo, elevation_required: maybe}\n",
			line: 7, col: 59, field: "atomic_tests[0].executor.elevation_required", msg: "expected a bool, got a string",
		},
		{
			name: "dependency is a string",
			yaml: head + okTest + "  dependencies:\n  - check curl\n",
			line: 9, col: 5, field: "atomic_tests[0].dependencies[0]", msg: "expected a mapping, got a string",
		},
		{
			name: "duplicate key",
			yaml: head + "- name: x\n  name: y\n",
			line: 5, col: 3, field: "atomic_tests[0].name", msg: "duplicate key",
		},
		{
			name: "windows_executor without name",
			yaml: head + okTest + "  windows_executor:\n    command: dir\n",
			line: 8, col: 3, field: "atomic_tests[0].windows_executor.name", msg: "required field is missing",
		},
		{
			name: "simulation without command",
			yaml: head + okTest + "  simulation:\n    requires: curl\n",
			line: 8, col: 3, field: "atomic_tests[0].simulation.command", msg: "required field is missing",
		},
		{
			name: "expectation without rule",
			yaml: head + okTest + "  expect:\n    workstation:\n    - fires: true\n",
			line: 10, col: 7, field: "atomic_tests[0].expect.workstation[0].rule", msg: "required field is missing",
		},
		{
			name: "silent signal with a score",
			yaml: head + okTest + "  expect:\n    workstation:\n    - rule: r\n      fires: false\n      signal: upload\n      score: 1\n",
			line: 13, col: 7, field: "atomic_tests[0].expect.workstation[0].score", msg: "set while fires is false",
		},
		{
			name: "intent with a score while silent",
			yaml: head + okTest + "  expect:\n    workstation:\n    - rule: r\n      fires: true\n      intent:\n        fires: false\n        score: 1\n",
			line: 14, col: 9, field: "atomic_tests[0].expect.workstation[0].intent.score", msg: "set while fires is false",
		},
		{
			name: "silent rule with a score (fires omitted)",
			yaml: head + okTest + "  expect:\n    workstation:\n    - rule: r\n      score: 50\n",
			line: 11, col: 7, field: "atomic_tests[0].expect.workstation[0].score", msg: "set while fires is false",
		},
		{
			name: "score not an integer",
			yaml: head + okTest + "  expect:\n    workstation:\n    - rule: r\n      fires: true\n      score: high\n",
			line: 12, col: 14, field: "atomic_tests[0].expect.workstation[0].score", msg: "expected an integer, got a string",
		},
		{
			name: "expect context is a mapping",
			yaml: head + okTest + "  expect:\n    workstation: {rule: r}\n",
			line: 9, col: 18, field: "atomic_tests[0].expect.workstation", msg: "expected a list, got a mapping",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tech, err := Load("bad.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Nil(t, tech)

			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "bad.yaml", pe.File)
			assert.Equal(t, tc.line, pe.Line, "line")
			if tc.col != 0 {
				assert.Equal(t, tc.col, pe.Column, "column")
			}
			assert.Equal(t, tc.field, pe.Field)
			assert.Contains(t, pe.Msg, tc.msg)
			if tc.line > 0 {
				assert.True(t, strings.HasPrefix(err.Error(), "bad.yaml:"+strconv.Itoa(tc.line)+":"), "%q names file:line", err)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"manual with steps and no command", head + "- name: x\n  description: d\n  supported_platforms: [linux]\n  executor: {name: manual, steps: do it}\n"},
		{"unknown keys everywhere", "x: 1\n" + head + "- name: x\n  y: [1]\n  description: d\n  supported_platforms: [linux]\n  executor: {name: sh, command: echo, z: {}}\n  input_arguments:\n    a: {type: string, default: ~, extra: 1}\n"},
		{"null input_arguments and dependencies", head + okTest + "  input_arguments:\n  dependencies:\n"},
		{"aliases", head + "- name: &n x\n  description: *n\n  supported_platforms: [linux]\n  executor: {name: sh, command: *n}\n"},
		{"fires with signal and score", head + okTest + "  expect:\n    ws:\n    - {rule: r, fires: true, signal: s, score: 0}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tech, err := Load("ok.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			assert.Equal(t, "ok.yaml", tech.Path)
			assert.NotEmpty(t, tech.Tests)
		})
	}
}

func TestParseErrorString(t *testing.T) {
	tests := []struct {
		err  ParseError
		want string
	}{
		{ParseError{"a.yaml", 14, 5, "atomic_tests[2].executor.name", "required field is missing"}, "a.yaml:14:5: atomic_tests[2].executor.name: required field is missing"},
		{ParseError{"a.yaml", 7, 0, "", "did not find expected key"}, "a.yaml:7: did not find expected key"},
		{ParseError{"a.yaml", 0, 0, "", "empty document"}, "a.yaml: empty document"},
		{ParseError{"", 3, 1, "f", "m"}, "3:1: f: m"},
		{ParseError{"", 0, 0, "", "m"}, "m"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}

func FuzzLoad(f *testing.F) {
	for _, file := range []string{"valid/T0000.yaml", "valid/T0001.yml", "broken/b_syntax.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "- a", head, head + okTest,
		head + "- &t {name: x, executor: *t}\n",
		"a: &a [*a]\n",
		head + okTest + "  expect: {ws: [{rule: r, score: 1}]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tech, err := Load("fuzz.yaml", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Line < 0 {
				t.Fatalf("negative line in %v", err)
			}
			return
		}
		if len(tech.Tests) == 0 {
			t.Fatal("loaded a technique without tests")
		}
		for _, test := range tech.Tests {
			if test.Executor.Name == "" {
				t.Fatalf("test %q loaded without executor.name", test.Name)
			}
		}
	})
}

// TestSyntaxErrorsWithoutALineFromYAML covers the errors yaml.v3 reports
// with no line at all, in an atomics file and an expectations file.
func TestSyntaxErrorsWithoutALineFromYAML(t *testing.T) {
	expect := "expect:\n  workstation:\n  - rule: r\n    fires: true\n"
	for _, tc := range []struct {
		name, bad, msg string
	}{
		{"control character", "x: \x01\n", "control characters are not allowed"},
		{"invalid UTF-8", "x: \xff\n", "invalid leading UTF-8 octet"},
		{"nesting too deep", "x: " + strings.Repeat("[", 10001) + "\n", "exceeded max depth of 10000"},
		{"unknown anchor", "x: *nope\n", "unknown anchor 'nope' referenced"},
		{"mapping values", "x: a: b\n", "mapping values are not allowed in this context"},
	} {
		t.Run("atomics/"+tc.name, func(t *testing.T) {
			_, err := Load("bad.yaml", []byte(head+okTest+tc.bad))
			require.Error(t, err)
			assert.Equal(t, "bad.yaml:8: "+tc.msg, err.Error())
		})
		t.Run("expectations/"+tc.name, func(t *testing.T) {
			_, err := LoadExpectations("expect.yaml", []byte(expect+tc.bad))
			require.Error(t, err)
			assert.Equal(t, "expect.yaml:5: "+tc.msg, err.Error())
		})
	}
}

func TestExpectationEvidenceAndContexts(t *testing.T) {
	src := `attack_technique: T1
display_name: x
atomic_tests:
- name: a
  description: d
  supported_platforms: [linux]
  executor: {name: sh, command: echo}
  expect:
    workstation:
    - rule: r
      fires: true
      evidence: simulated
    - rule: r
      fires: true
      evidence: [declared, simulated]
    workstaton:
    - rule: r
      fires: true
`
	tech, err := Load("t.yaml", []byte(src))
	require.NoError(t, err)
	exps := tech.Tests[0].Expect["workstation"]
	assert.Equal(t, []string{"simulated"}, exps[0].Evidence)
	assert.Equal(t, []string{"declared", "simulated"}, exps[1].Evidence)

	err = tech.CheckContexts([]string{"ci-runner", "workstation"})
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "t.yaml", pe.File)
	assert.Equal(t, 16, pe.Line, "the line of the context's name")
	assert.Contains(t, err.Error(), `t.yaml:16:5: atomic_tests[0].expect.workstaton: no host profile is named "workstaton"`)
	assert.NoError(t, tech.CheckContexts([]string{"workstation", "workstaton"}))

	_, err = Load("t.yaml", []byte(strings.Replace(src, "evidence: simulated", "evidence: guessed", 1)))
	assert.ErrorContains(t, err, `t.yaml:12:17: atomic_tests[0].expect.workstation[0].evidence: "guessed" is not evidence`)
}
