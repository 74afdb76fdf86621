package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// state is what the REST endpoints remember between requests.
type state struct {
	mu       sync.Mutex
	repos    map[string]bool // "host/owner/repo"
	gists    map[string]gist
	releases int
}

// gist is a stored gist, read back by GET /gists/{id} and the raw host.
type gist struct {
	description string
	public      bool
	files       map[string]payload
	created     time.Time
}

func newState() *state {
	return &state{repos: map[string]bool{}, gists: map[string]gist{}}
}

func (s *state) createRepo(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[key] {
		return false
	}
	s.repos[key] = true
	return true
}

func (s *state) addGist(g gist) (string, error) {
	id, err := randomHex(16)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gists[id] = g
	return id, nil
}

func (s *state) gist(id string) (gist, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gists[id]
	return g, ok
}

func (s *state) addRelease() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases++
	return 1000 + s.releases
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
