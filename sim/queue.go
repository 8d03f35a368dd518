package sim

import (
	"fmt"
	"time"
)

// Glue's job run queuing (JobRunQueuingEnabled on the job or on
// StartJobRun, generally available since August 2024), as the Glue guide's
// "AWS Glue job run statuses" page describes it: with queuing, a run that
// cannot start is WAITING instead of refused or failed, "due to service
// quotas for your account or capacity limits in your region", and its
// JobRun.StateDetail holds the reason ("when a job run is in a WAITING
// state as a result of job run queuing, the field has the reason why the
// job run is in that state", Glue API, JobRun). The region models two of
// the documented reasons:
//
//   - "Max concurrent job runs per job exceeded": the job's
//     MaxConcurrentRuns is reached (without queuing: ConcurrentRunsExceeded-
//     Exception);
//   - "Resource unavailable": no subnet of the run's connections has the
//     IPs Glue needs to start it (two for Spark, one for Python shell),
//     where without queuing the run fails after placement_failure_delay.
//
// The region models no account-wide quota, so the other two documented
// reasons ("Max concurrent job runs per account exceeded", "Max concurrent
// compute (DPU usage) exceeded") never occur.
//
// A WAITING run holds no IPs and no MaxConcurrentRuns slot. It keeps what it
// was submitted with: its sizing and the job's connection list at
// StartJobRun (an UpdateJob while it waits does not change where it goes).
// Queued runs start in submission order as soon as room appears: a run's
// end frees its slot, its ENIs' deletion after eni.linger frees its IPs, an
// AZ recovering or a higher MaxConcurrentRuns may also let runs start. A
// run that starts leaves WAITING for STARTING and its lifecycle (startup,
// duration, Timeout) counts from then.
//
// How long a run may wait: the statuses page says, for standard Spark jobs
// (and "Python shell jobs: Same behavior as standard jobs using Spark"):
// "The time AWS Glue will wait for resources may differ based on
// circumstances. A job may transition between non-terminal statuses as it
// attempts to acquire resources. Eventually, the job will transition to
// FAILED if it cannot acquire resources. AWS Glue will retry for a maximum
// of 15 minutes or 10 attempts, whichever comes first." So a run still
// WAITING glue.max_queue_wait (default 15m) after StartJobRun ends FAILED
// (see docs/sim-queuing.md). botocore's JobRunState enum also lists
// EXPIRED, which no AWS page found describes; the region does not use it.

// The documented WAITING reasons the region gives, as StateDetail.
const (
	waitJobConcurrency      = "Max concurrent job runs per job exceeded"
	waitResourceUnavailable = "Resource unavailable"
)

// startedRuns is the number of the job's runs that hold a MaxConcurrentRuns
// slot (j.live holds the runs not yet ended, WAITING ones included).
func (j *job) startedRuns() int {
	n := 0
	for _, x := range j.live {
		if !x.hidden && x.started() {
			n++
		}
	}
	return n
}

// enqueue puts a new run in Glue's queue: WAITING with the reason, until it
// starts (drainQueue) or waits glue.max_queue_wait.
func (r *Region) enqueue(ru *run, reason string) {
	ru.state = stateWaiting
	ru.stateDetail = reason
	ru.modifiedOn = r.now
	r.queue = append(r.queue, ru)
	r.log.Info("run queued", "run", ru.id, "job", ru.job, "reason", reason)
	wait := r.sc.Glue.MaxQueueWait.D()
	r.schedule(ru.startedOn.Add(wait), func() {
		if ru.state != stateWaiting {
			return
		}
		r.finishRun(ru, stateFailed, fmt.Sprintf(
			"Job run could not acquire resources within %s of waiting: %s", wait, ru.stateDetail))
	})
}

// drainQueue starts every queued run that can start now, in submission
// order, and drops from the queue the runs that are no longer WAITING
// (stopped, expired). It runs whenever room may have appeared.
func (r *Region) drainQueue() {
	r.queueDirty = false
	// Runs queued during the pass (Glue's own retry of a run that ends
	// here) join after the ones examined.
	q := r.queue
	r.queue = nil
	var kept []*run
	for _, ru := range q {
		if ru.state != stateWaiting {
			continue
		}
		j, ok := r.jobs[ru.job]
		if ru.hidden || !ok {
			// Its job was deleted while it waited.
			r.finishRun(ru, stateFailed, fmt.Sprintf("Job %s was deleted while the run was waiting", ru.job))
			continue
		}
		if j.startedRuns() >= j.spec.maxConcurrent {
			r.setWaitReason(ru, waitJobConcurrency)
			kept = append(kept, ru)
			continue
		}
		p := r.place(ru.launch.conns, ru.launch.minIPs)
		if p.short {
			r.setWaitReason(ru, waitResourceUnavailable)
			kept = append(kept, ru)
			continue
		}
		ru.state = stateStarting
		ru.stateDetail = ""
		ru.modifiedOn = r.now
		ru.dequeuedOn = r.now
		r.log.Info("queued run starts", "run", ru.id, "job", ru.job, "waited", r.now.Sub(ru.startedOn))
		r.launchRun(ru, p)
	}
	r.queue = append(kept, r.queue...)
}

func (r *Region) setWaitReason(ru *run, reason string) {
	if ru.stateDetail != reason {
		ru.stateDetail = reason
		ru.modifiedOn = r.now
	}
}

// underCapacityDuration is how long a run's code runs when it started with
// fewer workers than it asked for, by glue.under_capacity_slowdown
// (docs/sim-queuing.md): "proportional" scales d by requested/allocated
// workers, "none" keeps d.
func (r *Region) underCapacityDuration(ru *run, d time.Duration) time.Duration {
	got := len(ru.enis)
	if ru.subnetID == "" || got == 0 || got >= ru.ipsWanted {
		return d
	}
	switch r.sc.Glue.UnderCapacitySlowdown {
	case SlowdownProportional:
		return time.Duration(float64(d) * float64(ru.ipsWanted) / float64(got))
	}
	return d
}
