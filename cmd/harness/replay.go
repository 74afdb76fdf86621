package main

import (
	"github.com/spf13/cobra"

	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/sensor"
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
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// newSensorCmd runs a command under the ptrace sensor, as its own process,
// streaming observations as JSON lines (see package sensor).
func newSensorCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "sensor [flags] -- command [args...]",
		Short:              "Run a command under the telemetry sensor",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := sensor.Main(args, cmd.OutOrStdout()); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}
