package sim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// Runs that carry the same --sim-run-id last the same, whatever started
// between them; without it, each run draws its own length.
func TestRunIDArgumentFixesTheDuration(t *testing.T) {
	sc := queueScenario(t, "")
	for i := range sc.Jobs {
		sc.Jobs[i].DurationJitter = Duration(5 * time.Minute)
		sc.Jobs[i].MaxConcurrentRuns = 10
	}
	e := newEnv(t, sc)
	start := func(args map[string]string) string {
		t.Helper()
		out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String("one"), Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		return *out.JobRunId
	}
	a := start(map[string]string{RunIDArgument: "7"})
	b := start(nil)
	c := start(nil)
	d := start(map[string]string{RunIDArgument: "7", "--other": "x"})
	x := start(map[string]string{RunIDArgument: "8"})
	e.at(time.Hour)
	ran := func(id string) time.Duration {
		rec := e.runRecord(t, id)
		if rec.State != stateSucceeded {
			t.Fatalf("run %s: %s, want SUCCEEDED", id, rec.State)
		}
		return rec.CompletedOn.Sub(rec.RunningSince)
	}
	u := RunJitter(sc.Seed, "one", "7")
	want := sc.Jobs[1].CodeDuration(u).Round(time.Millisecond)
	if got := ran(a); got != want {
		t.Errorf("run id 7: ran %v, want %v (RunJitter %.3f)", got, want, u)
	}
	if ran(d) != ran(a) {
		t.Errorf("two runs with run id 7: %v and %v", ran(a), ran(d))
	}
	if ran(b) == ran(c) || ran(x) == ran(a) {
		t.Errorf("runs without a run id or with another one lasted the same: %v %v %v %v", ran(b), ran(c), ran(x), ran(a))
	}
}

func TestCodeDuration(t *testing.T) {
	p := RunProfile{Duration: Duration(10 * time.Minute), DurationJitter: Duration(2 * time.Minute)}
	for _, tt := range []struct {
		u    float64
		want time.Duration
	}{{0, 8 * time.Minute}, {0.5, 10 * time.Minute}, {0.75, 11 * time.Minute}} {
		if got := p.CodeDuration(tt.u); got != tt.want {
			t.Errorf("CodeDuration(%v) = %v, want %v", tt.u, got, tt.want)
		}
	}
	if got := (RunProfile{Duration: 0, DurationJitter: Duration(time.Minute)}).CodeDuration(0); got != time.Second {
		t.Errorf("a negative draw lasts %v, want the one-second floor", got)
	}
}
