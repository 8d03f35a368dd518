package lab

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// checkScript runs in the browser after load and marks the body with the
// number of charts that have a non-zero box and hold drawn shapes.
const checkScript = `<script>
window.addEventListener("load", function () {
  var svgs = document.querySelectorAll("figure.chart svg");
  var ok = 0;
  svgs.forEach(function (s) {
    var r = s.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && s.querySelectorAll("path").length > 0) { ok++; }
  });
  document.body.setAttribute("data-charts", ok + "/" + svgs.length);
});
</script>`

// TestHTMLReportRendersInChromium loads the report in headless Chromium
// and checks every chart got a box on the page.
func TestHTMLReportRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the browser check")
	}
	sc, err := Load("herd")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = 2 * 3600e9
	res, err := Run(context.Background(), sc, Options{Seeds: 2, Variants: []Variant{mustVariant(t, "post-capacity"), mustVariant(t, "gluenet-capacity")}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	// SVG namespace URIs are names, not fetches; src= and href= would be.
	if strings.Contains(html, "<script") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(html) {
		t.Error("the report must be self-contained: no script, no network reference")
	}
	charts := strings.Count(html, "<svg")
	if charts != len(res.charts()) {
		t.Fatalf("%d inline SVG charts, want %d", charts, len(res.charts()))
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	withCheck := strings.Replace(html, "</body>", checkScript+"</body>", 1)
	if err := os.WriteFile(page, []byte(withCheck), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--virtual-time-budget=5000", "--dump-dom", "file://"+page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`data-charts="(\d+)/(\d+)"`).FindStringSubmatch(string(dom))
	if m == nil {
		t.Fatalf("the check script did not run; DOM starts:\n%.500s", dom)
	}
	if m[1] != m[2] || m[2] == "0" {
		t.Errorf("%s of %s charts rendered", m[1], m[2])
	}
	if !strings.Contains(string(dom), "gluenet-capacity") {
		t.Error("the table is missing from the rendered page")
	}
}

// TestHTMLReportEscapesText checks that text from a scenario or variant
// cannot inject markup into the report, now that it is built without
// html/template.
func TestHTMLReportEscapesText(t *testing.T) {
	evil := `<script>alert("x")</script>&`
	r := &Result{
		Scenario: evil, Description: evil, Seeds: []int64{1, 2}, Runs: []int{3, 3},
		Summaries: []Summary{{Variant: Variant{Name: evil, Strategy: "capacity", RetrySummary: evil, Description: evil},
			Full: Stat{Mean: 0.5, Min: 0.4, Max: 0.6}}},
	}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Contains(html, "<script") || strings.Contains(html, `alert("x")`) {
		t.Errorf("unescaped text in the report:\n%s", html)
	}
	if want := "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;"; strings.Count(html, want) < 5 {
		t.Errorf("want the escaped text %q in the title, heading, description and table cells", want)
	}
	if got := strings.Count(html, "<svg"); got != len(r.charts()) {
		t.Errorf("%d charts, want %d", got, len(r.charts()))
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		top  float64
		want []float64
	}{
		{0, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{100, []float64{0, 20, 40, 60, 80, 100}},
		{1.28, []float64{0, 0.5, 1, 1.5}},
		{766, []float64{0, 200, 400, 600, 800}},
		{3.9, []float64{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.top), func(t *testing.T) {
			got := niceTicks(tt.top)
			if len(got) != len(tt.want) {
				t.Fatalf("niceTicks(%v) = %v, want %v", tt.top, got, tt.want)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("niceTicks(%v) = %v, want %v", tt.top, got, tt.want)
				}
			}
		})
	}
}
