package rules

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/t1567001/harness/internal/reftest"
)

// TestSigmaHQRulesShipUnmodified checks that SigmaHQ's two rules for
// T1567.001, and its GitHub audit-log rules the mock's audit log can
// trigger, are the reference copies byte for byte below their licence and
// attribution header.
func TestSigmaHQRulesShipUnmodified(t *testing.T) {
	ref := reftest.Dir(t, "sigma")
	for _, name := range []string{"net_connection_win_binary_github_com.yml", "net_connection_win_mega_nz.yml",
		"github_repo_or_org_transferred.yml", "github_delete_action_invoked.yml"} {
		t.Run(name, func(t *testing.T) {
			shipped, err := FS.ReadFile(name)
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join(ref, name))
			require.NoError(t, err)
			header, body, ok := strings.Cut(string(shipped), "\ntitle:")
			require.True(t, ok)
			assert.Equal(t, string(want), "title:"+body, "the rule below the header is SigmaHQ's, unmodified")
			assert.Contains(t, header, "Detection Rule License (DRL) 1.1")
			assert.Contains(t, header, "SigmaHQ/sigma")
			for _, line := range strings.Split(header, "\n") {
				assert.True(t, strings.HasPrefix(line, "#"), "the header is comments only: %q", line)
			}
		})
	}
}

// TestCorrelationRulesNameTheirRules checks the Sigma correlation rules
// (*_correlation.yml) against the specification's shape: each file is
// base rules with a name and one correlation whose rules are those names,
// grouped and bounded in time.
func TestCorrelationRulesNameTheirRules(t *testing.T) {
	files, err := filepath.Glob("*_correlation.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			dec := yaml.NewDecoder(f)
			names := map[string]bool{}
			var corr *correlation
			for {
				var doc struct {
					Name        string       `yaml:"name"`
					Detection   any          `yaml:"detection"`
					Correlation *correlation `yaml:"correlation"`
				}
				if err := dec.Decode(&doc); err != nil {
					require.ErrorIs(t, err, io.EOF)
					break
				}
				if doc.Correlation != nil {
					require.Nil(t, corr, "one correlation per file")
					corr = doc.Correlation
					continue
				}
				require.NotEmpty(t, doc.Name, "a base rule has a name to be referred by")
				require.NotNil(t, doc.Detection)
				names[doc.Name] = true
			}
			require.NotNil(t, corr)
			assert.Contains(t, []string{"temporal", "temporal_ordered"}, corr.Type)
			require.Len(t, corr.Rules, len(names))
			for _, r := range corr.Rules {
				assert.True(t, names[r], "the correlation names %s, a rule of this file", r)
			}
			assert.NotEmpty(t, corr.GroupBy)
			assert.Regexp(t, `^\d+[smhd]$`, corr.Timespan)
			for alias, perRule := range corr.Aliases {
				assert.Contains(t, corr.GroupBy, alias)
				for r := range perRule {
					assert.True(t, names[r], "alias %s maps rule %s of this file", alias, r)
				}
			}
		})
	}
}

type correlation struct {
	Type     string                       `yaml:"type"`
	Rules    []string                     `yaml:"rules"`
	GroupBy  []string                     `yaml:"group-by"`
	Timespan string                       `yaml:"timespan"`
	Aliases  map[string]map[string]string `yaml:"aliases"`
}
