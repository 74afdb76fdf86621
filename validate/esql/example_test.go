package esql_test

import (
	"fmt"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/esql"
)

func ExampleParse() {
	q, err := esql.Parse(`from logs-github.audit-* | where event.action == "git.clone" | stats n = count(*) by user.name | where n >= 2`)
	if err != nil {
		fmt.Println(err)
		return
	}
	var docs []core.Doc
	for _, user := range []string{"alice", "mallory", "mallory"} {
		docs = append(docs, core.FlattenDoc(map[string]any{"event": map[string]any{"action": "git.clone"}, "user": map[string]any{"name": user}}))
	}
	index := func(core.Doc) string { return "logs-github.audit-default" }
	for _, r := range q.Run(docs, index) {
		fmt.Println(r.Values.Get("user.name"), r.Values.Get("n"), r.Sources)
	}
	// Output: mallory 2 [1 2]
}
