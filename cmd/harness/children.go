package main

import (
	"github.com/spf13/cobra"

	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/sensor"
)

// childCmd is a hidden subcommand the harness runs as a process of its own:
// it parses its own flags and passes its exit status on silently.
func childCmd(use, short string, main func(cmd *cobra.Command, args []string) int) *cobra.Command {
	return &cobra.Command{
		Use:                use,
		Short:              short,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := main(cmd, args); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// newReplayCmd is the child process a simulated test runs instead of a
// missing tool.
func newReplayCmd() *cobra.Command {
	return childCmd("replay-http", "Send one HTTP request the way a missing tool would (used by simulated tests)",
		func(cmd *cobra.Command, args []string) int {
			return executor.Replay(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		})
}

// newReplayMegaCmd is the child process a simulated test runs instead of
// an rclone without its mega backend.
func newReplayMegaCmd() *cobra.Command {
	return childCmd("replay-mega", "Copy files to MEGA the way rclone copy would (used by simulated tests)",
		func(cmd *cobra.Command, args []string) int {
			return executor.ReplayMega(cmd.Context(), args, cmd.ErrOrStderr())
		})
}

// newSensorCmd runs a command under the ptrace sensor, as its own process,
// streaming observations as JSON lines (see package sensor).
func newSensorCmd() *cobra.Command {
	return childCmd("sensor [flags] -- command [args...]", "Run a command under the telemetry sensor",
		func(cmd *cobra.Command, args []string) int { return sensor.Main(args, cmd.OutOrStdout()) })
}
