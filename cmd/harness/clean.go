package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/t1567001/harness/containers"
)

func newCleanCmd() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove the containers and networks that crashed container-mode runs left behind",
		Long:  "Removes every container and network labelled by the harness, or only those of --run-id.\nDo not run it while another container-mode run is going on, unless you name a run.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("run-id") && strings.TrimSpace(runID) == "" {
				// An empty id would select every run's objects.
				return badInput(fmt.Errorf("--run-id is empty: name a run, or leave the flag out to remove every run's objects"))
			}
			if err := containers.Available(cmd.Context()); err != nil {
				return badInput(fmt.Errorf("no Docker engine answers: %w", err))
			}
			removed, err := containers.Clean(cmd.Context(), runID)
			for _, r := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", r)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d object(s) removed\n", len(removed))
			return nil
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "remove only the objects of this run")
	return cmd
}
