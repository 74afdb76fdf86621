package sigma_test

import (
	"context"
	"fmt"
	"time"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate/sigma"
)

func Example() {
	rules := []byte(`title: git push to GitHub
name: git_push
id: 11111111-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
    selection:
        Image|endswith: '\git.exe'
        CommandLine|windash|contains: ' push '
    condition: selection
---
title: Two pushes from one host within five minutes
id: 11111111-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [git_push]
    group-by: [Computer]
    timespan: 5m
    condition: {gte: 2}
`)
	c, err := sigma.ParseFile("pushes.yml", rules, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := sigma.Compile(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	eng := set.NewEngine()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i, cmd := range []string{"git push origin main", "git status", "git push --force origin main"} {
		ev := event.Event{
			Provider: event.Sysmon, Channel: event.SysmonChannel, EventID: 1,
			Computer: "WS-FIN-0142", RecordID: uint64(100 + i), TimeCreated: t0.Add(time.Duration(i) * time.Minute),
			Data: []event.Field{{Name: "Image", Value: `C:\Program Files\Git\cmd\git.exe`}, {Name: "CommandLine", Value: cmd}},
		}
		_, fired, err := eng.Add(context.Background(), &ev)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, ch := range fired {
			fmt.Println(ch)
		}
	}
	// Output:
	// 11111111-0000-4000-8000-000000000002 (Two pushes from one host within five minutes): event_count 2 (gte 2) within 5m0s for Computer=WS-FIN-0142 in [2026-11-23T12:00:00Z, 2026-11-23T12:02:00Z]:
	//   11111111-0000-4000-8000-000000000001 record 100 on WS-FIN-0142 at 2026-11-23T12:00:00Z
	//   11111111-0000-4000-8000-000000000001 record 102 on WS-FIN-0142 at 2026-11-23T12:02:00Z
}
