package spl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHoist: an AND over an OR whose branches all test one field gets
// that field's values as its first test, and the optimised search matches
// exactly the events the search as written does.
func TestHoist(t *testing.T) {
	events := []Event{
		{"EventCode": "1", "Image": `C:\git.exe`, "CommandLine": "git push", "index": "w"},
		{"EventCode": "3", "Image": `C:\curl.exe`, "Dest": "github.com", "index": "w"},
		{"EventCode": "3", "Image": `C:\git.exe`, "Dest": "example.org", "index": "w"},
		{"EventCode": "11", "Image": `C:\git.exe`, "index": "w"},
		{"EventCode": "1", "Image": `C:\git.exe`, "CommandLine": "git push", "index": "other"},
		{"Image": `C:\git.exe`, "CommandLine": "git push", "index": "w"},
		{"EventCode": "2", "Image": `C:\x.exe`, "index": "w"},
		{"EventCode": "20", "Image": `C:\x.exe`, "index": "w"},
	}
	for _, tc := range []struct {
		query string
		first []string // the hoisted test's patterns, nil: none
	}{
		{`index=w ((EventCode=3 Dest="github.com") OR (EventCode=1 Image="*\\git.exe" CommandLine="*push*") OR (EventCode=1 Image="*\\curl.exe"))`, []string{"3", "1", "1"}},
		{`index=w (EventCode=3 OR (Image="*\\git.exe" EventCode="2*"))`, []string{"3", "2*"}},
		{`index=w (EventCode IN (3, 11) OR (EventCode=1 NOT Image="*\\curl.exe"))`, []string{"3", "11", "1"}},
		{`index=w ((EventCode=3 Dest="github.com") OR Image="*\\git.exe")`, nil},
		{`index=w ((EventCode=3 Dest="github.com") OR (EventCode!=1 Image="*\\git.exe"))`, nil},
		{`index=w NOT ((EventCode=3 Image="*\\curl.exe") OR (EventCode=1 Image="*\\git.exe"))`, nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := Parse(tc.query)
			require.NoError(t, err)
			c := q.cmds[0].(*searchCmd)
			require.Equal(t, sAnd, c.fast.op)
			if h := c.fast.kids[0]; tc.first != nil {
				assert.Equal(t, "EventCode", h.field)
				var pats []string
				for _, p := range h.pats {
					pats = append(pats, p.Pattern)
				}
				assert.Equal(t, tc.first, pats)
			} else {
				assert.Equal(t, "index", h.field, "nothing hoisted")
			}
			r := record{slots: make([]slotEntry, q.slots)}
			matched := 0
			for i, ev := range events {
				r.reset(ev)
				want := c.tree.match(&r)
				assert.Equal(t, want, c.fast.match(&r), "event %d", i)
				if want {
					matched++
				}
			}
			assert.Positive(t, matched, "the query matches some event")
		})
	}
}
