package reports

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// validateJUnit checks doc against Jenkins' junit-10.xsd with xmllint
// (Debian's libxml2-utils), the validator the schema's users run.
func validateJUnit(t *testing.T, doc []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (Debian package libxml2-utils): cannot validate against junit-10.xsd")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit-10.xsd"), path).CombinedOutput()
	require.NoError(t, err, "junit.xml does not validate against junit-10.xsd:\n%s\n%s", out, doc)
}

func TestSchemaCheckRejectsInvalidJUnit(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (Debian package libxml2-utils)")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	// properties inside a testcase: not in junit-10.xsd.
	require.NoError(t, os.WriteFile(path, []byte(`<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="c"><properties/></testcase></testsuite></testsuites>`), 0o600))
	err = exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit-10.xsd"), path).Run()
	require.Error(t, err, "the schema check must be able to fail")
}
