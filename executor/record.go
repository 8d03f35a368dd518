package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/strategy"
)

// recordVersion is the version of the state record written to the journal.
// A reader refuses a record newer than it knows, rather than misread it.
const recordVersion = 1

// Spec is what a run was asked to do: everything a later process needs to
// go on with the run from its key alone (`gluenet resume --run-key K`).
type Spec struct {
	Job         string   `json:"job"`
	Connections []string `json:"connections"`
	Strategy    string   `json:"strategy"`
	// NeedIPs overrides the IPs a run needs (0: from the job definition).
	NeedIPs      int                `json:"need_ips,omitempty"`
	MinIPs       int                `json:"min_ips"`
	PreferAZ     []string           `json:"prefer_az,omitempty"`
	Policy       policy.Config      `json:"policy"`
	Classify     classify.Options   `json:"classify"`
	PollInterval time.Duration      `json:"poll_interval"`
	Start        gluenet.StartInput `json:"start"`
	// Admission says whether and how long an attempt waits for room
	// before it starts (zero: it never waits, as runs recorded before
	// admission existed).
	Admission admit.Config `json:"admission,omitzero"`
}

// Validate says what is wrong with the spec, in words for the user: the
// one set of rules every driver (the CLI, the lab) checks a run against
// before anything starts.
func (s Spec) Validate() error {
	if strings.TrimSpace(s.Job) == "" {
		return errors.New("no job: name the Glue job to run (--job)")
	}
	if len(s.Connections) == 0 {
		return errors.New("no connections: give the job's candidate connections (--connections a,b)")
	}
	seen := make(map[string]bool, len(s.Connections))
	for _, c := range s.Connections {
		if err := gluenet.ValidateConnectionName(c); err != nil {
			return err
		}
		if seen[c] {
			return fmt.Errorf("connection %q is listed twice: list each connection once", c)
		}
		seen[c] = true
	}
	if _, err := strategy.Lookup(s.Strategy); err != nil {
		return err
	}
	if s.Strategy == "prefer-az" && len(s.PreferAZ) == 0 {
		return errors.New("strategy prefer-az needs the zones to prefer: add --prefer-az us-east-1a[,us-east-1b] (or prefer_az: in the config file, or in the lab scenario)")
	}
	switch {
	case s.MinIPs < 1:
		return fmt.Errorf("--min-ips must be at least 1, got %d", s.MinIPs)
	case s.NeedIPs < 0:
		return fmt.Errorf("--need-ips must not be negative, got %d", s.NeedIPs)
	case s.PollInterval <= 0:
		return fmt.Errorf("--poll-interval must be positive, got %s", s.PollInterval)
	}
	if err := s.Policy.Validate(); err != nil {
		return fmt.Errorf("retry policy: %w", err)
	}
	return s.Admission.Validate()
}

// record is the executor's durable state of one run (store.RunState.Data):
// its own versioned type, not the CLI's output types, so that nothing the
// output hides (a candidate's reported free IPs, whether it was checked) is
// lost between processes.
type record struct {
	V           int             `json:"v"`
	Spec        Spec            `json:"spec"`
	Phase       string          `json:"phase"`
	SleepUntil  time.Time       `json:"sleep_until,omitzero"`
	AfterSleep  string          `json:"after_sleep,omitempty"`
	Interrupted bool            `json:"interrupted,omitempty"`
	Result      policy.Result   `json:"result,omitempty"`
	Err         string          `json:"error,omitempty"`
	ErrClass    classify.Class  `json:"error_class,omitempty"`
	Lost        int             `json:"lost_attempts,omitempty"`
	Attempts    []attemptRecord `json:"attempts"`
}

type attemptRecord struct {
	Number       int            `json:"number"`
	Plan         *planRecord    `json:"plan,omitempty"`
	StartRetries int            `json:"start_retries,omitempty"`
	RunID        string         `json:"run_id,omitempty"`
	State        string         `json:"state,omitempty"`
	ErrorMessage string         `json:"error_message,omitempty"`
	Class        classify.Class `json:"class,omitempty"`
	Stopping     bool           `json:"stopping,omitempty"`
	// Seed is this attempt's random draw: every ranking of the attempt
	// uses it, so a re-rank changes the order only where facts changed.
	Seed uint64 `json:"seed,omitempty"`
	// StartingAt is set, durably, before UpdateJob and StartJobRun: from
	// then on a run with Marker may exist.
	StartingAt time.Time `json:"starting_at,omitzero"`
	Marker     string    `json:"marker,omitempty"`
	// Order is the connection order written into the job for this run.
	Order []string `json:"order,omitempty"`
	// Reservation is the id of the IPs reserved for this attempt.
	Reservation string `json:"reservation,omitempty"`
	// Verified is true once the run is known to carry Marker.
	Verified bool `json:"verified,omitempty"`
	// UnreadableSince is when GetJobRun began failing, zero when it works.
	UnreadableSince time.Time `json:"unreadable_since,omitzero"`
	// Why says why the last wait of the attempt happened, for logs and
	// status.
	Why string `json:"why,omitempty"`
	// AdmitSince is when the attempt began waiting for room, AdmitUntil
	// when that wait runs out, AdmittedAt when it ended (room appeared,
	// or the wait ran out); Admitted is set once it ran out (the attempt
	// then starts without room, or fails).
	AdmitSince time.Time `json:"admit_since,omitzero"`
	AdmitUntil time.Time `json:"admit_until,omitzero"`
	AdmittedAt time.Time `json:"admitted_at,omitzero"`
	// RoomCheckAt is when a wait for room looks again.
	RoomCheckAt time.Time `json:"room_check_at,omitzero"`
	// Forecast is the prediction made when the wait began.
	Forecast admit.Forecast `json:"forecast,omitzero"`
	Admitted bool           `json:"admitted,omitempty"`
}

