package replay_test

import (
	"fmt"
	"strings"

	"github.com/t1567001/harness/replay"
)

// Read a recording one event at a time; the format is detected, a record
// that cannot be read is reported and skipped.
func ExampleOpen() {
	in := `{"EventID":1,"Computer":"ws1","Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\git.exe"}
not json
{"@timestamp":"2020-10-23T02:36:43.542Z","EventID":4688,"Opcode":"Info","Hostname":"WS5","Channel":"Security"}
`
	r, err := replay.Open("events.jsonl", strings.NewReader(in), replay.OnSkip(func(e *replay.RecordError) {
		fmt.Println("skipped", e)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for ev, err := range r.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.EventID, ev.Computer, ev.Channel)
	}
	fmt.Println(r.Stats())
	// Output:
	// 1 ws1 Microsoft-Windows-Sysmon/Operational
	// skipped events.jsonl:2: invalid character 'o' in literal null (expecting 'u')
	// 4688 WS5 Security
	// events.jsonl: 2 event(s) read, 1 skipped (json)
}
