package validate_test

import (
	"context"
	"fmt"

	"github.com/t1567001/harness/atomics"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/validate"
)

// A rule that fires only on the atomic's declared Windows command, with
// nothing observed behind it, does not pass unless the expectation accepts
// declared evidence; the verdict names the events it rests on.
func ExampleEvaluation_Check() {
	rule, err := validate.NewSPLRule("upload", `EventCode=1 CommandLine="*api.github.com/gists*" | eval Signal="CodeRepoAPIUpload" | table Signal, Image`, validate.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	shell := event.Event{
		EventID: 1, RecordID: 120001, Channel: event.SysmonChannel, Computer: "WS-FIN-0142",
		Provenance: event.Declared, Observations: []string{"obs-1"},
		Data: []event.Field{
			{Name: "Image", Value: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`},
			{Name: "CommandLine", Value: "curl.exe -X POST https://api.github.com/gists"},
		},
	}
	eval := validate.NewEvaluation([]validate.Rule{rule}, []event.Event{shell})
	for _, accepts := range [][]string{nil, {"declared"}} {
		v, err := eval.Check(context.Background(), atomics.Expectation{Rule: "upload", Fires: true, Signal: "CodeRepoAPIUpload", Evidence: accepts})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("accepts %v: pass=%v, rests on %s, row 1 rests on %s\n", accepts, v.Pass, v.Basis(), v.Actual.Evidence[0][0])
	}
	// Output:
	// accepts []: pass=false, rests on declared, row 1 rests on Event ID 1 record 120001 on WS-FIN-0142, declared
	// accepts [declared]: pass=true, rests on declared, row 1 rests on Event ID 1 record 120001 on WS-FIN-0142, declared
}
