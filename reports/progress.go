package reports

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress tells the person waiting how a run goes. On a terminal (live)
// each test has one line, rewritten in place with the time elapsed until
// the test ends; elsewhere (a CI log) it prints a plain line as each test
// starts and ends. Safe for concurrent use.
type Progress struct {
	w     io.Writer
	live  bool
	opts  TextOptions
	mu    sync.Mutex
	start time.Time
	line  string
	stop  context.CancelFunc
	done  chan struct{}
	now   func() time.Time
}

// NewProgress writes progress to w; live rewrites each test's line in
// place and must only be set when w is a terminal.
func NewProgress(w io.Writer, live bool, o TextOptions) *Progress {
	return &Progress{w: w, live: live, opts: o, now: time.Now}
}

// liveTick is how often a live line's elapsed time is redrawn.
const liveTick = 200 * time.Millisecond

// Started reports that test index (from 1) of total, name, has started.
func (p *Progress) Started(index, total int, name string) {
	p.stopLive() // tests side by side: the line follows the latest
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = p.now()
	p.line = fmt.Sprintf("[%d/%d] %s", index, total, name)
	if !p.live {
		fmt.Fprintf(p.w, "%s\n", wrap(p.line+" ...", p.opts.width(), "", "      "))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	p.redraw()
	go func(done chan struct{}) {
		defer close(done)
		t := time.NewTicker(liveTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.mu.Lock()
				p.redraw()
				p.mu.Unlock()
			}
		}
	}(p.done)
}

// redraw rewrites the live line; the caller holds p.mu.
func (p *Progress) redraw() {
	elapsed := fmt.Sprintf(" %.1fs", p.now().Sub(p.start).Seconds())
	fmt.Fprintf(p.w, "\r\x1b[K%s%s", elide(p.line, p.opts.width()-len(elapsed)-1), elapsed)
}

// Finished reports how test index of total ended.
func (p *Progress) Finished(index, total int, a Atomic) {
	p.stopLive()
	p.mu.Lock()
	defer p.mu.Unlock()
	status := a.Execution
	if a.TimedOut {
		status += ", timed out" + after(a)
	}
	if a.Interrupted {
		status += ", interrupted"
	}
	intact := p.opts.paint(green, "every staged file intact")
	switch {
	case a.Role != "":
		intact = a.Role + " case of the coverage matrix"
	case !a.Intact:
		intact = p.opts.paint(red, "NOT every staged file intact")
	}
	took := p.now().Sub(p.start)
	if !a.Started.IsZero() && a.Ended.After(a.Started) {
		took = a.Ended.Sub(a.Started) // the test's own time, whatever ran beside it
	}
	line := fmt.Sprintf("[%d/%d] %s: %s, exit %d, %s, %.1fs", index, total, a.Name, status, a.ExitCode, intact, took.Seconds())
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, "%s\n", wrap(line, p.opts.width(), "", "      "))
}

// Close ends a live line left running (a run that failed mid-test).
func (p *Progress) Close() {
	if p.stopLive() {
		fmt.Fprintln(p.w)
	}
}

// stopLive stops the live line's ticker, if one runs, and reports whether
// one did.
func (p *Progress) stopLive() bool {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return false
	}
	stop()
	<-done
	return true
}
