// Package sim is a simulated AWS Region for gluenet: one HTTP endpoint that
// speaks the real wire protocols of AWS Glue (JSON 1.1, X-Amz-Target
// AWSGlue.*), Amazon EC2 (query protocol, Action=...&Version=2016-11-15,
// through package sim/ec2query) and CloudWatch Logs (JSON 1.1,
// Logs_20140328.*), so that the real aws-sdk-go-v2 clients, the AWS CLI and
// boto3 talk to it unchanged through an endpoint URL. Tests, the demo and
// the strategy lab use it in-process through Region.HTTPClient and
// InProcessEndpoint; `gluenet sim serve` puts it on a loopback socket.
//
// Request signatures are accepted but not verified: any access key and
// secret work, and the region and service in the credential scope are
// ignored. Do not expose the endpoint beyond loopback.
//
// # What it models
//
// It models what decides whether a Glue run gets its subnet:
//
//   - A VPC with subnets. Free IPs = addresses in the CIDR − 5 reserved by
//     AWS − IPs held by ENIs; every ENI holds real addresses of its subnet.
//   - ENIs created through EC2's CreateNetworkInterface (anyone can use up
//     IPs with the standard API), background ENIs of other workloads
//     (scenario or Exhaust), and the ENIs of Glue runs.
//   - Glue's choice at StartJobRun: the first connection of the job, in its
//     order, whose subnet exists, whose AZ passes the health check and which
//     has at least two free IPs. The run takes min(workers, free) IPs; fewer
//     than asked is an under-capacity start, said in its output log, and
//     its work lasts longer (glue.under_capacity_slowdown). If no
//     connection qualifies the run fails quickly with Glue's message.
//   - Glue's job run queuing (JobRunQueuingEnabled on the job or the run,
//     or glue.job_run_queuing): a run that cannot start is WAITING with
//     the documented StateDetail, holds no IPs, starts in submission order
//     when room appears and fails after glue.max_queue_wait (queue.go,
//     docs/sim-queuing.md).
//   - ENI lag: a run's ENIs show in DescribeSubnets a scenario-set time after
//     the start; until then EC2 reports the old count while Glue's own
//     placement already sees the IPs taken. Linger: IPs come back a set time
//     after the run ends.
//   - Runs go STARTING → RUNNING → SUCCEEDED | FAILED | TIMEOUT, or STOPPING
//     → STOPPED, with durations from the scenario; the job's Timeout and
//     MaxConcurrentRuns are honoured; an optional failure rate makes the
//     job's own code fail (not network related).
//   - Faults: per AZ down (Glue skips it) or degraded (runs there fail after
//     a delay); per subnet IP exhaustion; per service throttling, 5xx errors
//     and latency. DescribeAvailabilityZones reports every zone "available"
//     whatever its simulated health, as EC2 did during real AZ incidents.
//   - Logs: each run writes /aws-glue/jobs/output/<run id> with the driver
//     line of the post's script ("The driver node has been assigned the ip:
//     10.192.20.37 which belongs to the subnet: PrivateSubnet1"), and failed
//     runs say why in /aws-glue/jobs/error/<run id>.
//
// State is computed lazily from an injected Clock: every request first
// applies all scheduled events up to the clock's time, in time order. The
// same model runs on a scaled wall clock (sim serve) and on a ManualClock
// (tests, lab). Every random choice comes from PCG streams seeded from the
// scenario's seed, so a seed and a sequence of calls give the same results.
//
// # Control API
//
// Plain JSON under /_sim/ on the same endpoint. Errors are
// {"error": "..."} with status 400 (bad input), 404 (unknown path) or 405
// (wrong method); successful POSTs answer {"ok": true}. Control calls are
// neither counted in Stats nor subject to faults.
//
//	Method  Path               Body                                          Does
//	GET     /_sim/state        -                                             snapshot: time, AZ states, subnets (free_ips actual
//	                                                                         and reported_free_ips as EC2 says), runs, faults
//	POST    /_sim/az           {"az":"us-east-1a","state":"down"}            AZ health: healthy, down or degraded
//	POST    /_sim/throttle     {"service":"glue","rate":0.3}                 throttle a share of calls (glue, ec2, logs or *)
//	POST    /_sim/errors       {"service":"ec2","rate":0.1}                  answer a share of calls with HTTP 500
//	POST    /_sim/latency      {"service":"*","latency":"20ms"}              add wall-clock latency to every call
//	POST    /_sim/exhaust      {"subnet_id":"subnet-...","leave_free":3}     background ENIs so that leave_free IPs stay free
//	POST    /_sim/reset        -                                             undo every fault in force: zones healthy, no throttle,
//	                                                                         errors or latency, background ENIs as the scenario's;
//	                                                                         answers {"ok":true,"undone":["zone us-east-1a down -> healthy",...]}
//	GET     /_sim/stats        -                                             calls per service and operation, throttled, errors
//	POST    /_sim/stats/reset  -                                             set the counters back to zero
//
// A rate or latency of 0 turns the fault off. ControlClient calls these
// endpoints from Go.
//
// # Scenarios
//
// A Scenario is YAML, decoded strictly (an unknown key is an error with its
// line). The built-in "default" reproduces the setup of the AWS post on
// which gluenet is based; scenarios/default.yaml documents every field.
package sim
