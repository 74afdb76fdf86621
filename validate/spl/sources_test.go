package spl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each row says which input events it comes from: a streamed row its own
// event, a stats row every event of its group.
func TestRowSources(t *testing.T) {
	events := []Event{
		{"host": "a", "Image": "curl.exe"},
		{"host": "b", "Image": "sed.exe"},
		{"host": "a", "Image": "git.exe"},
		{"host": "b", "Image": "curl.exe"},
	}
	cases := []struct {
		query string
		want  [][]int
	}{
		{`Image="curl.exe" | eval x=1 | sort - host`, [][]int{{3}, {0}}},
		{`* | stats count by host`, [][]int{{0, 2}, {1, 3}}},
		{`Image!="sed.exe" | stats count | where count>2`, [][]int{{0, 2, 3}}},
		{`* | dedup host | table host`, [][]int{{0}, {1}}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			q, err := Parse(tc.query)
			require.NoError(t, err)
			rows, err := q.Run(events)
			require.NoError(t, err)
			var got [][]int
			for _, r := range rows {
				got = append(got, r.Sources)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A bare term searches the event's text, not the metadata Splunk adds.
func TestBareTermSkipsMetadata(t *testing.T) {
	ev := Event{"index": "wineventlog", "sourcetype": "XmlWinEventLog:Security", "source": "XmlWinEventLog:Security", "Image": "curl.exe"}
	for term, want := range map[string]int{"wineventlog": 0, "XmlWinEventLog": 0, "curl": 1} {
		q, err := Parse(term)
		require.NoError(t, err)
		rows, err := q.Run([]Event{ev})
		require.NoError(t, err)
		assert.Len(t, rows, want, term)
	}
	raw := Event{"_raw": "<Event>wineventlog</Event>", "index": "x"}
	q, err := Parse("wineventlog")
	require.NoError(t, err)
	rows, err := q.Run([]Event{raw})
	require.NoError(t, err)
	assert.Len(t, rows, 1, "_raw is searched when there is one")
}
