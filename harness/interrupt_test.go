package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/reports"
)

// cancelAfter interrupts the run once its first test has finished, as a
// SIGINT would.
type cancelAfter struct {
	cancel context.CancelFunc
	done   []string
}

func (c *cancelAfter) Started(int, int, string) {}
func (c *cancelAfter) Finished(_, _ int, a reports.Atomic) {
	c.done = append(c.done, a.Name)
	c.cancel()
}

func TestInterruptedRunKeepsWhatFinishedAndNamesTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := options(t)
	opts.Tests = []string{"Exfiltrate Data via GitHub Gist API Using curl", "Git Push Sensitive Files to External Repository from Command Shell",
		"Automated Data Exfiltration via Python GitHub API Script"}
	p := &cancelAfter{cancel: cancel}
	opts.Progress = p
	run, err := RunLocal(ctx, opts)
	require.Error(t, err, "an interrupted run says so")
	require.NotNil(t, run, "and still returns what it finished")
	assert.Equal(t, []string{"Exfiltrate Data via GitHub Gist API Using curl"}, p.done)
	require.Len(t, run.Results.Atomics, 1)
	assert.True(t, run.Results.Atomics[0].Intact)
	require.Len(t, run.Results.Unfinished, 2)
	assert.Equal(t, "Git Push Sensitive Files to External Repository from Command Shell", run.Results.Unfinished[0].Name)
	assert.Equal(t, "5b3c6f0e-8a8e-4c2f-9f35-1567001a0004", run.Results.Unfinished[1].GUID)
	assert.Equal(t, "context canceled", run.Results.Unfinished[1].Reason)
}
