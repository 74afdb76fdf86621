package testsummary_test

import (
	"io"
	"os"
	"strings"

	"github.com/t1567001/harness/internal/testsummary"
)

func Example() {
	stream := `{"Action":"output","Package":"m/a","Test":"TestUI","Output":"    ui_test.go:9: chromium not installed\n"}
{"Action":"skip","Package":"m/a","Test":"TestUI"}
{"Action":"pass","Package":"m/a","Test":"TestModel"}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.1s\n"}
`
	s, _ := testsummary.Read(strings.NewReader(stream), io.Discard)
	_ = s.Write(os.Stdout)
	// Output:
	// skipped:
	//   m/a TestUI: ui_test.go:9: chromium not installed
	// 1 passed, 0 failed, 1 skipped
}
