package kql_test

import (
	"fmt"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/kql"
)

func ExampleParse() {
	q, err := kql.Parse(`event.action:("git.push" or "git.clone") and not github.repository_public:true`, kql.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := core.FlattenDoc(map[string]any{"event": map[string]any{"action": "git.clone"}, "github": map[string]any{"repository_public": false}})
	fmt.Println(q.Match(doc))
	// Output: true
}
