#!/usr/bin/env bash
# bench.sh measures gluenet's decisions against the simulated region and
# prints the tables of docs/benchmarks.md as Markdown (issue 7):
#
#   machine   the machine the figures come from
#   cpu       pure CPU cost of one decision (go test -bench, no latency)
#   latency   decision latency and API calls, 20 ms per call, N = 2..200
#   throttle  30% of calls throttled: success rate and added latency
#   process   whole `gluenet plan` processes against `gluenet sim serve`:
#             binary size, start-up, wall time and peak RSS with
#             /usr/bin/time -v, and the whole-process decision latency at
#             N = 2..200, cold and warm, beside the post's code
#             (scripts/bench_process.py; python3 with boto3)
#
# Usage: scripts/bench.sh [section...]     (default: all, in that order)
# Environment:
#   BENCH_ARGS        extra flags for bench/cmd/benchtables (e.g. "-reps 5")
#   BENCH_CPU_TIME    -benchtime of the CPU benchmarks (default 2s)
#   BENCH_PROCESS_RUNS runs per process measurement (default 10)
#   BENCH_BINARY      measure this gluenet binary instead of building ./cmd/gluenet
#   BENCH_PROCESS_NS  connection counts of the whole-process table (default 2,10,50,200)
#
# The latency and throttle sections sleep for real (injected latency, the
# SDK's backoff) and take about 15 minutes together; the rest a few.
set -euo pipefail

cd "$(dirname "$0")/.."
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(machine cpu latency throttle process)
runs=${BENCH_PROCESS_RUNS:-10}

work=$(mktemp -d)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

machine() {
	echo "## Machine"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPUs (nproc): $(nproc)"
	echo "- CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
	echo "- memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "- Go: $(go version)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared with other work)"
	echo
}

# cpu runs the no-latency benchmarks and turns their lines into a table.
cpu() {
	echo "### CPU cost per decision (no injected latency)"
	echo
	echo "\`go test ./bench -run '^\$' -bench BenchmarkDecisionCPU -benchmem -benchtime ${BENCH_CPU_TIME:-2s}\`"
	echo
	echo "| N | variant | wall µs/op | CPU µs/op | calls/op | B/op | allocs/op |"
	echo "|---:|---|---:|---:|---:|---:|---:|"
	go test ./bench -run '^$' -bench BenchmarkDecisionCPU -benchmem -benchtime "${BENCH_CPU_TIME:-2s}" |
		awk '/^BenchmarkDecisionCPU\// {
			split($1, p, "/"); n = substr(p[2], 3); v = p[3]; sub(/-[0-9]+$/, "", v)
			for (i = 3; i < NF; i++) m[$(i+1)] = $i
			printf "| %s | %s | %.0f | %.0f | %g | %d | %d |\n", n, v, m["ns/op"]/1000, m["cpu-ns/op"]/1000,
				m["calls/op"], m["B/op"], m["allocs/op"]
		}'
	echo
}

latency() {
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	go run ./bench/cmd/benchtables -sections latency ${BENCH_ARGS:-}
}

throttle() {
	# shellcheck disable=SC2086
	go run ./bench/cmd/benchtables -sections throttle ${BENCH_ARGS:-}
}

# to_ms turns /usr/bin/time's "h:mm:ss" or "m:ss.ss" into milliseconds.
to_ms() {
	awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.0f\n", s * 1000 }'
}

# median of numbers, one a line (the lower middle for an even count).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# run_once LABEL CMD... runs CMD once under /usr/bin/time -v and appends its
# wall time (ms) and peak RSS (KiB) to $work/LABEL.wall and $work/LABEL.rss.
run_once() {
	local label=$1
	shift
	if ! /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
		echo "bench.sh: $label failed:" >&2
		cat "$work/stderr" "$work/time" >&2
		exit 1
	fi
	sed -n 's/.*Elapsed (wall clock) time.*: //p' "$work/time" | to_ms >>"$work/$label.wall"
	sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time" >>"$work/$label.rss"
}

# row LABEL NAME prints the table row of LABEL's runs: median and max wall
# time, median and max peak RSS.
row() {
	local label=$1 name=$2
	printf '| %s | %d | %s ms | %s ms | %s MiB | %s MiB |\n' "$name" "$(wc -l <"$work/$label.wall")" \
		"$(median <"$work/$label.wall")" "$(sort -n "$work/$label.wall" | tail -1)" \
		"$(median <"$work/$label.rss" | awk '{printf "%.1f", $1/1024}')" \
		"$(sort -n "$work/$label.rss" | tail -1 | awk '{printf "%.1f", $1/1024}')"
}

set_latency() {
	curl -fsS -X POST -d "{\"service\":\"*\",\"latency\":\"$1\"}" "$endpoint/_sim/latency" >/dev/null
}

