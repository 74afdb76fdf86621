package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/containers"
	"github.com/t1567001/harness/harness"
)

func newCleanCmd() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove what crashed runs left behind: run folders and processes, containers and networks",
		Long: "Ends the processes and removes the temporary folders of every local run whose harness is gone (killed),\n" +
			"then removes every container and network labelled by the harness, or only those of --run-id.\n" +
			"Do not run it while another container-mode run is going on, unless you name a run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			dirs, err := harness.CleanOrphans()
			for _, d := range dirs {
				fmt.Fprintln(out, "removed orphaned run folder", d)
			}
			if err != nil {
				return err
			}
			if err := containers.Available(cmd.Context()); err != nil {
				fmt.Fprintf(out, "%d run folder(s) removed; no Docker engine answers, no container to clean (%v)\n", len(dirs), err)
				return nil
			}
			removed, err := containers.Clean(cmd.Context(), runID)
			for _, r := range removed {
				fmt.Fprintln(out, "removed", r)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d run folder(s) and %d object(s) removed\n", len(dirs), len(removed))
			return nil
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "remove only the containers and networks of this run")
	return cmd
}
