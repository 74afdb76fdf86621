package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/reports"
)

// cancelAfter interrupts the run as its second test starts, as a SIGINT
// would.
type cancelAfter struct {
	cancel context.CancelFunc
	done   []string
}

func (c *cancelAfter) Started(i, _ int, _ string) {
	if i == 2 {
		c.cancel()
	}
}
func (c *cancelAfter) Finished(_, _ int, a reports.Atomic) { c.done = append(c.done, a.Name) }

func TestInterruptedRunKeepsWhatFinishedAndNamesTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := options(t)
	opts.Tests = []string{"Exfiltrate Data via GitHub Gist API Using curl", "Git Push Sensitive Files to External Repository from Command Shell",
		"Automated Data Exfiltration via Python GitHub API Script"}
	p := &cancelAfter{cancel: cancel}
	opts.Progress = p
	opts.Lanes = 1 // one after the other: the second test starts once the first ended
	run, err := RunLocal(ctx, opts)
	require.Error(t, err, "an interrupted run says so")
	require.NotNil(t, run, "and still returns what it finished")
	require.Len(t, run.Results.Atomics, 2, "the first test, and the one the interruption caught")
	assert.True(t, run.Results.Atomics[0].Intact)
	second := run.Results.Atomics[1]
	assert.False(t, second.Intact, "the interruption stopped it")
	assert.True(t, second.Interrupted || second.Execution == "not-run", "%+v", second)
	assert.Len(t, p.done, 2)
	require.Len(t, run.Results.Unfinished, 1)
	assert.Equal(t, "5b3c6f0e-8a8e-4c2f-9f35-1567001a0004", run.Results.Unfinished[0].GUID)
	assert.Equal(t, "context canceled", run.Results.Unfinished[0].Reason)
}
