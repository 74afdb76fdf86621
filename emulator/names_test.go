package emulator

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNamesAsGitHubTakesThem(t *testing.T) {
	tests := []struct {
		owner, repo string
		ok          bool
	}{
		{"exfil-operator", "loot", true},
		{"exfil-operator", "loot.git", true},
		{"a1", "my_repo.v2-x", true},
		{"exfil-operator", strings.Repeat("r", 100), true},
		{"exfil-operator", strings.Repeat("r", 101), false},
		{strings.Repeat("o", 39), "loot", true},
		{strings.Repeat("o", 40), "loot", false},
		{"exfil-operator", "--help", false},
		{"exfil-operator", "-x", false},
		{"exfil-operator", ".hidden", false},
		{"exfil-operator", "..", false},
		{"exfil-operator", "a\nb", false},
		{"exfil-operator", "a b", false},
		{"exfil-operator", "a/b", false},
		{"-op", "loot", false},
		{"op-", "loot", false},
		{"op--erator", "loot", false},
		{"op_erator", "loot", false},
		{"op\n", "loot", false},
	}
	g := &gitServer{root: t.TempDir()}
	for _, tt := range tests {
		t.Run(tt.owner+"/"+tt.repo, func(t *testing.T) {
			_, ok := g.repoDir("github.com", tt.owner, tt.repo)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestOnlyAnAuthenticatedPushOrCreateMakesARepository(t *testing.T) {
	dataDir := t.TempDir()
	e := newTestEmulator(t, Config{DataDir: dataDir})
	do := func(method, url, auth, body string) int {
		req := httptest.NewRequest(method, url, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	exists := func(owner, repo string) bool {
		_, err := os.Stat(filepath.Join(dataDir, "github.com", owner, repo+".git", "HEAD"))
		return err == nil
	}

	// A clone or fetch of a repository nobody made: not found, nothing made.
	assert.Equal(t, http.StatusNotFound, do("GET", "https://github.com/someone/nothing.git/info/refs?service=git-upload-pack", "", ""))
	assert.Equal(t, http.StatusNotFound, do("POST", "https://github.com/someone/nothing.git/git-upload-pack", "", ""))
	assert.False(t, exists("someone", "nothing"))
	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	for _, en := range entries {
		sub, _ := os.ReadDir(filepath.Join(dataDir, en.Name()))
		assert.Empty(t, sub, "nothing stored under %s", en.Name())
	}

	// A push without credentials is challenged and makes nothing.
	assert.Equal(t, http.StatusUnauthorized, do("GET", "https://github.com/someone/pushed.git/info/refs?service=git-receive-pack", "", ""))
	assert.False(t, exists("someone", "pushed"))
	// With credentials, the repository is there to push to.
	assert.Equal(t, http.StatusOK, do("GET", "https://github.com/someone/pushed.git/info/refs?service=git-receive-pack", "token x", ""))
	assert.True(t, exists("someone", "pushed"))

	// An authenticated create makes one that can be cloned.
	assert.Equal(t, http.StatusCreated, do("POST", "https://api.github.com/user/repos", "token x", `{"name":"made"}`))
	assert.True(t, exists(fakeLogin, "made"))
	assert.Equal(t, http.StatusOK, do("GET", "https://github.com/"+fakeLogin+"/made.git/info/refs?service=git-upload-pack", "", ""))

	// Names GitHub would refuse are refused, and nothing is stored for them.
	assert.Equal(t, http.StatusUnprocessableEntity, do("POST", "https://api.github.com/user/repos", "token x", `{"name":"--help"}`))
	assert.Equal(t, http.StatusUnprocessableEntity, do("POST", "https://api.github.com/user/repos", "token x", `{"name":"a\nb"}`))
	assert.Equal(t, http.StatusNotFound, do("GET", "https://github.com/someone/--help/info/refs?service=git-receive-pack", "token x", ""))
	assert.False(t, exists("someone", "--help"))
}
