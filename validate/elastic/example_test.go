package elastic_test

import (
	"fmt"

	"github.com/t1567001/harness/validate/core"
	"github.com/t1567001/harness/validate/elastic"
)

func ExampleLoad() {
	r, err := elastic.Load("exfiltration_github_private_repository_turned_public.toml", []byte(`
[rule]
name = "GitHub Private Repository Turned Public"
type = "eql"
language = "eql"
index = ["logs-github.audit-*"]
query = '''
configuration where data_stream.dataset == "github.audit" and event.action == "repo.access" and github.visibility == "public"
'''
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := core.FlattenDoc(map[string]any{
		"event":       map[string]any{"category": []any{"configuration", "web"}, "action": "repo.access"},
		"data_stream": map[string]any{"type": "logs", "dataset": "github.audit", "namespace": "default"},
		"github":      map[string]any{"visibility": "public"},
	})
	fmt.Println(r.ID, len(r.Run([]core.Doc{doc})))

	_, err = elastic.Load("ml.toml", []byte("[rule]\ntype = \"machine_learning\"\n"))
	fmt.Println(elastic.IsRefused(err), err)
	// Output:
	// exfiltration_github_private_repository_turned_public 1
	// true rule type "machine_learning" cannot run here (eql, query, esql, threshold and new_terms can)
}
