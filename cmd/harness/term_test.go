package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pty opens a pseudo-terminal: the terminal side a program writes to, and
// the side that reads what it wrote.
func pty(t *testing.T) (term, reader *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, m
}

func TestColourOnlyOnATerminalAndNeverWithNO_COLOR(t *testing.T) {
	term, _ := pty(t)
	t.Setenv("NO_COLOR", "")
	assert.True(t, textOptions(term, "").Color, "a terminal")
	assert.False(t, textOptions(&bytes.Buffer{}, "").Color, "a pipe or file")
	t.Setenv("NO_COLOR", "1")
	assert.False(t, textOptions(term, "").Color, "NO_COLOR wins")
}

func TestLiveProgressOnATerminalPlainLinesElsewhere(t *testing.T) {
	term, reader := pty(t)
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(&got, reader) // ends when the terminal side closes
	}()
	var out bytes.Buffer
	code := run(context.Background(), []string{"run", "--test", curlTest, "--context", "workstation"}, &out, term)
	require.Equal(t, 0, code)
	term.Close()
	reader.SetReadDeadline(time.Now().Add(5 * time.Second))
	wg.Wait()
	live := got.String()
	assert.Contains(t, live, "\r\x1b[K[1/1] "+curlTest, "the live line is redrawn in place")
	assert.Regexp(t, `\[1/1\] `+curlTest+` \d+\.\ds`, live, "with the elapsed time")
	assert.NotContains(t, out.String(), "\x1b[", "stdout is not a terminal: no colour")

	var plain bytes.Buffer
	code = run(context.Background(), []string{"run", "--test", curlTest, "--context", "workstation"}, &out, &plain)
	require.Equal(t, 0, code)
	assert.Equal(t, "[1/1] "+curlTest+" ...\n", strings.SplitAfter(plain.String(), "\n")[0], "a plain line in a log")
	assert.NotContains(t, plain.String(), "\r")
}
