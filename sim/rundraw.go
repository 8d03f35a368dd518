package sim

import (
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// RunIDArgument is a job run argument that names the unit of work a run
// does. Runs that carry the same value for the same job (a run and its
// retries, or the same fleet run under two strategies) last the same
// (Duration plus the same draw of DurationJitter), whatever was started
// before them. Without it, each run's duration is drawn from the region's
// model stream in the order runs start, so a strategy that starts runs in
// another order gives them other durations. The lab sets it so that its
// bound knows every run's length; real Glue ignores unknown arguments of
// a job's script, and so does the region apart from this draw.
const RunIDArgument = "--sim-run-id"

// RunJitter is the draw in [0, 1) that sets the duration of the job's
// runs with run id id in a region with this seed: the run's code lasts
// Duration + (2u−1)·DurationJitter.
func RunJitter(seed int64, job, id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64())).Float64()
}

// CodeDuration is how long a run's code lasts at full capacity for the
// draw u in [0, 1): Duration + (2u−1)·DurationJitter, at least a second.
func (p RunProfile) CodeDuration(u float64) time.Duration {
	d := p.Duration.D() + time.Duration((2*u-1)*float64(p.DurationJitter.D()))
	return max(d, time.Second)
}
