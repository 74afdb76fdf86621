package event

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProvenance(t *testing.T) {
	for _, s := range []string{"observed", "declared", "modelled", "simulated", "recorded", ""} {
		p, err := ParseProvenance(s)
		require.NoError(t, err)
		assert.Equal(t, Provenance(s), p)
	}
	_, err := ParseProvenance("guessed")
	assert.ErrorContains(t, err, `provenance "guessed"`)

	var e Event
	assert.Equal(t, Recorded, e.Origin(), "an event of unknown origin is a recording")
	e.Provenance = Declared
	assert.Equal(t, Declared, e.Origin())
}
