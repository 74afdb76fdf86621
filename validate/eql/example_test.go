package eql_test

import (
	"fmt"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/eql"
)

func ExampleParse() {
	q, err := eql.Parse(`network where dns.question.name : ("api.github.*", "*.ngrok.io") and not process.name : "git*.exe"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	docs := []core.Doc{
		core.FlattenDoc(map[string]any{"event": map[string]any{"category": []any{"network"}}, "dns": map[string]any{"question": map[string]any{"name": "API.GitHub.com"}}, "process": map[string]any{"name": "curl.exe"}}),
		core.FlattenDoc(map[string]any{"event": map[string]any{"category": []any{"network"}}, "dns": map[string]any{"question": map[string]any{"name": "api.github.com"}}, "process": map[string]any{"name": "git-remote-https.exe"}}),
	}
	for _, m := range q.Run(docs) {
		fmt.Println("match:", m.Events)
	}
	_, err = eql.Parse(`process where process.name = "x"`)
	fmt.Println(err)
	// Output:
	// match: [0]
	// eql: 1:28: use == to compare (or : for case-insensitive matching)
	//   process where process.name = "x"
	//                              ^
}
