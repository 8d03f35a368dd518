package classify

import (
	"encoding/json"
	"fmt"
)

// optionsJSON is Options as JSON, snake_case like gluenet's other JSON.
type optionsJSON struct {
	RetryJobFailures bool `json:"retry_job_failures"`
}

// MarshalJSON writes o with snake_case keys.
func (o Options) MarshalJSON() ([]byte, error) {
	return json.Marshal(optionsJSON(o))
}

// UnmarshalJSON reads what MarshalJSON writes, and the older shape with
// Go's field name ("RetryJobFailures") that runs recorded by earlier builds
// carry.
func (o *Options) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("classify options: %w", err)
	}
	raw, ok := keys["retry_job_failures"]
	if !ok {
		raw, ok = keys["RetryJobFailures"]
	}
	*o = Options{}
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, &o.RetryJobFailures); err != nil {
		return fmt.Errorf("classify options: retry_job_failures: %w", err)
	}
	return nil
}
