#!/usr/bin/env bash
# bench.sh measures gluenet's decisions against the simulated region and
# prints the tables of docs/benchmarks.md as Markdown (issue 7):
#
#   machine   the machine the figures come from
#   cpu       pure CPU cost of one decision (go test -bench, no latency)
#   latency   decision latency and API calls, 20 ms per call, N = 2..200
#   throttle  30% of calls throttled: success rate and added latency
#   process   whole `gluenet plan` processes against `gluenet sim serve`:
#             wall time and peak RSS with /usr/bin/time -v
#
# Usage: scripts/bench.sh [section...]     (default: all, in that order)
# Environment:
#   BENCH_ARGS        extra flags for bench/cmd/benchtables (e.g. "-reps 5")
#   BENCH_CPU_TIME    -benchtime of the CPU benchmarks (default 2s)
#   BENCH_PROCESS_RUNS runs per process measurement (default 10)
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

# measure NAME CMD... runs CMD $runs times under /usr/bin/time -v and prints
# a table row: median wall time, median and max peak RSS.
measure() {
	local name=$1
	shift
	: >"$work/wall" && : >"$work/rss"
	for _ in $(seq "$runs"); do
		if ! /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
			echo "bench.sh: $name failed:" >&2
			cat "$work/stderr" "$work/time" >&2
			exit 1
		fi
		sed -n 's/.*Elapsed (wall clock) time.*: //p' "$work/time" | to_ms >>"$work/wall"
		sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time" >>"$work/rss"
	done
	printf '| %s | %d | %s ms | %s ms | %s MiB | %s MiB |\n' "$name" "$runs" \
		"$(median <"$work/wall")" "$(sort -n "$work/wall" | tail -1)" \
		"$(median <"$work/rss" | awk '{printf "%.1f", $1/1024}')" \
		"$(sort -n "$work/rss" | tail -1 | awk '{printf "%.1f", $1/1024}')"
}

sim_calls() {
	curl -fsS "$endpoint/_sim/stats" | grep -o '"calls":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

process() {
	[ -x /usr/bin/time ] || {
		echo "bench.sh: /usr/bin/time is missing: apt-get install -y time" >&2
		exit 1
	}
	go build -o "$work/gluenet" ./cmd/gluenet
	"$work/gluenet" sim serve --addr 127.0.0.1:0 --log-format json 2>"$work/sim.log" &
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
	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x XDG_STATE_HOME="$work/state"
	local conns=MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2
	local plan=("$work/gluenet" plan --job AirflowBlogJob --connections "$conns" --endpoint-url "$endpoint" --log-level warn)

	echo "### Whole process: gluenet plan against gluenet sim serve"
	echo
	echo "\`/usr/bin/time -v gluenet plan --job AirflowBlogJob --connections $conns --endpoint-url http://$addr\`, $runs runs each, binary built with \`go build\`, $(du -m "$work/gluenet" | cut -f1) MB."
	echo
	echo "| command | runs | median wall | max wall | median peak RSS | max peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|"
	measure "gluenet --help (start-up only)" "$work/gluenet" --help
	"${plan[@]}" >/dev/null 2>&1 # creates the state file, so every measured run opens an existing one
	local before
	before=$(sim_calls)
	measure "gluenet plan" "${plan[@]}"
	local plan_calls=$(($(sim_calls) - before))
	before=$(sim_calls)
	measure "gluenet plan --no-memory" "${plan[@]}" --no-memory
	local nomem_calls=$(($(sim_calls) - before))
	# The same decision when every call costs a round trip of 20 ms.
	curl -fsS -X POST -d '{"service":"*","latency":"20ms"}' "$endpoint/_sim/latency" >/dev/null
	measure "gluenet plan, 20 ms per API call" "${plan[@]}"
	curl -fsS -X POST -d '{"service":"*","latency":"0s"}' "$endpoint/_sim/latency" >/dev/null
	echo
	echo "API calls per process (the region's count): gluenet plan $((plan_calls / runs)), gluenet plan --no-memory $((nomem_calls / runs))."
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
