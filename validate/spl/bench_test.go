package spl

import (
	"strconv"
	"testing"
)

// benchEvents is a mixed Sysmon stream: process creation, network, file and
// DNS events, a minority of which the seed query reports.
func benchEvents(n int) []Event {
	hosts := []string{"WS-FINANCE-07", "jenkins-agent-3", "WS-DEV-01", "SRV-DB-02"}
	images := []string{gitExe, `C:\Windows\System32\curl.exe`, `C:\Windows\System32\svchost.exe`, `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`, `C:\Windows\explorer.exe`}
	events := make([]Event, n)
	for i := range events {
		host := hosts[i%len(hosts)]
		img := images[(i/4)%len(images)]
		var ev Event
		switch i % 4 {
		case 0:
			cmd := []string{"git push --force https://github.com/x/y.git", "curl.exe -X POST https://api.github.com/gists -d @x", "svchost.exe -k netsvcs", "git status"}[(i/16)%4]
			ev = sysmon("1", host, "Image", img, "CommandLine", cmd, "ParentImage", `C:\Windows\explorer.exe`, "ParentCommandLine", "explorer.exe")
		case 1:
			dst := []string{"api.github.com", "www.microsoft.com", "github.com", "login.live.com"}[(i/8)%4]
			ev = sysmon("3", host, "Image", img, "DestinationHostname", dst, "DestinationPort", "443", "ParentImage", `C:\Windows\explorer.exe`)
		case 2:
			ev = sysmon("11", host, "Image", img, "TargetFilename", `C:\Users\alice\AppData\Local\Temp\x`+strconv.Itoa(i)+".tmp")
		default:
			ev = sysmon("22", host, "Image", img, "QueryName", "api.github.com", "QueryStatus", "0")
		}
		ev["_time"] = strconv.Itoa(1700000000 + i)
		events[i] = ev
	}
	return events
}

func BenchmarkSeedQuery(b *testing.B) {
	q, err := Parse(seedQuery)
	if err != nil {
		b.Fatal(err)
	}
	events := benchEvents(10000)
	rows, err := q.Run(events)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d of %d events reported", len(rows), len(events))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := q.Run(events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkParseSeedQuery(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(seedQuery); err != nil {
			b.Fatal(err)
		}
	}
}
