package testsummary

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stream is go test -json as cmd/test2json writes it, for a package with a
// passing, a failing and a skipped test, and a package that does not build.
const stream = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"m/a","Test":"TestChromium"}
{"Action":"output","Package":"m/a","Test":"TestChromium","Output":"=== RUN   TestChromium\n"}
{"Action":"output","Package":"m/a","Test":"TestChromium","Output":"    html_test.go:12: chromium not installed: exec: \"chromium\": not found\n"}
{"Action":"output","Package":"m/a","Test":"TestChromium","Output":"--- SKIP: TestChromium (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestChromium","Elapsed":0}
{"Action":"run","Package":"m/a","Test":"TestBad"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    a_test.go:9: want 1, got 2\n"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"m/a","Test":"TestBad","Elapsed":0}
{"Action":"output","Package":"m/a","Output":"FAIL\n"}
{"Action":"output","Package":"m/a","Output":"FAIL\tm/a\t0.01s\n"}
{"Action":"fail","Package":"m/a","Elapsed":0.01}
{"ImportPath":"m/b","Action":"build-output","Output":"b/b.go:3:1: syntax error\n"}
{"ImportPath":"m/b","Action":"build-fail"}
{"Action":"output","Package":"m/c","Output":"PASS\n"}
{"Action":"output","Package":"m/c","Output":"ok  \tm/c\t0.02s\n"}
{"Action":"pass","Package":"m/c","Elapsed":0.02}
`

func TestReadAndWrite(t *testing.T) {
	var out bytes.Buffer
	s, err := Read(strings.NewReader(stream), &out)
	require.NoError(t, err)
	assert.Equal(t, 1, s.Passed)
	assert.Equal(t, 1, s.Failed)
	assert.Equal(t, 1, s.Skipped)
	assert.True(t, s.AnyFailed())
	assert.Equal(t, []string{"m/b"}, s.FailedPackages, "a package whose test failed is not counted again")
	printed := out.String()
	assert.Contains(t, printed, "a_test.go:9: want 1, got 2", "a failed test's output is shown")
	assert.Contains(t, printed, "FAIL\tm/a\t0.01s\n")
	assert.Contains(t, printed, "ok  \tm/c\t0.02s\n")
	assert.Contains(t, printed, "b/b.go:3:1: syntax error")
	assert.NotContains(t, printed, "TestOK", "a passing test stays quiet, as without -v")
	assert.NotContains(t, printed, "PASS\n")

	require.NoError(t, s.Write(&out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Equal(t, "1 passed, 1 failed, 1 skipped", lines[len(lines)-1])
	assert.Contains(t, out.String(), "  m/a TestChromium: html_test.go:12: chromium not installed: exec: \"chromium\": not found\n")
	assert.Contains(t, out.String(), "package m/b failed outside its tests")
}

func TestAllPassing(t *testing.T) {
	s, err := Read(strings.NewReader(`{"Action":"pass","Package":"m/a","Test":"T"}`+"\n"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.False(t, s.AnyFailed())
	var out bytes.Buffer
	require.NoError(t, s.Write(&out))
	assert.Equal(t, "1 passed, 0 failed, 0 skipped\n", out.String())
}
