package main

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
)

func addRuleFlags(f *pflag.FlagSet, opts *validate.Options) {
	f.StringVar(&opts.Index, "index", "wineventlog", "Splunk index the events are in")
	f.StringVar(&opts.Sourcetype, "sourcetype", "XmlWinEventLog:{channel}", "Splunk sourcetype of the events ({channel} is the event's channel)")
}

// loadRules loads dir, or the harness's own rules when dir is empty, and
// says which rule files cannot be used.
func loadRules(cmd *cobra.Command, dir string, opts validate.Options) ([]validate.Rule, error) {
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
	for _, u := range unsupported {
		fmt.Fprintf(cmd.ErrOrStderr(), "rule %s not evaluated: %s\n", u.Path, u.Reason)
	}
	return loaded, nil
}
