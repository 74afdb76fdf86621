package harness

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/t1567001/harness/executor"
	"github.com/t1567001/harness/reports"
	"github.com/t1567001/harness/validate"
)

// Coverage is the coverage matrix of the run's variants and benign
// look-alikes (nil when it has none): every rule on each one's rendered
// events in every context.
func (r *Run) Coverage(ctx context.Context, rendered []Rendered, rules []validate.Rule) (*validate.Coverage, error) {
	cases := map[*TestRun]*validate.Case{}
	var order []*TestRun
	for _, rd := range rendered {
		if t := rd.Test; t.Test.Role != "" && cases[t] == nil {
			cases[t] = r.newCase(t)
			order = append(order, t)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	// Each rendered test's cells are independent of the others': they are
	// evaluated side by side, one worker per core, and joined in order.
	cells := make([][]validate.Cell, len(rendered))
	err := parallel(ctx, len(rendered), func(i int) error {
		rd := rendered[i]
		c := cases[rd.Test]
		if c == nil {
			return nil
		}
		eval := validate.NewEvaluation(rules, rd.Events)
		for _, rule := range rules {
			cell, err := eval.Cell(ctx, rule.ID(), c.Role)
			if err != nil {
				return fmt.Errorf("coverage of %q in %s: %w", rd.Test.Test.Name, rd.Context, err)
			}
			cell.Context = rd.Context
			if !c.Observed && !c.Simulated {
				cell.Why = "not counted: " + c.Status
			}
			cells[i] = append(cells[i], cell)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, rd := range rendered {
		if c := cases[rd.Test]; c != nil {
			c.Cells = append(c.Cells, cells[i]...)
		}
	}
	cov := &validate.Coverage{Cases: make([]validate.Case, 0, len(order))}
	for _, t := range order {
		cov.Cases = append(cov.Cases, *cases[t])
	}
	cov.Score()
	return cov, nil
}

// parallel calls f(0) to f(n-1), as many at once as there are cores, and
// returns the first error; once one failed or ctx ended, no other starts.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), n) {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		if ctx.Err() != nil {
			break // a worker failed: select would still pick a ready worker at random
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// newCase starts the coverage case of t, with what its run did.
func (r *Run) newCase(t *TestRun) *validate.Case {
	var a reports.Atomic
	for _, x := range r.Results.Atomics {
		if x.GUID == t.Test.GUID && x.Name == t.Test.Name {
			a = x
		}
	}
	return &validate.Case{
		Atomic: t.Test.Name, GUID: t.Test.GUID, Role: t.Test.Role,
		// A simulation stands in for a missing tool: its telemetry is the
		// harness's replay, so it is shown but not scored.
		Observed:  t.Observations != nil && t.Result.Execution != executor.Simulated,
		Simulated: t.Result.Execution == executor.Simulated,
		Status:    caseStatus(*t, a),
		Cells:     []validate.Cell{},
	}
}

// caseStatus says, from the ledger, whether a case's client reached the
// mock and what the mock accepted: a variant whose client cannot reach the
// mock shows as such, not as a rule's miss.
func caseStatus(t TestRun, a reports.Atomic) string {
	switch {
	case t.Result.Execution == executor.NotRun:
		return "not run: missing prerequisite: " + strings.Join(t.Result.MissingPrereqs, "; ")
	case t.Observations == nil:
		return "not watched by the sensor"
	}
	var accepted, refused, failed int
	var hosts []string
	for _, e := range t.Ledger {
		switch {
		case e.Refused:
			refused++
			hosts = appendNew(hosts, e.Host+" (refused)")
		case e.Method == "CONNECT":
		case e.Status/100 == 2:
			accepted++
			hosts = appendNew(hosts, e.Host)
		default:
			failed++
			hosts = appendNew(hosts, e.Host)
		}
	}
	var s string
	switch {
	case accepted > 0:
		s = fmt.Sprintf("reached the mock: %d request(s) accepted", accepted)
		if len(a.Staged) > 0 {
			s += fmt.Sprintf(", staged files intact=%v", a.Intact)
		}
	case failed > 0:
		s = fmt.Sprintf("reached the mock: %d request(s), none accepted", failed)
	case refused > 0:
		s = "refused by the mock (a host it does not serve)"
	case len(t.Ledger) > 0:
		s = "opened a tunnel through the proxy but sent no request (TLS with the mock failed: the client does not trust the run's CA)"
	default:
		s = "did not reach the mock"
	}
	if len(hosts) > 0 {
		s += " [" + strings.Join(hosts, ", ") + "]"
	}
	if t.Result.Execution == executor.Simulated {
		s += "; not counted: " + t.Result.SimulationReason
	}
	return fmt.Sprintf("%s, exit %d; %s", t.Result.Execution, t.Result.ExitCode, s)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
