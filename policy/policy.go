// Package policy is the run loop of gluenet as a pure state machine: given
// what has happened so far, it says what to do next (discover, apply and
// start, wait, stop, sleep, finish, give up).
//
// The policy does no I/O and reads no clock. An executor performs each
// action and reports what happened as an Event; Apply folds the event into
// the State. The in-process executor (package runner), the strategy lab and
// a durable workflow all drive this same policy, so their behaviour cannot
// drift apart. State is plain data, so it can be saved and restored (a
// crashed process re-attaches to the run it had started).
package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
)

// Config is the retry policy.
type Config struct {
	// MaxAttempts is the number of attempts (runs started), including the
	// first. The post's DAG has 2 retries: 3 attempts.
	MaxAttempts int
	// InitialDelay is the wait before the second attempt.
	InitialDelay time.Duration
	// Multiplier grows the delay for each further attempt (exponential
	// backoff).
	Multiplier float64
	// MaxDelay caps the delay.
	MaxDelay time.Duration
	// Jitter spreads each delay over [d, d×(1+Jitter)), so that runs that
	// failed together do not retry together. Airflow's exponential backoff
	// spreads over [d, 2d): Jitter 1.
	Jitter float64
	// MaxStartRetries bounds the retries of a start that AWS refused for a
	// passing reason (throttling, too many concurrent runs): these do not
	// use up an attempt, since no run started.
	MaxStartRetries int
	// StopOnInterrupt stops the Glue run when the executor is interrupted.
	StopOnInterrupt bool
}

// DefaultConfig is the post's retry policy: 3 attempts, 30s, exponential.
func DefaultConfig() Config {
	return Config{
		MaxAttempts:     3,
		InitialDelay:    30 * time.Second,
		Multiplier:      2,
		MaxDelay:        10 * time.Minute,
		Jitter:          0.2,
		MaxStartRetries: 5,
		StopOnInterrupt: true,
	}
}

// Validate says what is wrong with a config, in words for the user.
func (c Config) Validate() error {
	switch {
	case c.MaxAttempts < 1:
		return fmt.Errorf("attempts must be at least 1, got %d", c.MaxAttempts)
	case c.InitialDelay < 0:
		return fmt.Errorf("retry delay must not be negative, got %s", c.InitialDelay)
	case c.Multiplier < 1:
		return fmt.Errorf("backoff multiplier must be at least 1, got %g", c.Multiplier)
	case c.MaxDelay < c.InitialDelay:
		return fmt.Errorf("maximum retry delay %s is shorter than the first delay %s", c.MaxDelay, c.InitialDelay)
	case c.Jitter < 0 || c.Jitter > 1:
		return fmt.Errorf("jitter must be between 0 and 1, got %g", c.Jitter)
	case c.MaxStartRetries < 0:
		return fmt.Errorf("start retries must not be negative, got %d", c.MaxStartRetries)
	}
	return nil
}

// Backoff is the delay before attempt n+1 after attempt n failed, for a
// random value r in [0, 1).
func (c Config) Backoff(n int, r float64) time.Duration {
	d := float64(c.InitialDelay) * math.Pow(c.Multiplier, float64(n-1))
	d *= 1 + c.Jitter*r
	if d > float64(c.MaxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		return c.MaxDelay
	}
	return time.Duration(d)
}

// Kind is the kind of an action.
type Kind int

// The actions.
const (
	// Discover: learn the job's needs and the candidates' free IPs, rank
	// them, and report Discovered (or Failed).
	Discover Kind = iota + 1
	// Start: apply the plan's order to the job and start a run; report
	// Started or StartFailed.
	Start
	// Wait: poll the run until it ends; report Ended.
	Wait
	// Stop: ask Glue to stop the run, then keep waiting for it to end.
	Stop
	// Sleep: wait Action.Delay, then report Slept.
	Sleep
	// Finish: the run succeeded.
	Finish
	// GiveUp: the run failed for good, or was interrupted, or an error
	// made going on pointless. State.Result says which.
	GiveUp
)

var kindNames = map[Kind]string{Discover: "discover", Start: "start", Wait: "wait", Stop: "stop", Sleep: "sleep", Finish: "finish", GiveUp: "give-up"}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Action is what the executor should do next.
type Action struct {
	Kind Kind
	// Attempt is the attempt the action belongs to (1-based).
	Attempt int
	// Delay is how long to sleep (Sleep).
	Delay time.Duration
	// Plan is the plan to apply (Start).
	Plan *gluenet.Plan
	// RunID is the Glue run to wait for or stop (Wait, Stop).
	RunID string
}

