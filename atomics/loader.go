package atomics

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads and validates one ART file.
func LoadFile(path string) (*Technique, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// LoadDir loads every *.yaml / *.yml file in dir (not recursive), sorted by
// name. The first error wins; it already names the file (ParseError.File, or
// the path in an *fs.PathError).
func LoadDir(dir string) ([]*Technique, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var out []*Technique
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if ext := filepath.Ext(e.Name()); ext != ".yaml" && ext != ".yml" {
			continue
		}
		t, err := LoadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Load parses data; name is used in error messages (the file path). Every
// error it returns is a *ParseError.
func Load(name string, data []byte) (*Technique, error) {
	var doc yaml.Node
	if err := unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, data, err)
	}
	d := &decoder{file: name}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, d.errorf(nil, "", "empty document")
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil, d.errorf(root, "", "empty document")
	}
	t, err := d.technique(root)
	if err != nil {
		return nil, err
	}
	t.Path = name
	return t, nil
}

// LoadExpectations parses an expectations file: a document whose `expect:`
// key holds what an atomic test's expect: block holds, host context ->
// expectations. Errors are *ParseError, as for Load.
func LoadExpectations(name string, data []byte) (map[string][]Expectation, error) {
	var doc yaml.Node
	if err := unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, data, err)
	}
	d := &decoder{file: name}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(deref(doc.Content[0])) {
		return nil, d.errorf(nil, "", "empty document")
	}
	root := deref(doc.Content[0])
	f, err := d.mapping(root, root, "")
	if err != nil {
		return nil, err
	}
	if !f.has("expect") {
		return nil, d.errorf(root, "expect", "required field is missing")
	}
	exps, _, err := d.expect(f)
	return exps, err
}

