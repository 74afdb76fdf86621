package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longRun is sample() with names, reasons and commands longer than a line.
func longRun() *Results {
	r := sample()
	r.Atomics[1].Name = "Exfiltrate Data via GitHub Gist API Using curl, with a name long enough to need more than one line on a terminal"
	for i := range r.Verdicts[1:] {
		r.Verdicts[1+i].Atomic = r.Atomics[1].Name
		r.Verdicts[1+i].Rule = "seed_t1567_001_code_repo_exfil_" + r.Verdicts[1+i].Rule
	}
	r.Verdicts[0].Rule = "seed_t1567_001_code_repo_exfil_seed"
	r.Atomics[0].SimulationReason = strings.Repeat("PowerShell (pwsh) is not installed; the harness replays the same exchange. ", 3)
	r.Atomics[0].Steps[0].Text = "pid 7 starts sh -c " + strings.Repeat("x", 400) + " END"
	return r
}

func TestTextFitsHundredColumnsAndNeverCutsNames(t *testing.T) {
	var buf bytes.Buffer
	r := longRun()
	require.NoError(t, WriteText(&buf, r, TextOptions{}))
	require.NoError(t, WriteVerdicts(&buf, r, TextOptions{}))
	require.NoError(t, WriteFiles(&buf, TextOptions{OutDir: "out"}))
	out := buf.String()
	for i, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), 100, "line %d: %q", i+1, line)
	}
	oneLine := strings.Join(strings.Fields(out), " ")
	assert.Contains(t, oneLine, r.Atomics[1].Name, "the atomic's name whole, if wrapped")
	assert.Contains(t, oneLine, "pid 7 starts sh -c xxx", "a long step keeps its start")
	assert.Contains(t, oneLine, "END", "and its end")
	assert.Contains(t, out, "…", "its middle is elided")
	assert.Contains(t, out, "rules: net = seed_t1567_001_code_repo_exfil_net; seed = seed_t1567_001_code_repo_exfil_seed")
	assert.Contains(t, out, "Report files in out:\n  out/report.html")
	for _, f := range OutFiles {
		assert.Contains(t, out, "out/"+f.Name)
	}
	assert.NotContains(t, out, "\x1b[", "no colour unless asked")
}

func TestTextColour(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, sample(), TextOptions{Color: true}))
	require.NoError(t, WriteVerdicts(&buf, sample(), TextOptions{Color: true}))
	out := buf.String()
	assert.Contains(t, out, "\x1b[33mSIMULATED\x1b[0m")
	assert.Contains(t, out, "\x1b[31mFAIL\x1b[0m")
	assert.Contains(t, out, "\x1b[32mpass\x1b[0m")
	assert.Contains(t, out, "\x1b[31mDID NOT ARRIVE INTACT\x1b[0m")
}

func TestWriteFilesWithoutOut(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteFiles(&buf, TextOptions{}))
	assert.Contains(t, buf.String(), "No report files written: add --out DIR")
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false, TextOptions{})
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := t0
	p.now = func() time.Time { return now }
	p.Started(1, 2, "Gist API Using curl")
	now = now.Add(1500 * time.Millisecond)
	p.Finished(1, 2, Atomic{Name: "Gist API Using curl", Execution: "executed", Intact: true})
	p.Close()
	assert.Equal(t, "[1/2] Gist API Using curl ...\n"+
		"[1/2] Gist API Using curl: executed, exit 0, every staged file intact, 1.5s\n", buf.String())
}

// syncBuffer is a bytes.Buffer safe for the live line's ticker.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func TestProgressLive(t *testing.T) {
	b := &syncBuffer{mu: make(chan struct{}, 1)}
	p := NewProgress(b, true, TextOptions{})
	p.Started(2, 4, "Git Push Sensitive Files to External Repository from Command Shell")
	time.Sleep(3 * liveTick)
	p.Finished(2, 4, Atomic{Name: "Git Push Sensitive Files to External Repository from Command Shell", Execution: "executed", TimedOut: true, Timeout: time.Millisecond})
	out := b.buf.String()
	assert.GreaterOrEqual(t, strings.Count(out, "\r\x1b[K[2/4] Git Push"), 2, "the line is redrawn in place: %q", out)
	assert.Regexp(t, `\r\x1b\[K\[2/4\] Git Push Sensitive Files to External Repository from Command Shell 0\.\ds`, out, "with the time elapsed")
	assert.Contains(t, strings.Join(strings.Fields(out), " "), "executed, timed out after 1ms, exit 0, NOT every staged file intact")
	assert.True(t, strings.HasSuffix(out, "\n"))
}
