package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
	"github.com/t1567001/harness/validate/sigma"
)

func addRuleFlags(f *pflag.FlagSet, opts *validate.Options) {
	f.StringVar(&opts.Index, "index", "wineventlog", "Splunk index the events are in")
	f.StringVar(&opts.Sourcetype, "sourcetype", "XmlWinEventLog:{channel}", "Splunk sourcetype of the events ({channel} is the event's channel)")
	addSigmaFlags(f, opts)
}

func addSigmaFlags(f *pflag.FlagSet, opts *validate.Options) {
	f.Var(placeholdersFlag{&opts.SigmaPlaceholders}, "sigma-placeholders", "YAML file of values for Sigma's %placeholders% (name: [values])")
}

// placeholdersFlag reads the placeholders file as the flag is parsed.
type placeholdersFlag struct{ dst *map[string][]string }

func (p placeholdersFlag) String() string { return "" }
func (p placeholdersFlag) Type() string   { return "FILE" }

func (p placeholdersFlag) Set(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m, err := sigma.ParsePlaceholders(path, data)
	if err != nil {
		return err
	}
	*p.dst = m
	return nil
}

// loadRules loads dir, or the harness's own rules when dir is empty. A
// rule file that cannot be used is bad input when strict (sigma and
// validate, which are asked about exactly these rules); a run reports it
// and goes on with the rest.
func loadRules(cmd *cobra.Command, dir string, opts validate.Options, strict bool) ([]validate.Rule, error) {
	var fsys fs.FS = rules.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return nil, badInput(fmt.Errorf("--rules %s: not a folder", dir))
		}
		fsys = os.DirFS(dir)
	}
	if opts.ECS == nil {
		conv, err := harness.ECSConverter(nil)
		if err != nil {
			return nil, err
		}
		opts.ECS = conv
	}
	loaded, unsupported, err := validate.LoadRules(fsys, opts)
	if err != nil {
		return nil, badInput(err)
	}
	var bad []string
	for _, u := range unsupported {
		bad = append(bad, fmt.Sprintf("%s: %s", filepath.Join(dir, u.Path), u.Reason))
	}
	if strict && len(bad) > 0 {
		return nil, badInput(fmt.Errorf("rule(s) that cannot load:\n  %s", strings.Join(bad, "\n  ")))
	}
	for _, b := range bad {
		fmt.Fprintf(cmd.ErrOrStderr(), "rule not evaluated: %s\n", b)
	}
	return loaded, nil
}
