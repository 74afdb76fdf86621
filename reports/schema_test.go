package reports

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

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

// layerSchema is the Navigator layer format 4.5 as a JSON schema.
func layerSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	f, err := os.Open(filepath.Join("testdata", "layer-4.5.schema.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	require.NoError(t, c.AddResource("layer-4.5.schema.json", doc))
	s, err := c.Compile("layer-4.5.schema.json")
	require.NoError(t, err)
	return s
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	require.NoError(t, err)
	return v
}

func validateLayer(t *testing.T, raw []byte) {
	t.Helper()
	require.NoError(t, layerSchema(t).Validate(mustJSON(t, string(raw))), "layer.json is not a valid layer 4.5:\n%s", raw)
}