// unmarshal turns a panic inside yaml.v3 into an error: Load promises
// callers (and FuzzLoad) that no input can crash it.
func unmarshal(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

func (d *decoder) technique(n *yaml.Node) (*Technique, error) {
	f, err := d.mapping(n, n, "")
	if err != nil {
		return nil, err
	}
	var t Technique
	if t.AttackTechnique, err = f.requiredStr("attack_technique"); err != nil {
		return nil, err
	}
	if t.DisplayName, err = f.requiredStr("display_name"); err != nil {
		return nil, err
	}
	items, err := f.list("atomic_tests")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, f.missing("atomic_tests")
	}
	t.Tests = make([]Test, len(items))
	for i, item := range items {
		if err := d.test(item, index("atomic_tests", i), &t.Tests[i]); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

func (d *decoder) test(n *yaml.Node, path string, t *Test) error {
	if isNull(n) {
		return d.wrongKind(n, path, "a mapping")
	}
	f, err := d.mapping(n, n, path)
	if err != nil {
		return err
	}
	t.Line = n.Line
	if t.Name, err = f.requiredStr("name"); err != nil {
		return err
	}
	if t.GUID, err = f.str("auto_generated_guid"); err != nil {
		return err
	}
	if t.Description, err = f.requiredStr("description"); err != nil {
		return err
	}
	if t.SupportedPlatforms, err = f.strs("supported_platforms"); err != nil {
		return err
	}
	if len(t.SupportedPlatforms) == 0 {
		return f.missing("supported_platforms")
	}
	if t.InputArguments, err = d.arguments(f); err != nil {
		return err
	}
	if t.DependencyExecutorName, err = f.str("dependency_executor_name"); err != nil {
		return err
	}
	if t.Dependencies, err = d.dependencies(f); err != nil {
		return err
	}
	if !f.has("executor") {
		return f.missing("executor")
	}
	if err := d.executor(f, "executor", &t.Executor); err != nil {
		return err
	}
	if f.has("windows_executor") {
		t.WindowsExecutor = new(Executor)
		if err := d.executor(f, "windows_executor", t.WindowsExecutor); err != nil {
			return err
		}
	}
	if t.StagedFiles, err = f.strs("staged_files"); err != nil {
		return err
	}
	if f.has("simulation") {
		if t.Simulation, err = d.simulation(f); err != nil {
			return err
		}
	}
	if n := f.get("expect"); n != nil && n.Kind == yaml.ScalarNode {
		return d.coverage(n, join(path, "expect"), t)
	}
	if f.has("expect") {
		if t.Expect, t.ExpectAt, err = d.expect(f); err != nil {
			return err
		}
	}
	return nil
}

// coverage reads the scalar form of expect: a variant every rule is meant
// to catch, or a benign look-alike every rule is meant to leave silent.
func (d *decoder) coverage(n *yaml.Node, path string, t *Test) error {
	switch r := Role(n.Value); r {
	case Variant, Benign:
		t.Role = r
		return nil
	}
	return d.errorf(n, path, "expected %q, %q or a mapping of host contexts, got %q", Variant, Benign, n.Value)
}

// CheckContexts reports, as a *ParseError at the context's name, an
// expect: block under a host context that is not in known: its
// expectations would never be checked.
func (t *Technique) CheckContexts(known []string) error {
	ok := make(map[string]bool, len(known))
	for _, k := range known {
		ok[k] = true
	}
	for i := range t.Tests {
		test := &t.Tests[i]
		var bad []string
		for c := range test.Expect {
			if !ok[c] {
				bad = append(bad, c)
			}
		}
		if len(bad) == 0 {
			continue
		}
		sort.Slice(bad, func(i, j int) bool { return test.ExpectAt[bad[i]].Line < test.ExpectAt[bad[j]].Line })
		at := test.ExpectAt[bad[0]]
		return &ParseError{
			File: t.Path, Line: at.Line, Column: at.Column, Field: "atomic_tests[" + strconv.Itoa(i) + "].expect." + bad[0],
			Msg: fmt.Sprintf("no host profile is named %q (known: %s)", bad[0], strings.Join(known, ", ")),
		}
	}
	return nil
}

func (d *decoder) arguments(test *fields) (map[string]Argument, error) {
	f, err := test.sub("input_arguments")
	if err != nil || len(f.order) == 0 {
		return nil, err
	}
	args := make(map[string]Argument, len(f.order))
	for _, name := range f.order {
		af, err := f.sub(name)
		if err != nil {
			return nil, err
		}
		var a Argument
		if a.Type, err = af.requiredStr("type"); err != nil {
			return nil, err
		}
		if a.Description, err = af.str("description"); err != nil {
			return nil, err
		}
		// ART leaves some defaults empty and writes others as YAML numbers or
		// bools; str keeps the literal text of all of them.
		if a.Default, err = af.str("default"); err != nil {
			return nil, err
		}
		args[name] = a
	}
	return args, nil
}

func (d *decoder) dependencies(test *fields) ([]Dependency, error) {
	items, err := test.list("dependencies")
	if err != nil || len(items) == 0 {
		return nil, err
	}
	deps := make([]Dependency, len(items))
	for i, item := range items {
		path := index(join(test.path, "dependencies"), i)
		if isNull(item) {
			return nil, d.wrongKind(item, path, "a mapping")
		}
		f, err := d.mapping(item, item, path)
		if err != nil {
			return nil, err
		}
		dep := &deps[i]
		if dep.Description, err = f.str("description"); err != nil {
			return nil, err
		}
		if dep.PrereqCommand, err = f.str("prereq_command"); err != nil {
			return nil, err
		}
		if dep.GetPrereqCommand, err = f.str("get_prereq_command"); err != nil {
			return nil, err
		}
	}
	return deps, nil
}

// Executors are the executor names of the Atomic Red Team schema.
var Executors = []string{"bash", "command_prompt", "manual", "powershell", "sh"}

func (d *decoder) executor(test *fields, key string, e *Executor) error {
	f, err := test.sub(key)
	if err != nil {
		return err
	}
	if e.Name, err = f.requiredStr("name"); err != nil {
		return err
	}
	if !slices.Contains(Executors, strings.ToLower(e.Name)) {
		return f.d.errorf(f.get("name"), join(f.path, "name"), "unknown executor %q (one of %s)", e.Name, strings.Join(Executors, ", "))
	}
	// A manual test has prose steps for a human instead of a command.
	if e.Name == "manual" {
		if e.Steps, err = f.requiredStr("steps"); err != nil {
			return err
		}
		if e.Command, err = f.str("command"); err != nil {
			return err
		}
	} else {
		if e.Command, err = f.requiredStr("command"); err != nil {
			return err
		}
		if e.Steps, err = f.str("steps"); err != nil {
			return err
		}
	}
	if e.CleanupCommand, err = f.str("cleanup_command"); err != nil {
		return err
	}
	_, err = f.scalar("elevation_required", "!!bool", "a bool", &e.ElevationRequired)
	return err
}

func (d *decoder) simulation(test *fields) (*Simulation, error) {
	f, err := test.sub("simulation")
	if err != nil {
		return nil, err
	}
	var s Simulation
	if s.Requires, err = f.requiredStr("requires"); err != nil {
		return nil, err
	}
	if s.Check, err = f.str("check"); err != nil {
		return nil, err
	}
	if s.Command, err = f.requiredStr("command"); err != nil {
		return nil, err
	}
	if s.Reason, err = f.str("reason"); err != nil {
		return nil, err
	}
	return &s, nil
}

func (d *decoder) expect(test *fields) (map[string][]Expectation, map[string]Pos, error) {
	f, err := test.sub("expect")
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string][]Expectation, len(f.order))
	at := make(map[string]Pos, len(f.order))
	for _, ctx := range f.order {
		k := f.keys[ctx]
		at[ctx] = Pos{Line: k.Line, Column: k.Column}
		items, err := f.list(ctx)
		if err != nil {
			return nil, nil, err
		}
		exps := make([]Expectation, len(items))
		for i, item := range items {
			path := index(join(f.path, ctx), i)
			if isNull(item) {
				return nil, nil, d.wrongKind(item, path, "a mapping")
			}
			if err := d.expectation(item, path, &exps[i]); err != nil {
				return nil, nil, err
			}
		}
		out[ctx] = exps
	}
	return out, at, nil
}

