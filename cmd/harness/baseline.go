package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/t1567001/harness/validate"
)

// baselineFlags compare the run's coverage matrix with a baseline file CI
// keeps, or write one.
type baselineFlags struct {
	compare, write string
}

func (b *baselineFlags) add(f *pflag.FlagSet) {
	f.StringVar(&b.compare, "baseline", "", "fail (exit 1) when a rule's detection rate over the variants falls, or its false-positive rate rises, against this baseline file, naming the cases that changed")
	f.StringVar(&b.write, "write-baseline", "", "write this run's coverage rates and cells to this file, for --baseline")
}

// apply writes and checks the baseline; a bad baseline file is bad input,
// a regression is a failure.
func (b *baselineFlags) apply(log io.Writer, c *validate.Coverage) error {
	if b.compare == "" && b.write == "" {
		return nil
	}
	if c == nil {
		return badInput(fmt.Errorf("--baseline/--write-baseline: this run has no variants or benign look-alikes (no coverage matrix)"))
	}
	if b.write != "" {
		data, err := c.Baseline().Encode()
		if err != nil {
			return fmt.Errorf("--write-baseline: %w", err)
		}
		if err := os.WriteFile(b.write, data, 0o644); err != nil {
			return fmt.Errorf("--write-baseline: %w", err)
		}
		fmt.Fprintf(log, "wrote the coverage baseline to %s\n", b.write)
	}
	if b.compare == "" {
		return nil
	}
	data, err := os.ReadFile(b.compare)
	if err != nil {
		return badInput(fmt.Errorf("--baseline: %w", err))
	}
	base, err := validate.ParseBaseline(b.compare, data)
	if err != nil {
		return badInput(err)
	}
	regs := c.Compare(base)
	if len(regs) == 0 {
		fmt.Fprintf(log, "coverage holds against the baseline %s\n", b.compare)
		return nil
	}
	for _, r := range regs {
		fmt.Fprintf(log, "coverage regression: %s\n", r)
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("coverage fell against the baseline %s (%d rule/context pair(s))", b.compare, len(regs))}
}