// Result is how a run ended.
type Result string

// The results.
const (
	ResultNone        Result = ""
	ResultSucceeded   Result = "succeeded"
	ResultFailed      Result = "failed"      // the Glue run failed after all attempts, or a failure not worth retrying
	ResultError       Result = "error"       // an AWS or configuration error stopped the loop
	ResultInterrupted Result = "interrupted" // the executor was interrupted
)

// Attempt is what happened in one attempt.
type Attempt struct {
	Number int `json:"attempt"`
	// Plan is the ranking used; nil until discovered.
	Plan *gluenet.Plan `json:"plan,omitempty"`
	// StartRetries counts starts AWS refused for a passing reason.
	StartRetries int `json:"start_retries,omitempty"`
	// RunID is the Glue run id once started.
	RunID string `json:"run_id,omitempty"`
	// State is the run's last known state.
	State string `json:"state,omitempty"`
	// ErrorMessage is Glue's (or AWS's) message for a failure.
	ErrorMessage string `json:"error_message,omitempty"`
	// Class is the classification of the failure.
	Class classify.Class `json:"class,omitempty"`
	// Stopping is true once a stop was requested.
	Stopping bool `json:"stopping,omitempty"`
}

// Phase is where the loop stands within an attempt.
type Phase int

// The phases.
const (
	PhaseDiscover Phase = iota // about to discover
	PhaseStart                 // discovered, about to start
	PhaseWait                  // started, waiting for the end
	PhaseSleep                 // between attempts or start retries
	PhaseDone                  // finished or given up
)

// State is everything the policy knows. It is plain data.
type State struct {
	Phase    Phase     `json:"phase"`
	Attempts []Attempt `json:"attempts"`
	// SleepFor is the pending delay in PhaseSleep; AfterSleep is where
	// the loop goes after it.
	SleepFor   time.Duration `json:"sleep_for,omitempty"`
	AfterSleep Phase         `json:"after_sleep,omitempty"`
	// Interrupted is set once the executor was interrupted.
	Interrupted bool   `json:"interrupted,omitempty"`
	Result      Result `json:"result,omitempty"`
	// Err explains a ResultError or a failure not worth retrying.
	Err string `json:"error,omitempty"`
}

// Current is the attempt in progress, or nil before the first.
func (s *State) Current() *Attempt {
	if len(s.Attempts) == 0 {
		return nil
	}
	return &s.Attempts[len(s.Attempts)-1]
}

// New is the state before anything happened.
func New() State {
	return State{Phase: PhaseDiscover, Attempts: []Attempt{{Number: 1}}}
}

// Resume is the state of a run that was started by an earlier process and
// must be waited for: it re-attaches instead of starting another run.
func Resume(attempts []Attempt) State {
	s := State{Phase: PhaseWait, Attempts: attempts}
	if len(attempts) == 0 || attempts[len(attempts)-1].RunID == "" {
		s = New()
		s.Attempts = append(attempts[:0:0], attempts...)
		if len(s.Attempts) == 0 {
			s.Attempts = []Attempt{{Number: 1}}
		}
	}
	return s
}

// Policy decides. It holds the config and the random source for jitter.
type Policy struct {
	Config Config
	// Rand returns a value in [0, 1) for jitter. Nil means no jitter.
	Rand func() float64
}

// Next is the action to perform in state s.
func (p Policy) Next(s State) Action {
	cur := s.Current()
	a := Action{}
	if cur != nil {
		a.Attempt = cur.Number
	}
	switch s.Phase {
	case PhaseDiscover:
		a.Kind = Discover
	case PhaseStart:
		a.Kind = Start
		a.Plan = cur.Plan
	case PhaseWait:
		a.RunID = cur.RunID
		a.Kind = Wait
		if s.Interrupted && p.Config.StopOnInterrupt && !cur.Stopping {
			a.Kind = Stop
		}
	case PhaseSleep:
		a.Kind = Sleep
		a.Delay = s.SleepFor
	case PhaseDone:
		a.Kind = GiveUp
		if s.Result == ResultSucceeded {
			a.Kind = Finish
		}
	}
	return a
}

// Event is something that happened, reported by the executor.
type Event interface{ event() }

// Discovered: discovery and ranking produced a plan.
type Discovered struct{ Plan gluenet.Plan }

