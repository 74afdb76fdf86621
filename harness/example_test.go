package harness_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/t1567001/harness/harness"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
)

// The pipeline one step at a time: execute the curl atomic under the
// sensor, render its telemetry as a workstation's, check its expectations
// with the shipped rules, and see what each verdict rests on. (The test
// binary is the harness binary here: its TestMain calls harness.RunChild.)
func Example() {
	ctx := context.Background()
	exe, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := harness.RunLocal(ctx, harness.Options{
		Harness: exe, Observe: true, Timeout: time.Minute,
		Tests: []string{"Exfiltrate Data via GitHub Gist API Using curl"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	profiles, err := harness.Contexts([]string{"workstation"})
	if err != nil {
		fmt.Println(err)
		return
	}
	rendered, err := run.Render(profiles, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	verdicts, err := harness.Detect(ctx, rendered, loaded)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range verdicts {
		if v.Expected.Fires { // a silent rule rests on nothing
			fmt.Printf("%s %s: pass=%v, rests on %s\n", v.Rule, v.Expected, v.Pass, v.Basis())
		}
	}
	// Output:
	// seed_t1567_001_code_repo_exfil fires CodeRepoAPIUpload/3: pass=true, rests on observed+declared
	// seed_t1567_001_code_repo_exfil fires NetworkConnectionToCodeRepo/2: pass=true, rests on observed
	// seed_t1567_001_code_repo_exfil_proc fires: pass=true, rests on observed+declared
	// seed_t1567_001_code_repo_exfil_net fires: pass=true, rests on observed
	// net_connection_win_binary_github_com fires: pass=true, rests on observed
	// mitre_det0318_an0895_read_then_upload fires: pass=true, rests on observed
	// mitre_det0318_an0895_read_then_upload_correlation fires: pass=true, rests on observed
}
