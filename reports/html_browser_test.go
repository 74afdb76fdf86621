package reports

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var screenshotDir = flag.String("screenshot", "", "also save the HTML report's full-page screenshots (PNG) to this folder")

// browser starts headless Chromium for a test, or skips it saying why.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("Chromium not installed (Debian package chromium): the HTML report cannot be rendered")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true),
		// Chromium leaves its singleton folder (org.chromium.Chromium.*) in
		// TMPDIR: give it the test's own, which the test removes.
		chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// TestHTMLInChromium renders the report in headless Chromium at 1280 px and
// checks, through the DOM, what a trainer needs to find on the page.
func TestHTMLInChromium(t *testing.T) {
	ctx := browser(t)
	var page bytes.Buffer
	require.NoError(t, WriteHTML(&page, sample(), sampleEvents()))
	file := filepath.Join(t.TempDir(), "report.html")
	require.NoError(t, os.WriteFile(file, page.Bytes(), 0o600))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate("file://"+file),
		chromedp.WaitReady(chromedp.CSS("body")),
	))
	str := func(expr string) string { return js[string](t, ctx, expr) }
	num := func(expr string) int { return js[int](t, ctx, expr) }
	texts := func(sel string) string {
		return str(`Array.from(document.querySelectorAll(` + "`" + sel + "`" + `)).map(e => e.textContent).join("\n")`)
	}
	count := func(sel string) int { return num(`document.querySelectorAll(` + "`" + sel + "`" + `).length`) }

	sentence := str(`document.querySelector("#sentence").textContent`)
	assert.Contains(t, sentence, "2 atomic test(s) of T1567.001 ran in local mode")
	assert.Contains(t, sentence, "(1 executed; 1 simulated, a replay standing in for a missing tool)")
	assert.Contains(t, sentence, "1 of 2 staged file(s) left and arrived intact")
	assert.Contains(t, sentence, "net, seed caught it")
	assert.Equal(t, 5, count("#toc a"), "coverage, failures, two atomics, gaps")

	assert.Equal(t, 2*2*2, count("#coverage-grid td.cell"), "atomic x context x rule")
	assert.Equal(t, 1, count("#coverage-grid td.cell.fail"))
	assert.Equal(t, 1, count("#coverage-grid td.cell.fires"))
	assert.NotEqual(t, str(`getComputedStyle(document.querySelector("#coverage-grid td.cell.fires")).backgroundColor`),
		str(`getComputedStyle(document.querySelector("#coverage-grid td.cell.fail")).backgroundColor`), "the grid is coloured")

	assert.Equal(t, "failures", str(`document.querySelector("section#failures, section.atomic").id`), "failures come before the atomics")
	heads := texts("#failures h3")
	assert.Contains(t, heads, "Not every staged file arrived intact (stolen_creds.txt; exit status 22): curl gist")
	assert.Contains(t, heads, "Expectation failed: ide / curl gist / seed")

	assert.Equal(t, 3, count("#atomic-1 .process-tree details"), "Explorer, powershell.exe and the replay child, each collapsible")
	assert.Contains(t, texts("#atomic-1 .process-tree .linux"), "pid 8 (child of 7) starts /usr/local/bin/harness replay-http PUT", "the Linux process beside its Windows node")
	assert.Contains(t, texts("#atomic-1 .process-tree .prov"), "simulated", "each node says what it rests on")

	assert.Equal(t, 6, count("#atomic-1 svg.timeline circle"), "every step on the time axis")
	assert.Equal(t, 5, num(`new Set(Array.from(document.querySelectorAll("#atomic-1 svg.timeline circle")).map(c => c.getAttribute("class"))).size`),
		"process starts, DNS, connections, HTTP requests, files")

	req := texts("#atomic-1 .http pre")
	assert.Contains(t, req, "PUT /repos/o/r/contents/f HTTP/1.1\nHost: api.github.com\nUser-Agent: Mozilla/5.0")
	assert.Contains(t, req, "Authorization: token ******** (token masked")
	assert.Contains(t, req, "finance_q3.csv, 10 bytes, sha256 "+strings.Repeat("a", 64))
	assert.Contains(t, req, "HTTP/1.1 201")
	files := texts("#atomic-1 table.files tbody tr")
	assert.Contains(t, files, "finance_q3.csv")
	assert.Contains(t, files, "intact")

	assert.Equal(t, "seed\nnet", texts("#atomic-2 .verdict .rule-name"), "each verdict names its rule")
	assert.Equal(t, `Image="*\\curl.exe" <missing> & more`, texts("#atomic-2 .explanation"), "the computed explanation")
	assert.Contains(t, texts("#atomic-2 .expectation-note"), "curl connects", "the expectation note, apart from the explanation")
	assert.Contains(t, texts("#atomic-2 .verdict .prov"), "observed", "each verdict says what it rests on")
	assert.Equal(t, 1, count("#gaps .gap-group"), "gaps grouped by rule")

	assert.Zero(t, num(`performance.getEntriesByType("resource").length`), "nothing is fetched: the page is self-contained")
	assert.Zero(t, num(`Array.from(document.querySelectorAll("[src],[href]")).filter(e => /^(https?:)?\/\//.test(e.getAttribute("src") || e.getAttribute("href"))).length`),
		"no link or source off the page")
	assert.LessOrEqual(t, num(`document.documentElement.scrollWidth`), num(`document.documentElement.clientWidth`), "no horizontal scrolling at 1280 px")
	save(t, ctx, "report-light.png")

	// Collapsible: a click on a node's summary folds it.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#atomic-1 .process-tree details summary"))))
	assert.False(t, js[bool](t, ctx, `document.querySelector("#atomic-1 .process-tree details").open`), "the node folds")

	light := str(`getComputedStyle(document.body).backgroundColor`)
	media(t, ctx, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
	assert.NotEqual(t, light, str(`getComputedStyle(document.body).backgroundColor`), "a dark scheme")
	save(t, ctx, "report-dark.png")

	media(t, ctx, emulation.SetEmulatedMediaParams{Media: "print"})
	assert.Equal(t, "none", str(`getComputedStyle(document.querySelector("nav.toc")).display`), "the print stylesheet drops the navigation")
}

// js evaluates expr in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// media emulates a media type or feature (print, dark scheme).
func media(t *testing.T, ctx context.Context, p emulation.SetEmulatedMediaParams) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
		return chromedp.Void{}, err
	}))
}

// save takes a full-page screenshot, kept with -screenshot DIR.
func save(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NotEmpty(t, img, "a screenshot")
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), img, 0o644))
}