// Failed: an action failed with an error before a run started (discovery
// of the job's needs, applying the order, starting the run).
type Failed struct {
	Verdict classify.Verdict
	Err     string
}

// Started: a Glue run started.
type Started struct{ RunID string }

// StateChanged: the run changed state but has not ended.
type StateChanged struct{ State string }

// StopRequested: the executor asked Glue to stop the run.
type StopRequested struct{}

// Ended: the run reached a terminal state.
type Ended struct {
	State        string
	ErrorMessage string
	Verdict      classify.Verdict
}

// Slept: the requested sleep is over.
type Slept struct{}

// NoRoom: the attempt waited for room for the whole run, none appeared in
// time, and the run's settings say not to start it short. No run started.
type NoRoom struct {
	Class classify.Class
	Err   string
}

// Interrupted: the user or the system asked the executor to stop.
type Interrupted struct{}

func (Discovered) event()    {}
func (Failed) event()        {}
func (Started) event()       {}
func (StateChanged) event()  {}
func (StopRequested) event() {}
func (Ended) event()         {}
func (Slept) event()         {}
func (NoRoom) event()        {}
func (Interrupted) event()   {}

// Apply folds an event into the state and returns the new state.
func (p Policy) Apply(s State, e Event) State {
	s.Attempts = append(s.Attempts[:0:0], s.Attempts...) // never share with the caller's copy
	cur := s.Current()
	switch e := e.(type) {
	case Interrupted:
		s.Interrupted = true
		if s.Phase != PhaseWait || !p.Config.StopOnInterrupt {
			s.done(ResultInterrupted, "interrupted")
		}
	case Discovered:
		plan := e.Plan
		cur.Plan = &plan
		s.Phase = PhaseStart
	case Failed:
		cur.Class = e.Verdict.Class
		cur.ErrorMessage = e.Err
		switch {
		case e.Verdict.Fatal || !e.Verdict.Retry:
			s.done(ResultError, e.Err)
		case cur.StartRetries >= p.Config.MaxStartRetries:
			s.done(ResultError, fmt.Sprintf("%s (gave up after %d retries)", e.Err, cur.StartRetries))
		default:
			cur.StartRetries++
			s.sleep(p.Config.Backoff(cur.StartRetries, p.rand()), PhaseStart)
			if e.Verdict.Rerank || cur.Plan == nil {
				s.AfterSleep = PhaseDiscover
			}
		}
	case Started:
		cur.RunID = e.RunID
		cur.State = "STARTING"
		s.Phase = PhaseWait
	case StateChanged:
		cur.State = e.State
	case StopRequested:
		cur.Stopping = true
	case Ended:
		cur.State = e.State
		cur.ErrorMessage = e.ErrorMessage
		cur.Class = e.Verdict.Class
		switch {
		case e.Verdict.Class == classify.Succeeded:
			s.done(ResultSucceeded, "")
		case s.Interrupted:
			s.done(ResultInterrupted, "interrupted; the run ended "+e.State)
		case e.Verdict.Retry && cur.Number < p.Config.MaxAttempts:
			next := Attempt{Number: cur.Number + 1}
			then := PhaseDiscover
			if !e.Verdict.Rerank && cur.Plan != nil {
				// The failure says nothing about the subnets (too many
				// concurrent runs, say): start again with the same plan.
				next.Plan, then = cur.Plan, PhaseStart
			}
			s.sleep(p.Config.Backoff(cur.Number, p.rand()), then)
			s.Attempts = append(s.Attempts, next)
		case e.Verdict.Retry:
			s.done(ResultFailed, fmt.Sprintf("run %s ended %s after %d attempts", cur.RunID, e.State, cur.Number))
		default:
			s.done(ResultFailed, fmt.Sprintf("run %s ended %s (%s: not retried)", cur.RunID, e.State, e.Verdict.Class))
		}
	case NoRoom:
		cur.Class, cur.ErrorMessage = e.Class, e.Err
		s.done(ResultFailed, e.Err)
	case Slept:
		if s.Phase == PhaseSleep {
			s.Phase = s.AfterSleep
			s.SleepFor = 0
		}
	}
	return s
}

func (s *State) done(r Result, msg string) {
	s.Phase = PhaseDone
	s.Result = r
	s.Err = msg
}

func (s *State) sleep(d time.Duration, then Phase) {
	s.Phase = PhaseSleep
	s.SleepFor = d
	s.AfterSleep = then
}

func (p Policy) rand() float64 {
	if p.Rand == nil {
		return 0
	}
	return p.Rand()
}
