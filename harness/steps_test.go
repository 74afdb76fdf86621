package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/emulator"
	"github.com/t1567001/harness/sensor"
)

func TestStepsFoldShimChainsAndSayOkForAnAnsweredConnect(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	exit1 := 1
	for _, mgr := range []struct{ name, shim, helper, real string }{
		{"pyenv", "/root/.pyenv/shims/python3", "/root/.pyenv/libexec/pyenv-exec", "/root/.pyenv/versions/3.12.4/bin/python3.12"},
		{"asdf", "/home/u/.asdf/shims/python3", "/home/u/.asdf/bin/asdf", "/home/u/.asdf/installs/python/3.12.4/bin/python3.12"},
		{"rbenv", "/home/u/.rbenv/shims/ruby", "/home/u/.rbenv/libexec/rbenv-exec", "/home/u/.rbenv/versions/3.3.0/bin/ruby"},
	} {
		t.Run(mgr.name, func(t *testing.T) {
			obs := []sensor.Observation{
				{Kind: "exec", Time: at(0), PID: 10, PPID: 1, Exe: "/bin/sh", Argv: []string{"sh", "-c", "python3 -c ..."}},
				{Kind: "exec", Time: at(1), PID: 11, PPID: 10, Exe: "/usr/bin/env", Argv: []string{"/usr/bin/env", "bash", mgr.shim, "-c", "..."}},
				{Kind: "exec", Time: at(2), PID: 11, PPID: 10, Exe: "/usr/bin/bash", Argv: []string{"bash", mgr.shim, "-c", "..."}},
				{Kind: "exec", Time: at(3), PID: 11, PPID: 10, Exe: "/usr/bin/bash", Argv: []string{"bash", mgr.helper, "python3"}},
				{Kind: "exec", Time: at(4), PID: 12, PPID: 11, Exe: "/usr/bin/readlink", Argv: []string{"readlink", "x"}},
				{Kind: "exit", Time: at(5), PID: 12, PPID: 11, ExitCode: &exit1},
				{Kind: "exit", Time: at(6), PID: 14, PPID: 13, ExitCode: &exit1},
				{Kind: "exit", Time: at(6), PID: 13, PPID: 11, ExitCode: &exit1},
				{Kind: "exec", Time: at(7), PID: 11, PPID: 10, Exe: mgr.real, Argv: []string{"python3", "-c", "..."}},
				{Kind: "connect", Time: at(8), PID: 11, LocalIP: "127.0.0.1", LocalPort: 40000, RemoteIP: "127.0.0.1", RemotePort: 3128, Result: sensor.ResultAttempted},
				{Kind: "connect", Time: at(9), PID: 11, LocalIP: "127.0.0.1", LocalPort: 40001, RemoteIP: "127.0.0.1", RemotePort: 3128, Result: sensor.ResultAttempted},
			}
			ledger := []emulator.Entry{{Time: at(10), ClientIP: "127.0.0.1", ClientPort: 40000, Host: "api.github.com", Method: "PUT", Path: "/repos/o/r/contents/f", Status: 201}}
			var lines []string
			for _, s := range steps(obs, ledger, "/work", "/harness") {
				lines = append(lines, s.Text)
			}
			require.Len(t, lines, 5, strings.Join(lines, "\n"))
			assert.Equal(t, "pid 10 (child of 1) starts sh -c python3 -c ...", lines[0])
			assert.Equal(t, "pid 11 (child of 10) starts python3 -c ... (through the "+mgr.name+" shim: 7 helper step(s) folded)", lines[1])
			assert.Equal(t, "pid 11 connects from 127.0.0.1:40000 to 127.0.0.1:3128 (ok), asking for api.github.com", lines[2], "the mock answered on this socket")
			assert.Equal(t, "pid 11 connects from 127.0.0.1:40001 to 127.0.0.1:3128 (attempted)", lines[3], "nothing says this one succeeded")
			assert.Contains(t, lines[4], "the mock receives PUT api.github.com/repos/o/r/contents/f")
		})
	}
}
