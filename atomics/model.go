// Package atomics reads Atomic Red Team technique files: the standard schema
// (attack_technique, atomic_tests, input_arguments, dependencies, executor)
// plus this harness's extensions (windows_executor, staged_files, simulation,
// expect). Bad input is reported with file, line and field, and #{arg}
// references are substituted the way Invoke-AtomicTest does.
package atomics

// Technique is one Atomic Red Team file.
type Technique struct {
	AttackTechnique string `yaml:"attack_technique"`
	DisplayName     string `yaml:"display_name"`
	Tests           []Test `yaml:"atomic_tests"`

	// Path is the file the technique was read from (not part of the YAML).
	Path string `yaml:"-"`
}

// Test is one atomic test. Fields below Executor are this harness's
// extensions; other ART tools ignore them.
type Test struct {
	Name                   string              `yaml:"name"`
	GUID                   string              `yaml:"auto_generated_guid"`
	Description            string              `yaml:"description"`
	SupportedPlatforms     []string            `yaml:"supported_platforms"`
	InputArguments         map[string]Argument `yaml:"input_arguments"`
	DependencyExecutorName string              `yaml:"dependency_executor_name"`
	Dependencies           []Dependency        `yaml:"dependencies"`
	Executor               Executor            `yaml:"executor"`

	// WindowsExecutor is the command as the technique runs on Windows: what
	// the rendered telemetry shows for the test's first process.
	WindowsExecutor *Executor `yaml:"windows_executor,omitempty"`
	// StagedFiles names files under fixtures/sensitive that are copied into
	// the test's fresh work directory before it runs.
	StagedFiles []string `yaml:"staged_files,omitempty"`
	// Simulation replays the test's network exchange from a child process of
	// the harness when the tool it needs is missing.
	Simulation *Simulation `yaml:"simulation,omitempty"`
	// Expect maps a host context name to what each rule must do there.
	Expect map[string][]Expectation `yaml:"expect,omitempty"`
	// Role is set by the scalar form of expect (`expect: detected` or
	// `expect: silent`): the test is a variant or a benign look-alike in
	// the coverage matrix rather than a list of per-rule verdicts.
	Role Role `yaml:"-"`
	// ExpectAt is where each context name of Expect is written.
	ExpectAt map[string]Pos `yaml:"-"`

	// Line is the line of the test's entry in its file.
	Line int `yaml:"-"`
}

// Argument is one input argument with its type and default value.
type Argument struct {
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	Default     string `yaml:"default"`
}

// Dependency is a prerequisite check and the command that would satisfy it.
type Dependency struct {
	Description      string `yaml:"description"`
	PrereqCommand    string `yaml:"prereq_command"`
	GetPrereqCommand string `yaml:"get_prereq_command"`
}

// Executor says how a test's command runs.
type Executor struct {
	Name              string `yaml:"name"`
	Command           string `yaml:"command"`
	CleanupCommand    string `yaml:"cleanup_command"`
	ElevationRequired bool   `yaml:"elevation_required"`
	Steps             string `yaml:"steps"`
}

// Simulation is run instead of Executor when the tool in Requires is not on
// PATH, or, with a Check, when the Check command fails where the test runs
// (the tool is there but cannot do what the test needs of it). Its Command
// runs like Executor.Command; #{harness} expands to the harness binary.
type Simulation struct {
	Requires string `yaml:"requires"`
	Check    string `yaml:"check,omitempty"`
	Command  string `yaml:"command"`
	Reason   string `yaml:"reason"`
}

// Expectation is what one rule must do for a test in one host context: fire
// with a row carrying Signal (and Score), or stay silent. With a Signal,
// silence means no row with that Signal; without one, no row at all.
type Expectation struct {
	Rule   string `yaml:"rule"`
	Fires  bool   `yaml:"fires"`
	Signal string `yaml:"signal,omitempty"`
	Score  *int   `yaml:"score,omitempty"`
	// Why is the expectation author's reasoning, shown with the verdict.
	Why string `yaml:"why,omitempty"`
	// Intent is what the rule's author meant, where real telemetry keeps
	// the rule from doing it: the verdict checks the expectation and shows
	// the gap to the intent, with the reason.
	Intent *Intent `yaml:"intent,omitempty"`
	// Evidence names what a firing row may rest on besides observed (or
	// recorded) events: "declared", "modelled" or "simulated" (a scalar
	// or a list in YAML). Empty: only what a run observed counts.
	Evidence []string `yaml:"evidence,omitempty"`
}

// Pos is a place in a file, 1-based.
type Pos struct {
	Line, Column int
}

// Intent is an outcome the rule's author meant.
type Intent struct {
	Fires  bool   `yaml:"fires"`
	Signal string `yaml:"signal,omitempty"`
	Score  *int   `yaml:"score,omitempty"`
}

// Role is what a test stands for in the coverage matrix.
type Role string

const (
	// Variant is a way of doing the technique every rule is meant to catch.
	Variant Role = "detected"
	// Benign is a legitimate look-alike every rule is meant to leave silent.
	Benign Role = "silent"
)