func (d *decoder) expectation(n *yaml.Node, path string, x *Expectation) error {
	f, err := d.mapping(n, n, path)
	if err != nil {
		return err
	}
	if x.Rule, err = f.requiredStr("rule"); err != nil {
		return err
	}
	if x.Fires, x.Signal, x.Score, err = d.outcome(f, path); err != nil {
		return err
	}
	if x.Why, err = f.str("why"); err != nil {
		return err
	}
	if x.Evidence, err = d.evidence(f, path); err != nil {
		return err
	}
	if f.has("intent") {
		in, err := f.sub("intent")
		if err != nil {
			return err
		}
		x.Intent = &Intent{}
		if x.Intent.Fires, x.Intent.Signal, x.Intent.Score, err = d.outcome(in, join(path, "intent")); err != nil {
			return err
		}
	}
	return nil
}

// evidence reads an expectation's evidence: a provenance name or a list.
func (d *decoder) evidence(f *fields, path string) ([]string, error) {
	n := f.get("evidence")
	if n == nil {
		return nil, nil
	}
	var names []string
	if n.Kind == yaml.ScalarNode {
		names = []string{n.Value}
	} else {
		var err error
		if names, err = f.strs("evidence"); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		switch name {
		case "declared", "modelled", "simulated":
		default:
			return nil, d.errorf(n, join(path, "evidence"), "%q is not evidence an expectation can accept: want declared, modelled or simulated", name)
		}
	}
	return names, nil
}

// outcome reads fires, signal and score, the shape an expectation and an
// intent share.
func (d *decoder) outcome(f *fields, path string) (fires bool, signal string, score *int, err error) {
	if _, err = f.scalar("fires", "!!bool", "a bool", &fires); err != nil {
		return
	}
	if signal, err = f.str("signal"); err != nil {
		return
	}
	var n int
	has, err := f.scalar("score", "!!int", "an integer", &n)
	if err != nil {
		return
	}
	if has {
		score = &n
	}
	// Silence has no rows to score; with a signal it means "no row with
	// that signal", without one "no row at all".
	if !fires && f.has("score") {
		return false, "", nil, d.errorf(f.keys["score"], join(path, "score"), "set while fires is false (a silent rule has no rows to score)")
	}
	return fires, signal, score, nil
}
