package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser for the HTML tests. Without one the
// test is skipped locally and fails in CI (CI=true), where the Debian package
// "chromium" must be installed.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not on PATH; install the Debian package \"chromium\"")
	}
	t.Skip("chromium not on PATH (set CI=true to make this a failure)")
	return ""
}

// loadPage opens page in headless Chromium and returns the DOM after
// scripts ran and the console messages the page produced.
func loadPage(t *testing.T, bin string, page []byte) (dom string, console []string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for line := range strings.Lines(stderr.String()) {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			console = append(console, strings.TrimSpace(line))
		}
	}
	return stdout.String(), console
}

func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	var page bytes.Buffer
	if err := WriteHTML(&page, Summarize(fixture())); err != nil {
		t.Fatal(err)
	}

	t.Run("report", func(t *testing.T) {
		dom, console := loadPage(t, bin, page.Bytes())
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		// The inline script counts the charts: proves it ran.
		if want := `data-charts="8"`; !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s (script did not run or charts missing)", want)
		}
		for _, id := range ChartIDs {
			if !regexp.MustCompile(`<svg class="chart" id="` + id + `"[^>]*>`).MatchString(dom) {
				t.Errorf("DOM lacks chart svg#%s", id)
			}
		}
		for _, want := range []string{`<rect class="bar s0"`, `<polyline class="line l0"`, `<rect class="open"`,
			"api.assemblyai.com", "Transcoding failed", "/audio/&lt;f&gt;.wav"} {
			if !strings.Contains(dom, want) {
				t.Errorf("DOM lacks %q", want)
			}
		}
		if strings.Contains(dom, "no data") {
			t.Error("a chart rendered as empty")
		}
	})

	// The checks above would be vacuous if console errors never reached us:
	// a broken script and a blocked external fetch must both be seen.
	t.Run("detects errors", func(t *testing.T) {
		bad := bytes.Replace(page.Bytes(), []byte("</body>"),
			[]byte(`<img src="http://127.0.0.1:9/x.png"><script>undefinedFunction();</script></body>`), 1)
		_, console := loadPage(t, bin, bad)
		joined := strings.Join(console, "\n")
		if !strings.Contains(joined, "Uncaught ReferenceError") {
			t.Errorf("script error not detected; console:\n%s", joined)
		}
		if !strings.Contains(joined, "Content Security Policy") {
			t.Errorf("external fetch not blocked by the page's CSP; console:\n%s", joined)
		}
	})
}

// TestHTMLSelfContained checks statically that the page references nothing
// outside itself (Chromium's CSP check above proves it at run time).
func TestHTMLSelfContained(t *testing.T) {
	t.Parallel()
	var page bytes.Buffer
	if err := WriteHTML(&page, Summarize(fixture())); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{` src=`, ` href=`, `@import`, `url(`, `<link`, `<iframe`} {
		if strings.Contains(page.String(), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}
