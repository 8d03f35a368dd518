package executor

import (
	"encoding/json"
	"time"

	"github.com/gluenet/gluenet/policy"
)

// specJSON is Spec as JSON: the same keys, with poll_interval as a string
// such as "10s" (and read from nanoseconds too, the older shape).
type specJSON struct {
	specFields
	PollInterval policy.Duration `json:"poll_interval"`
}

// specFields is Spec without its methods, so that specJSON's encoding does
// not call Spec's again.
type specFields Spec

// MarshalJSON writes the spec with poll_interval as a duration string.
func (s Spec) MarshalJSON() ([]byte, error) {
	return json.Marshal(specJSON{specFields: specFields(s), PollInterval: policy.Duration(s.PollInterval)})
}

// UnmarshalJSON reads what MarshalJSON writes, and specs recorded by
// earlier builds (poll_interval in nanoseconds, the policy in Go's names).
func (s *Spec) UnmarshalJSON(b []byte) error {
	var j specJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Spec(j.specFields)
	s.PollInterval = time.Duration(j.PollInterval)
	return nil
}

// CurrentInputs rewrites a run's recorded inputs (store.Run.Inputs, a
// Spec) in today's JSON shape: runs recorded by earlier builds carry the
// policy in Go's field names and durations in nanoseconds. Inputs that are
// not a spec are returned as they are.
func CurrentInputs(in json.RawMessage) json.RawMessage {
	var sp Spec
	if len(in) == 0 || json.Unmarshal(in, &sp) != nil {
		return in
	}
	out, err := json.Marshal(sp)
	if err != nil {
		return in
	}
	return out
}
