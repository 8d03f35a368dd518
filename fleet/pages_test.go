package fleet

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

// TestPagesTellTheTruth: what the pages say of an empty store, a subnet
// without room, a stale subnet, an ejected zone and a failed run.
func TestPagesTellTheTruth(t *testing.T) {
	t.Run("empty store: no data yet", func(t *testing.T) {
		ts, _ := newServerOn(t, openSQLite(t), "")
		for _, path := range []string{"/", "/runs"} {
			_, b := get(t, ts.URL+path, "")
			if !strings.Contains(string(b), "No data yet") {
				t.Errorf("%s on an empty store does not say there is no data yet", path)
			}
		}
		_, b := get(t, ts.URL+"/", "")
		if !strings.Contains(string(b), "--watch CONFIG") {
			t.Error("without a sampler the home page gives no --watch hint")
		}
	})
	t.Run("seeded fleet", func(t *testing.T) {
		st := seed(t)
		ctx := context.Background()
		if err := st.AddSubnetSamples(ctx, []store.SubnetSample{
			{At: now.Add(-time.Minute), SubnetID: "subnet-dddd", AZ: azB, FreeIPs: 1},
			{At: now.Add(-30 * time.Hour), SubnetID: "subnet-cccc", AZ: azB, FreeIPs: 90},
		}); err != nil {
			t.Fatal(err)
		}
		ts, _ := newServerOn(t, st, "")
		_, home := get(t, ts.URL+"/", "")
		row := func(id string) string {
			m := regexp.MustCompile(`<tr><td>` + id + `</td>.*?</tr>`).FindString(string(home))
			if m == "" {
				t.Fatalf("no row for %s", id)
			}
			return m
		}
		for _, tt := range []struct{ id, want, not string }{
			{"subnet-dddd", "no room</span>: 1 free after reservations", `class="ok"`},
			{"subnet-cccc", "30 h ago: stale", `class="ok"`},
			{"us-east-1a", "after 2 pieces of evidence", `class="ok"`},
			{"subnet-bbbb", `class="ok"`, "no room"},
		} {
			if r := row(tt.id); !strings.Contains(r, tt.want) || strings.Contains(r, tt.not) {
				t.Errorf("%s: row %s; want %q, not %q", tt.id, r, tt.want, tt.not)
			}
		}
		if !strings.Contains(string(home), "UTC</time>") {
			t.Error("times are not labelled UTC")
		}
		_, runs := get(t, ts.URL+"/runs", "")
		if !strings.Contains(string(runs), "Failed attempts and short starts") {
			t.Error("the runs page has no chart of failures and short starts")
		}
		// One run a page: the link to the older one lists it.
		_, first := get(t, ts.URL+"/runs?limit=1", "")
		m := regexp.MustCompile(`<a href="(/runs\?[^"]*cursor=[^"]*)">Older runs</a>`).FindStringSubmatch(string(first))
		if m == nil {
			t.Fatal("no link to older runs with limit=1 and two runs")
		}
		_, second := get(t, ts.URL+strings.ReplaceAll(m[1], "&amp;", "&"), "")
		if !strings.Contains(string(second), "airflow/dag/run-1/task") || strings.Contains(string(second), "Older runs") {
			t.Error("the older page does not list the older run alone")
		}
	})
}

// TestChartGaps: points further apart than gapFactor times the usual
// interval start a new segment of the line.
func TestChartGaps(t *testing.T) {
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name     string
		minutes  []int
		segments int
	}{
		{"regular", []int{0, 1, 2, 3, 4}, 1},
		{"one gap", []int{0, 1, 2, 60, 61, 62}, 2},
		{"two gaps", []int{0, 1, 2, 60, 61, 200, 201}, 3},
		{"two points", []int{0, 300}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pts []point
			for _, m := range tt.minutes {
				pts = append(pts, point{at(m), 5})
			}
			svg := timeChart("t", at(0), at(tt.minutes[len(tt.minutes)-1]), []series{{"s", "s-free", pts}}, nil)
			d := regexp.MustCompile(` d="([^"]*)"`).FindStringSubmatch(svg)
			if d == nil {
				t.Fatal("no path")
			}
			if got := strings.Count(d[1], "M"); got != tt.segments {
				t.Errorf("%d segments, want %d: %s", got, tt.segments, d[1])
			}
		})
	}
}
