package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/rules"
	"github.com/t1567001/harness/validate"
)

// goldenEvents reads a golden telemetry file back into events, with the
// context and provenance the goldens pin.
func goldenEvents(t *testing.T, guid string) []event.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden", guid+".jsonl"))
	require.NoError(t, err)
	defer f.Close()
	var out []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		e := event.Event{Channel: m["Channel"].(string), Computer: m["Computer"].(string), EventID: int(m["EventID"].(float64)),
			Provider: event.Provider{Name: m["Provider"].(string)}}
		e.Context, _ = m["harness_context"].(string)
		prov, _ := m["harness_provenance"].(string)
		e.Provenance = event.Provenance(prov)
		if e.Channel == event.SysmonChannel {
			e.UserID = "S-1-5-18"
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch k {
			case "Channel", "Computer", "EventID", "Provider", "ExecutionProcessID":
				continue
			}
			if strings.HasPrefix(k, "harness_") {
				continue
			}
			e.Data = append(e.Data, event.Field{Name: k, Value: fmt.Sprint(m[k])})
		}
		out = append(out, e)
	}
	require.NoError(t, sc.Err())
	return out
}

// Elastic's rules over the four base atomics' recorded telemetry (the
// goldens), host by host: only "Connection to Commonly Abused Web Services"
// applies, and it fires where a process outside the excluded folders and
// signers resolves api.github.com (PowerShell, curl, Python), not for git,
// which runs from Program Files and is signed by Johannes Schindelin. The
// Linux building block and the PowerShell hack-tool and GitHub audit rules
// stay silent.
func TestElasticRulesOnBaseAtomics(t *testing.T) {
	t.Parallel()
	conv, err := ECSConverter(nil)
	require.NoError(t, err)
	loaded, unsupported, err := validate.LoadRules(rules.FS, validate.Options{ECS: conv})
	require.NoError(t, err)
	require.Empty(t, unsupported)
	fires := map[string]map[string]bool{
		"command_and_control_common_webservices": {"0001": true, "0003": true, "0004": true},
	}
	n := 0
	for _, guid := range []string{"0001", "0002", "0003", "0004"} {
		events := goldenEvents(t, "5b3c6f0e-8a8e-4c2f-9f35-1567001a"+guid)
		byHost := map[string][]event.Event{}
		for _, e := range events {
			byHost[e.Context] = append(byHost[e.Context], e)
		}
		require.NotEmpty(t, byHost)
		for _, r := range loaded {
			if !strings.HasPrefix(r.Kind(), "elastic-") {
				continue
			}
			n++
			for host, evs := range byHost {
				rows, err := validate.Evaluate(context.Background(), r, evs)
				require.NoError(t, err)
				want := fires[r.ID()][guid]
				if assert.Equal(t, want, len(rows) > 0, "%s on atomic %s at %s", r.ID(), guid, host) && want {
					name, _ := rows[0].Value("dns.question.name")
					assert.Equal(t, "api.github.com", name)
					// Sysmon 22 is the query the sandbox's sinkhole answered;
					// the PowerShell atomic's was a replay standing in for pwsh.
					prov, _ := rows[0].Value("harness.provenance")
					assert.Equal(t, map[string]string{"0001": "simulated", "0003": "observed", "0004": "observed"}[guid], prov)
					require.NotEmpty(t, rows[0].Sources)
					assert.Equal(t, 22, evs[rows[0].Sources[0]].EventID)
				}
				if !want && len(rows) == 0 {
					assert.NotEmpty(t, validate.Explain(context.Background(), r, evs, validate.Outcome{Fires: true}))
				}
			}
		}
	}
	assert.Equal(t, 4*8, n, "eight Elastic rules ship in rules/elastic")
}

// The Elastic atomics run for real against the mock: what it audits (and
// the telemetry rendered) is what Elastic's rules read; every expectation holds.
func TestElasticAtomicsEndToEnd(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	opts := options(t)
	opts.Atomics = filepath.Join(reftest.ModuleRoot(t), "atomics", "T1567.001-elastic.yaml")
	run, err := RunLocal(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, run.Results.Atomics, 9)
	for _, a := range run.Results.Atomics {
		require.Equal(t, 0, a.ExitCode, "%s: %s", a.Name, a.Stderr)
		assert.True(t, a.Intact, a.Name)
	}
	actions := map[string]int{}
	for _, en := range run.Ledger {
		for _, a := range en.Audit {
			actions[a.Action]++
		}
	}
	assert.Equal(t, 25, actions["git.clone"])
	assert.Equal(t, 5, actions["protected_branch.rejected_ref_update"])
	assert.Equal(t, 10, actions["protected_branch.policy_override"])
	assert.Equal(t, 2, actions["repo.access"])
	assert.Equal(t, 10, actions["pull_request.close"])
	assert.Equal(t, 1, actions["repo.transfer_outgoing"])
	assert.Equal(t, 1, actions["repo.destroy"])

	profiles, err := Contexts([]string{"workstation"})
	require.NoError(t, err)
	conv, err := ECSConverter(profiles)
	require.NoError(t, err)
	loaded, _, err := validate.LoadRules(rules.FS, validate.Options{ECS: conv})
	require.NoError(t, err)
	_, err = run.Validate(context.Background(), profiles, "", loaded)
	require.NoError(t, err)
	require.Len(t, run.Results.Verdicts, 23)
	for _, v := range run.Results.Verdicts {
		assert.True(t, v.Pass, "%s / %s / %s: %s", v.Atomic, v.Rule, v.Expected, v.Explanation)
		if v.Expected.Fires {
			require.NotEmpty(t, v.Actual.Rows)
			require.NotEmpty(t, v.RestsOn, v.Rule)
			switch v.Rule {
			case "execution_posh_hacktool_functions":
				assert.Equal(t, event.Declared, v.RestsOn[0], v.Rule)
			case "command_and_control_common_webservices":
				// The DNS query, sent in the sandbox and answered by the
				// emulator's sinkhole.
				assert.Equal(t, event.Observed, v.RestsOn[0], v.Rule)
			default:
				// The audit log is what the mock saw each request do.
				assert.Equal(t, event.Observed, v.RestsOn[0], v.Rule)
			}
		}
	}
}
