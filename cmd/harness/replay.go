package main

import (
	"github.com/spf13/cobra"

	"github.com/t1567001/harness/executor"
)

// newReplayCmd is the child process a simulated test runs instead of a
// missing tool.
func newReplayCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "replay-http",
		Short:              "Send one HTTP request the way a missing tool would (used by simulated tests)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := executor.Replay(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return &exitError{code: code, err: errReplayFailed}
			}
			return nil
		},
	}
}
