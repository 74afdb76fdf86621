package racechild

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQuietKeepsTheCallersOptions(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"empty", "", "atexit_sleep_ms=0"},
		{"other options", "halt_on_error=1", "halt_on_error=1 atexit_sleep_ms=0"},
		{"the caller's pause wins", "atexit_sleep_ms=50", "atexit_sleep_ms=50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GORACE", tt.env)
			Quiet()
			assert.Equal(t, tt.want, os.Getenv("GORACE"))
		})
	}
}
