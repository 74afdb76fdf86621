package executor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// batch is one runner call that does what would otherwise take three: a
// test's prerequisite checks, then its command only if they all pass, then
// its cleanup. The outcome of the checks and of the cleanup is written to a
// status file in the work root, which the runner sees at the same path.
type batch struct {
	status       string
	prereqs      []string
	shell, clean string
}

// batchScript: $1 the status file, $2 the number of prerequisite checks,
// the checks, the cleanup's shell ("" for none) and command, then the
// test's argv. It exits 0 without running anything when a check fails,
// else with the command's status.
const batchScript = `st=$1 n=$2; shift 2
bad=0 i=0
while [ "$i" -lt "$n" ]; do
	(sh -c "$1") >/dev/null 2>&1 </dev/null; c=$?
	echo "prereq $i $c" >>"$st"
	[ "$c" -eq 0 ] || bad=1
	shift; i=$((i+1))
done
[ "$bad" -eq 0 ] || exit 0
csh=$1 ccmd=$2; shift 2
"$@"; rc=$?
if [ -n "$csh" ]; then
	"$csh" -c "$ccmd" >"$st.out" 2>&1 </dev/null; echo "cleanup $?" >>"$st"
fi
exit "$rc"`

// newBatch makes the status file of a batch in root; shell and cleanup
// are the cleanup's interpreter (sh or bash) and command, both "" for
// none.
func newBatch(root string, prereqs []string, shell, cleanup string) (*batch, error) {
	f, err := os.CreateTemp(root, ".batch-")
	if err != nil {
		return nil, fmt.Errorf("batch status file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("batch status file: %w", err)
	}
	return &batch{status: f.Name(), prereqs: prereqs, shell: shell, clean: cleanup}, nil
}

// argv wraps the test's argv.
func (b *batch) argv(command []string) []string {
	argv := []string{"sh", "-c", batchScript, "sh", b.status, strconv.Itoa(len(b.prereqs))}
	argv = append(append(argv, b.prereqs...), b.shell, b.clean)
	return append(argv, command...)
}

// batchStatus is what a batch reported: the checks' exit codes (nil unless
// every check reported), and whether and how the cleanup ran.
type batchStatus struct {
	prereqs     []int
	cleaned     bool
	cleanupCode int
	cleanupOut  string
}

func (b *batch) read() batchStatus {
	var st batchStatus
	data, _ := os.ReadFile(b.status)
	codes := make([]int, len(b.prereqs))
	seen := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "prereq":
			i, err1 := strconv.Atoi(f[1])
			c, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil && i >= 0 && i < len(codes) {
				codes[i] = c
				seen++
			}
		case len(f) == 2 && f[0] == "cleanup":
			if c, err := strconv.Atoi(f[1]); err == nil {
				st.cleaned, st.cleanupCode = true, c
			}
		}
	}
	if seen == len(codes) {
		st.prereqs = codes
	}
	if st.cleaned {
		out, _ := os.ReadFile(b.status + ".out")
		st.cleanupOut = string(out)
	}
	return st
}

func (b *batch) remove() {
	_ = os.Remove(b.status)
	_ = os.Remove(b.status + ".out")
}
