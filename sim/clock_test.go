package sim

import (
	"testing"
	"time"
)

func TestScaledClock(t *testing.T) {
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := wall
	c := NewScaledClock(t0, 200, func() time.Time { return now })
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("at creation: %v, want %v", got, t0)
	}
	now = wall.Add(3 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("after 3s of wall time at scale 200: %v, want +10m", got.Sub(t0))
	}
	if got := NewScaledClock(t0, 0, func() time.Time { return now }).Now(); !got.Equal(t0) {
		t.Errorf("scale 0 should mean 1: %v", got)
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	c.Advance(time.Minute)
	c.Advance(-time.Hour) // ignored
	if got := c.Now(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("Now = %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: %v", got)
	}
}

// The region never goes back in time, even when its clock does.
func TestRegionTimeIsMonotonic(t *testing.T) {
	c := NewManualClock(t0)
	r, err := New(defaultScenario(t), WithClock(c))
	mustOK(t, err)
	c.Set(t0.Add(time.Hour))
	if got := r.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Now = %v", got)
	}
	c.Set(t0)
	if got := r.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("after the clock went back: %v, want it to stay at +1h", got.Sub(t0))
	}
	if !r.Start().Equal(t0) {
		t.Errorf("Start = %v", r.Start())
	}
}
