package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// TestConfigJSON: the policy's JSON is snake_case with durations as
// strings; the older shape (Go names, nanoseconds) and bad durations are
// read or refused as documented.
func TestConfigJSON(t *testing.T) {
	c := DefaultConfig()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"max_attempts":3,"initial_delay":"30s","multiplier":2,"max_delay":"10m0s","jitter":0.2,"max_start_retries":5,"stop_on_interrupt":true}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	tests := []struct {
		name, in string
		want     Config
		err      bool
	}{
		{"current", want, c, false},
		{"legacy", `{"MaxAttempts":3,"InitialDelay":30000000000,"Multiplier":2,"MaxDelay":600000000000,"Jitter":0.2,"MaxStartRetries":5,"StopOnInterrupt":true}`, c, false},
		{"nanoseconds under the new keys", `{"max_attempts":2,"initial_delay":1000000000}`, Config{MaxAttempts: 2, InitialDelay: time.Second}, false},
		{"bad duration", `{"max_attempts":2,"initial_delay":"soon"}`, Config{}, true},
		{"not an object", `[1]`, Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Config
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !tt.err && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