sim_calls() {
	curl -fsS "$endpoint/_sim/stats" | grep -o '"calls":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

# ms_loop RUNS CMD... prints the median and fastest wall time (0.1 ms) of
# RUNS runs of CMD, timed by Python around the exec (posix_spawn) and exit.
ms_loop() {
	python3 - "$@" <<'PY'
import statistics, subprocess, sys, time
runs, args = int(sys.argv[1]), sys.argv[2:]
t = []
for _ in range(runs):
    s = time.perf_counter()
    if subprocess.call(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False) != 0:
        sys.exit("bench.sh: %s failed" % " ".join(args))
    t.append((time.perf_counter() - s) * 1000)
print("median %.1f ms, fastest %.1f ms" % (statistics.median(t), min(t)))
PY
}

process() {
	[ -x /usr/bin/time ] || {
		echo "bench.sh: /usr/bin/time is missing: apt-get install -y time" >&2
		exit 1
	}
	if [ -n "${BENCH_BINARY:-}" ]; then
		cp "$BENCH_BINARY" "$work/gluenet"
	else
		go build -o "$work/gluenet" ./cmd/gluenet
	fi
	# The region of the in-process benchmarks (bench.ScenarioYAML), served
	# over loopback: 200 connections, each in its own /24.
	go run ./bench/cmd/benchtables -scenario-yaml 200 >"$work/scenario.yaml"
	"$work/gluenet" sim serve --addr 127.0.0.1:0 --scenario "$work/scenario.yaml" --log-format json 2>"$work/sim.log" &
	server_pid=$!
	local addr=""
	for _ in $(seq 100); do
		addr=$(sed -n 's/.*"msg":"simulated region listening","addr":"\([^"]*\)".*/\1/p' "$work/sim.log")
		[ -n "$addr" ] && break
		sleep 0.1
	done
	[ -n "$addr" ] || {
		echo "bench.sh: the simulated region did not start:" >&2
		cat "$work/sim.log" >&2
		exit 1
	}
	endpoint="http://$addr"
	mkdir -p "$work/state"
	# AWS_CA_BUNDLE is unset: the endpoint is plain HTTP, and parsing a
	# system-wide bundle (as this machine's environment sets) would add
	# its own milliseconds and MiB to every process, gluenet's and boto3's.
	unset AWS_CA_BUNDLE
	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x XDG_STATE_HOME="$work/state"
	local conns=bench-conn-000,bench-conn-001
	local plan=("$work/gluenet" plan --job BenchJob --connections "$conns" --endpoint-url "$endpoint" --log-level warn)

	echo "### Whole process: footprint"
	echo
	echo "Binary: $(stat -c %s "$work/gluenet" | awk '{printf "%.1f MB (%d bytes)", $1/1e6, $1}')${BENCH_BINARY:+, $BENCH_BINARY}."
	echo "Start-up, $((runs * 2)) runs of \`gluenet --help\`: $(ms_loop $((runs * 2)) "$work/gluenet" --help)."
	echo
	echo "\`/usr/bin/time -v gluenet plan --job BenchJob --connections $conns --endpoint-url http://$addr\`, $runs runs each."
	echo
	echo "| command | runs | median wall | max wall | median peak RSS | max peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|"
	# creates the state file, so every measured run opens an existing one
	"${plan[@]}" >/dev/null 2>"$work/stderr" || {
		echo "bench.sh: gluenet plan failed:" >&2
		cat "$work/stderr" >&2
		exit 1
	}
	# The variants take turns, so that a burst of other work on the
	# machine falls on all of them rather than on one.
	for _ in $(seq "$runs"); do
		run_once help "$work/gluenet" --help
		run_once plan "${plan[@]}"
		run_once nomem "${plan[@]}" --no-memory
		set_latency 20ms
		run_once plan20 "${plan[@]}"
		set_latency 0s
	done
	row help "gluenet --help (start-up only)"
	row plan "gluenet plan"
	row nomem "gluenet plan --no-memory"
	row plan20 "gluenet plan, 20 ms per API call"
	local before plan_calls
	before=$(sim_calls)
	"${plan[@]}" >/dev/null 2>&1
	plan_calls=$(($(sim_calls) - before))
	echo
	echo "API calls per \`gluenet plan\` process (the region's count): $plan_calls."
	echo
	echo "### Whole process against the post's code, 20 ms per API call"
	echo
	echo "\`python3 scripts/bench_process.py --gluenet gluenet --floor sdkfloor --endpoint http://$addr --ns ${BENCH_PROCESS_NS:-2,10,50,200} --reps $runs\`"
	echo "(gluenet: whole processes, exec to exit; the post: its decision code with boto3, timed in-process; the bare SDK:"
	echo "bench/cmd/sdkfloor, a Go process that makes the same calls with the SDK and nothing else: see the script)."
	echo
	python3 -c 'import boto3' 2>/dev/null || {
		echo "bench.sh: the comparison with the post's code needs python3 with boto3 (pip install boto3)" >&2
		exit 1
	}
	set_latency 20ms
	go build -o "$work/sdkfloor" ./bench/cmd/sdkfloor
	python3 scripts/bench_process.py --gluenet "$work/gluenet" --floor "$work/sdkfloor" --endpoint "$endpoint" \
		--ns "${BENCH_PROCESS_NS:-2,10,50,200}" --reps "$runs" 2>"$work/process.log" || {
		cat "$work/process.log" >&2
		exit 1
	}
	set_latency 0s
	echo
	echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
}

for s in "${sections[@]}"; do
	case $s in
	machine | cpu | latency | throttle | process) "$s" ;;
	*)
		echo "bench.sh: unknown section $s (machine, cpu, latency, throttle, process)" >&2
		exit 2
		;;
	esac
done
