package gluenet

import (
	"context"
	"time"
)

// LogLine is one log event of a Glue run (CloudWatch Logs).
type LogLine struct {
	Group   string    `json:"group"`
	Stream  string    `json:"stream"`
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	EventID string    `json:"event_id"`
}

// LogPoller tails a run's logs: each Poll returns the events not returned
// before, oldest first, and never waits for new ones.
type LogPoller interface {
	Poll(ctx context.Context) ([]LogLine, error)
}
