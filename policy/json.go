package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// configJSON is Config as JSON: snake_case keys and durations as strings
// ("30s", "10m0s"), the way gluenet's other JSON speaks.
type configJSON struct {
	MaxAttempts     int      `json:"max_attempts"`
	InitialDelay    Duration `json:"initial_delay"`
	Multiplier      float64  `json:"multiplier"`
	MaxDelay        Duration `json:"max_delay"`
	Jitter          float64  `json:"jitter"`
	MaxStartRetries int      `json:"max_start_retries"`
	StopOnInterrupt bool     `json:"stop_on_interrupt"`
}

// legacyConfigJSON is the shape Config had before it had JSON tags: Go's
// field names and durations in nanoseconds. Runs recorded then carry it.
type legacyConfigJSON struct {
	MaxAttempts     *int
	InitialDelay    Duration
	Multiplier      float64
	MaxDelay        Duration
	Jitter          float64
	MaxStartRetries int
	StopOnInterrupt bool
}

// MarshalJSON writes c with snake_case keys and durations as strings.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		MaxAttempts: c.MaxAttempts, InitialDelay: Duration(c.InitialDelay), Multiplier: c.Multiplier,
		MaxDelay: Duration(c.MaxDelay), Jitter: c.Jitter, MaxStartRetries: c.MaxStartRetries, StopOnInterrupt: c.StopOnInterrupt,
	})
}

// UnmarshalJSON reads what MarshalJSON writes, and the older shape with
// Go's field names and durations in nanoseconds that runs recorded by
// earlier builds carry.
func (c *Config) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if _, legacy := keys["MaxAttempts"]; legacy {
		var l legacyConfigJSON
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("policy (recorded by an earlier gluenet): %w", err)
		}
		*c = Config{InitialDelay: time.Duration(l.InitialDelay), Multiplier: l.Multiplier, MaxDelay: time.Duration(l.MaxDelay),
			Jitter: l.Jitter, MaxStartRetries: l.MaxStartRetries, StopOnInterrupt: l.StopOnInterrupt}
		if l.MaxAttempts != nil {
			c.MaxAttempts = *l.MaxAttempts
		}
		return nil
	}
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	*c = Config{MaxAttempts: j.MaxAttempts, InitialDelay: time.Duration(j.InitialDelay), Multiplier: j.Multiplier,
		MaxDelay: time.Duration(j.MaxDelay), Jitter: j.Jitter, MaxStartRetries: j.MaxStartRetries, StopOnInterrupt: j.StopOnInterrupt}
	return nil
}

// Duration is a time.Duration written to JSON as a string such as "30s"
// (time.Duration.String), and read from such a string or from a number of
// nanoseconds (the older shape).
type Duration time.Duration

// MarshalJSON writes d as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string ("30s") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string such as \"30s\" or nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}
