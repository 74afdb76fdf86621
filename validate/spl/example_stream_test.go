package spl_test

import (
	"context"
	"fmt"

	"github.com/t1567001/harness/validate/spl"
)

// Stream a query: rows of a streaming pipeline come out as events are
// pushed; a sort or stats keeps only what it needs until Close.
func ExampleQuery_Stream() {
	q, err := spl.Parse(`EventCode=1 Image="*\\git.exe" | table host, CommandLine`)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := q.Stream(context.Background(), func(r spl.Row) error {
		fmt.Println(r.Get("host"), r.Get("CommandLine"))
		return nil
	})
	for _, ev := range []spl.Event{
		{"EventCode": "1", "host": "ws1", "Image": `C:\Git\git.exe`, "CommandLine": "git push"},
		{"EventCode": "3", "host": "ws1", "Image": `C:\Git\git.exe`},
	} {
		if err := s.Push(ev); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := s.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ws1 git push
}