type planRecord struct {
	Strategy   string            `json:"strategy"`
	Need       gluenet.Need      `json:"need"`
	Placements []placementRecord `json:"placements"`
	Notes      []string          `json:"notes,omitempty"`
	Others     []string          `json:"others,omitempty"`
	// UnderCapacity is set on a plan that started short.
	UnderCapacity *gluenet.UnderCapacity `json:"under_capacity,omitempty"`
}

type placementRecord struct {
	gluenet.Placement
	// ReportedFree and Checked are the candidate's discovery facts, which
	// gluenet.Candidate keeps out of its JSON.
	ReportedFree int  `json:"reported_free_ips"`
	Checked      bool `json:"checked"`
}

func planToRecord(p *gluenet.Plan) *planRecord {
	if p == nil {
		return nil
	}
	r := &planRecord{Strategy: p.Strategy, Need: p.Need, Notes: p.Notes, Others: p.Others, UnderCapacity: p.UnderCapacity}
	for _, pl := range p.Placements {
		r.Placements = append(r.Placements, placementRecord{Placement: pl, ReportedFree: pl.FreeIPs, Checked: pl.Checked})
	}
	return r
}

func (r *planRecord) plan() *gluenet.Plan {
	if r == nil {
		return nil
	}
	p := &gluenet.Plan{Strategy: r.Strategy, Need: r.Need, Notes: r.Notes, Others: r.Others, UnderCapacity: r.UnderCapacity}
	for _, pr := range r.Placements {
		pl := pr.Placement
		pl.FreeIPs, pl.Checked = pr.ReportedFree, pr.Checked
		p.Placements = append(p.Placements, pl)
	}
	return p
}

var phaseNames = map[policy.Phase]string{policy.PhaseDiscover: "discover", policy.PhaseStart: "start", policy.PhaseWait: "wait",
	policy.PhaseSleep: "sleep", policy.PhaseDone: "done"}

func phaseOf(name string) (policy.Phase, error) {
	for p, n := range phaseNames {
		if n == name {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown phase %q", name)
}

func decodeRecord(data []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode run state: %w", err)
	}
	if r.V < 1 || r.V > recordVersion {
		return nil, fmt.Errorf("run state has version %d; this gluenet reads version %d: use the gluenet that wrote it, or a newer one", r.V, recordVersion)
	}
	return &r, nil
}

// state is the record as the policy sees it at now.
func (r *record) state(now time.Time) (policy.State, error) {
	ph, err := phaseOf(r.Phase)
	if err != nil {
		return policy.State{}, err
	}
	s := policy.State{Phase: ph, Interrupted: r.Interrupted, Result: r.Result, Err: r.Err}
	if ph == policy.PhaseSleep {
		if s.AfterSleep, err = phaseOf(r.AfterSleep); err != nil {
			return policy.State{}, err
		}
		s.SleepFor = max(0, r.SleepUntil.Sub(now))
	}
	for _, a := range r.Attempts {
		s.Attempts = append(s.Attempts, policy.Attempt{Number: a.Number, Plan: a.Plan.plan(), StartRetries: a.StartRetries, RunID: a.RunID,
			State: a.State, ErrorMessage: a.ErrorMessage, Class: a.Class, Stopping: a.Stopping})
	}
	return s, nil
}

// absorb writes the policy's state back into the record, keeping what the
// executor knows about each attempt beyond the policy.
func (r *record) absorb(s policy.State, now time.Time) {
	wasSleeping := r.Phase == phaseNames[policy.PhaseSleep]
	r.Phase = phaseNames[s.Phase]
	r.Interrupted, r.Result, r.Err = s.Interrupted, s.Result, s.Err
	if s.Phase == policy.PhaseSleep {
		r.AfterSleep = phaseNames[s.AfterSleep]
		if !wasSleeping || r.SleepUntil.IsZero() {
			r.SleepUntil = now.Add(s.SleepFor)
		}
	} else {
		r.AfterSleep, r.SleepUntil = "", time.Time{}
	}
	old := r.Attempts
	r.Attempts = make([]attemptRecord, len(s.Attempts))
	for i, a := range s.Attempts {
		var ar attemptRecord
		if i < len(old) && old[i].Number == a.Number {
			ar = old[i]
		}
		ar.Number, ar.Plan, ar.StartRetries, ar.RunID = a.Number, planToRecord(a.Plan), a.StartRetries, a.RunID
		ar.State, ar.ErrorMessage, ar.Class, ar.Stopping = a.State, a.ErrorMessage, a.Class, a.Stopping
		r.Attempts[i] = ar
	}
}

func (r *record) current() *attemptRecord {
	if len(r.Attempts) == 0 {
		return nil
	}
	return &r.Attempts[len(r.Attempts)-1]
}
