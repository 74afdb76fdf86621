package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/harness"
)

func newListCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the atomic tests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sel, err := harness.LoadAtomics(path, nil)
			if err != nil {
				return badInput(err)
			}
			for _, s := range sel {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s  %s\n", s.Technique.AttackTechnique, s.Test.GUID, s.Test.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "atomics", "", "Atomic Red Team file or folder (default: the embedded T1567.001 file)")
	return cmd
}
