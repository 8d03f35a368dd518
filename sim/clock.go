package sim

import (
	"sync"
	"time"
)

// Clock tells the simulated time. The region reads it on every request and
// applies every scheduled event up to that instant, so the same model runs on
// a scaled wall clock (sim serve) and on a manual virtual clock (tests, lab).
type Clock interface {
	Now() time.Time
}

type scaledClock struct {
	start time.Time
	wall0 time.Time
	scale float64
	wall  func() time.Time
}

// NewScaledClock returns a clock whose time is start plus the wall time
// elapsed since the call, multiplied by scale: with scale 60 one wall second
// is one simulated minute. A nil wall uses time.Now; a scale <= 0 is 1.
func NewScaledClock(start time.Time, scale float64, wall func() time.Time) Clock {
	if wall == nil {
		wall = time.Now
	}
	if scale <= 0 {
		scale = 1
	}
	return &scaledClock{start: start, wall0: wall(), scale: scale, wall: wall}
}

func (c *scaledClock) Now() time.Time {
	elapsed := c.wall().Sub(c.wall0)
	return c.start.Add(time.Duration(float64(elapsed) * c.scale))
}

// ManualClock is a clock that moves only when told to. It is safe for
// concurrent use. The zero value starts at the zero time; use
// NewManualClock for a useful start.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a manual clock set to start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d. A negative d is ignored: simulated
// time never goes back.
func (c *ManualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t. The region never applies time backwards: if t is
// before the last time it saw, it keeps the later time.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
