package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/t1567001/harness/internal/reftest"
)

// TestSigmaHQRulesShipUnmodified checks that SigmaHQ's two rules for
// T1567.001 are the reference copies byte for byte below their licence and
// attribution header.
func TestSigmaHQRulesShipUnmodified(t *testing.T) {
	ref := reftest.Dir(t, "sigma")
	for _, name := range []string{"net_connection_win_binary_github_com.yml", "net_connection_win_mega_nz.yml"} {
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
