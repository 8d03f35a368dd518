package policy

import (
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"pgregory.net/rapid"
)

var (
	ok        = classify.Verdict{Class: classify.Succeeded}
	placement = classify.Verdict{Class: classify.Placement, Retry: true, Rerank: true, BlameSubnet: true}
	jobCode   = classify.Verdict{Class: classify.JobCode}
	throttled = classify.Verdict{Class: classify.Throttling, Retry: true}
	concurr   = classify.Verdict{Class: classify.ConcurrentRuns, Retry: true}
	denied    = classify.Verdict{Class: classify.AccessDenied, Fatal: true}
)

// step is one exchange with the policy: the action it must ask for, and the
// event the executor then reports (nil to stop).
type step struct {
	want  Kind
	event Event
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	plan := Discovered{Plan: gluenet.Plan{Strategy: "capacity"}}
	tests := []struct {
		name       string
		cfg        func(*Config)
		steps      []step
		result     Result
		attempts   int
		lastSleeps []time.Duration
	}{
		{name: "first attempt succeeds", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, StateChanged{"RUNNING"}}, {Wait, Ended{"SUCCEEDED", "", ok}}, {Finish, nil},
		}, result: ResultSucceeded, attempts: 1},
		{name: "placement failure retries from discovery, with exponential backoff", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Ended{"FAILED", "no IPs", placement}},
			{Sleep, Slept{}}, {Discover, plan}, {Start, Started{"jr_2"}}, {Wait, Ended{"FAILED", "no IPs", placement}},
			{Sleep, Slept{}}, {Discover, plan}, {Start, Started{"jr_3"}}, {Wait, Ended{"FAILED", "no IPs", placement}},
			{GiveUp, nil},
		}, result: ResultFailed, attempts: 3, lastSleeps: []time.Duration{30 * time.Second, 60 * time.Second}},
		{name: "job code failure is not retried", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Ended{"FAILED", "Traceback", jobCode}}, {GiveUp, nil},
		}, result: ResultFailed, attempts: 1},
		{name: "concurrent runs exceeded waits and starts again without re-ranking", steps: []step{
			{Discover, plan}, {Start, Failed{concurr, "too many runs"}}, {Sleep, Slept{}},
			{Start, Started{"jr_1"}}, {Wait, Ended{"SUCCEEDED", "", ok}}, {Finish, nil},
		}, result: ResultSucceeded, attempts: 1},
		{name: "a run that ends without blame on the subnets is retried with the same plan", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Ended{"FAILED", "Max concurrent runs exceeded", concurr}},
			{Sleep, Slept{}}, {Start, Started{"jr_2"}}, {Wait, Ended{"SUCCEEDED", "", ok}}, {Finish, nil},
		}, result: ResultSucceeded, attempts: 2},
		{name: "start retries are bounded", cfg: func(c *Config) { c.MaxStartRetries = 1 }, steps: []step{
			{Discover, plan}, {Start, Failed{throttled, "Rate exceeded"}}, {Sleep, Slept{}},
			{Start, Failed{throttled, "Rate exceeded"}}, {GiveUp, nil},
		}, result: ResultError, attempts: 1},
		{name: "fatal error gives up at once", steps: []step{
			{Discover, plan}, {Start, Failed{denied, "access denied"}}, {GiveUp, nil},
		}, result: ResultError, attempts: 1},
		{name: "interrupt while waiting stops the run, then waits for its end", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Interrupted{}}, {Stop, StopRequested{}},
			{Wait, Ended{"STOPPED", "", classify.Verdict{Class: classify.Stopped}}}, {GiveUp, nil},
		}, result: ResultInterrupted, attempts: 1},
		{name: "interrupt with stop disabled leaves the run going", cfg: func(c *Config) { c.StopOnInterrupt = false }, steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Interrupted{}}, {GiveUp, nil},
		}, result: ResultInterrupted, attempts: 1},
		{name: "interrupt while sleeping gives up", steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Ended{"FAILED", "x", placement}}, {Sleep, Interrupted{}}, {GiveUp, nil},
		}, result: ResultInterrupted, attempts: 2},
		{name: "one attempt only", cfg: func(c *Config) { c.MaxAttempts = 1 }, steps: []step{
			{Discover, plan}, {Start, Started{"jr_1"}}, {Wait, Ended{"TIMEOUT", "", placement}}, {GiveUp, nil},
		}, result: ResultFailed, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Jitter = 0
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			p := Policy{Config: cfg}
			s := New()
			var sleeps []time.Duration
			for i, st := range tt.steps {
				a := p.Next(s)
				if a.Kind != st.want {
					t.Fatalf("step %d: action %v, want %v (state %+v)", i, a.Kind, st.want, s)
				}
				if a.Kind == Sleep {
					sleeps = append(sleeps, a.Delay)
				}
				if a.Kind == Start && a.Plan == nil {
					t.Fatalf("step %d: start without a plan", i)
				}
				if st.event != nil {
					s = p.Apply(s, st.event)
				}
			}
			if s.Result != tt.result {
				t.Errorf("result %q, want %q (%s)", s.Result, tt.result, s.Err)
			}
			if len(s.Attempts) != tt.attempts {
				t.Errorf("%d attempts, want %d", len(s.Attempts), tt.attempts)
			}
			if tt.lastSleeps != nil {
				if len(sleeps) != len(tt.lastSleeps) {
					t.Fatalf("sleeps %v, want %v", sleeps, tt.lastSleeps)
				}
				for i := range sleeps {
					if sleeps[i] != tt.lastSleeps[i] {
						t.Errorf("sleep %d = %v, want %v", i, sleeps[i], tt.lastSleeps[i])
					}
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := Config{InitialDelay: 30 * time.Second, Multiplier: 2, MaxDelay: 5 * time.Minute, Jitter: 1}
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 30 * time.Second},
		{1, 0.5, 45 * time.Second},
		{2, 0, time.Minute},
		{3, 0.999, 4*time.Minute - 120*time.Millisecond},
		{4, 0, 4 * time.Minute},
		{5, 0, 5 * time.Minute},
		{500, 0.3, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := c.Backoff(tt.n, tt.r); got != tt.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mut  func(*Config)
	}{
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }},
		{"negative attempts", func(c *Config) { c.MaxAttempts = -1 }},
		{"negative delay", func(c *Config) { c.InitialDelay = -time.Second }},
		{"max below initial", func(c *Config) { c.MaxDelay = time.Second }},
		{"jitter above one", func(c *Config) { c.Jitter = 2 }},
		{"multiplier below one", func(c *Config) { c.Multiplier = 0.5 }},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestResumeReattaches(t *testing.T) {
	t.Parallel()
	p := Policy{Config: DefaultConfig()}
	s := Resume([]Attempt{{Number: 1, RunID: "jr_1"}})
	if a := p.Next(s); a.Kind != Wait || a.RunID != "jr_1" {
		t.Fatalf("resume with a run id: %+v, want wait for jr_1", a)
	}
	s = Resume([]Attempt{{Number: 2}})
	if a := p.Next(s); a.Kind != Discover || a.Attempt != 2 {
		t.Fatalf("resume without a run id: %+v, want discover attempt 2", a)
	}
}

func TestApplyDoesNotAlias(t *testing.T) {
	t.Parallel()
	p := Policy{Config: DefaultConfig()}
	s := p.Apply(New(), Discovered{})
	before := s
	_ = p.Apply(s, Started{RunID: "jr_x"})
	if before.Attempts[0].RunID != "" {
		t.Fatal("Apply changed the caller's state")
	}
}

// TestPolicyProperties drives the policy with random outcomes and checks
// its invariants: it always ends, never starts more runs than MaxAttempts,
// never starts without a plan, never sleeps a negative time or longer than
// MaxDelay, and ends succeeded only after a run succeeded.
func TestPolicyProperties(t *testing.T) {
	t.Parallel()
	verdicts := []classify.Verdict{ok, placement, jobCode, throttled, concurr, denied,
		{Class: classify.Timeout, Retry: true, Rerank: true}, {Class: classify.Stopped}}
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.MaxAttempts = rapid.IntRange(1, 6).Draw(t, "attempts")
		cfg.MaxStartRetries = rapid.IntRange(0, 4).Draw(t, "startRetries")
		cfg.Jitter = rapid.Float64Range(0, 1).Draw(t, "jitter")
		cfg.StopOnInterrupt = rapid.Bool().Draw(t, "stopOnInterrupt")
		p := Policy{Config: cfg, Rand: func() float64 { return rapid.Float64Range(0, 0.999).Draw(t, "r") }}
		s := New()
		started, succeeded := 0, false
		for step := 0; ; step++ {
			if step > 200 {
				t.Fatalf("no end after 200 steps: %+v", s)
			}
			a := p.Next(s)
			switch a.Kind {
			case Finish, GiveUp:
				if (s.Result == ResultSucceeded) != succeeded {
					t.Fatalf("result %s but succeeded=%v", s.Result, succeeded)
				}
				if started > cfg.MaxAttempts {
					t.Fatalf("%d runs started, max %d", started, cfg.MaxAttempts)
				}
				return
			case Discover:
				s = p.Apply(s, Discovered{Plan: gluenet.Plan{}})
			case Start:
				if a.Plan == nil {
					t.Fatal("start without a plan")
				}
				if rapid.IntRange(0, 4).Draw(t, "startFails") == 0 {
					v := verdicts[rapid.IntRange(3, 5).Draw(t, "startVerdict")]
					s = p.Apply(s, Failed{Verdict: v, Err: "x"})
					continue
				}
				started++
				s = p.Apply(s, Started{RunID: "jr"})
			case Wait, Stop:
				if a.Kind == Stop {
					s = p.Apply(s, StopRequested{})
				}
				if rapid.IntRange(0, 9).Draw(t, "interrupt") == 0 {
					s = p.Apply(s, Interrupted{})
					continue
				}
				v := verdicts[rapid.IntRange(0, len(verdicts)-1).Draw(t, "verdict")]
				// A run that succeeds before a stop takes effect is reported as succeeded.
				succeeded = v.Class == classify.Succeeded
				s = p.Apply(s, Ended{State: "X", Verdict: v})
			case Sleep:
				if a.Delay < 0 || a.Delay > cfg.MaxDelay {
					t.Fatalf("sleep %v outside [0, %v]", a.Delay, cfg.MaxDelay)
				}
				s = p.Apply(s, Slept{})
			}
		}
	})
}
