#!/usr/bin/env bash
# behaviour_table.sh OLD NEW: the outside behaviour of gluenet at two git
# revisions, side by side. It builds the binary at each revision, runs the
# same fixed list of commands against a fresh simulated region (`gluenet sim
# serve`, the binary's own) with a fresh state file, and prints a markdown
# table: command | exit old | exit new | stdout same? | stderr same?
#
# stdout is compared after normalising what differs from run to run: Glue
# run ids, request ids, timestamps, durations and ages, ports, temp paths,
# the time and random part of generated run keys. JSON is compared as data (key order
# ignored). "same" / "differs" / "-" (both empty). stderr (the message a
# user reads, logs included) is compared the same way, line by line. With -v
# the diff of each differing row follows the table.
#
#   scripts/behaviour_table.sh                 # 925b3cb against HEAD
#   scripts/behaviour_table.sh -v 925b3cb HEAD
#
# Needs go, python3, git. Takes about a minute per revision (builds included).
set -euo pipefail

verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi
OLD=${1:-925b3cb}
NEW=${2:-HEAD}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d /tmp/gluenet-behaviour.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

build() { # build REV DIR
	mkdir -p "$2/src"
	git -C "$repo" archive "$1" | tar -x -C "$2/src"
	(cd "$2/src" && CGO_ENABLED=${CGO_ENABLED:-1} go build -o "$2/gluenet" ./cmd/gluenet)
}

# The fixed list: a name, then the arguments (after `gluenet`). $CFG_* are
# config files written below. A leading @airflow runs the command in an
# Airflow task's environment (AIRFLOW_CTX_*), @mapped in that of mapped
# instance 3 of the same task (GLUENET_AIRFLOW_MAP_INDEX=3 too), @wait5 runs it 5 seconds
# later (a simulated run takes about 3.3 s: 11 minutes at time_scale 200). Each side runs them in this
# order against its own region and state, so later rows see earlier runs.
# Rows that rank use --strategy capacity: the default, weighted, draws the
# order at random (two equal subnets come out in either order).
CONNS="MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2 --strategy capacity"
commands=(
	"version|version"
	"plan json|plan --job AirflowBlogJob --connections $CONNS --output json"
	"plan table|plan --job AirflowBlogJob --connections $CONNS"
	"plan --config|plan --config \$CFG_OK --output json"
	"run json|run --job AirflowBlogJob --connections $CONNS --run-key k1 --poll-interval 1s --output json"
	"run again, same key (succeeded)|run --job AirflowBlogJob --connections $CONNS --run-key k1 --poll-interval 1s --output json"
	"run --detach|run --detach --job AirflowBlogJob --connections $CONNS --run-key k2 --poll-interval 1s --output json"
	"status|status --run-key k2 --output json --offline"
	"resume --no-sleep, run going|resume --run-key k2 --no-sleep --output json"
	"resume, run ended (5 s later)|@wait5 resume --run-key k2 --output json"
	"runs list|runs list --output json"
	"runs show|runs show k1 --output json"
	"health|health --output json"
	"iam-policy|iam-policy --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2 --account 123456789012 --region us-east-1"
	"state init --print|state init dynamodb://gluenet-state --print"
	"run under Airflow (run key)|@airflow run --job AirflowBlogJob --connections $CONNS --poll-interval 1s --output json"
	"run under Airflow, mapped instance 3|@mapped run --job AirflowBlogJob --connections $CONNS --poll-interval 1s --output json"
	"bad: no job|plan --connections $CONNS --output json"
	"bad: no connections|plan --job AirflowBlogJob --output json"
	"bad: unknown strategy|plan --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1 --strategy nope --output json"
	"bad: flag other tools use|run --job AirflowBlogJob --connections $CONNS --retries 3"
	"bad: empty connection|plan --job AirflowBlogJob --connections a,,b"
	"bad: connection twice|plan --job AirflowBlogJob --connections a,a"
	"bad: unknown job|plan --job NoSuchJob --connections $CONNS --output json"
	"bad: missing connection|plan --job AirflowBlogJob --connections NoSuchConnection --output json"
	"bad: --output xml|plan --job AirflowBlogJob --connections $CONNS --output xml"
	"bad: prefer-az without zones|plan --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1 --strategy prefer-az"
	"bad: config typo|plan --config \$CFG_TYPO"
	"bad: config list as string|plan --config \$CFG_STRING"
	"bad: config two documents|plan --config \$CFG_TWO_DOCS --output json"
	"bad: config key twice|plan --config \$CFG_TWICE --output json"
	"bad: config not YAML|plan --config \$CFG_NOT_YAML"
	"bad: --lock-timeout 0|run --job AirflowBlogJob --connections $CONNS --lock-timeout 0 --output json"
	"bad: run key of another job|run --job OtherJob --connections $CONNS --run-key k1 --output json"
	"bad: status of an unknown key|status --run-key nope --offline --output json"
	"bad: resume without a key|resume --output json"
	"bad: state init not dynamodb|state init ./x.db"
	"bad: unknown command|frobnicate"
	"bad: sim scenario typo|sim serve --scenario \$SCEN_TYPO --addr 127.0.0.1:0"
	# Added with branch wiring2 (policy moved out of cmd): status's live
	# state, run --workers/--timeout, iam-policy with a state table, the
	# prefer-az warning, and the checks that moved.
	"status, live (run ended)|status --run-key k2 --output json"
	"run --detach --workers --timeout|run --detach --job AirflowBlogJob --connections $CONNS --run-key k3 --workers 3 --timeout 5 --poll-interval 1s --output json"
	"status, live (run going)|status --run-key k3 --output json"
	"status table, live|status --run-key k3"
	"resume, run ended (5 s later), table|@wait5 resume --run-key k3"
	"iam-policy table, state table, logs|iam-policy --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1 --state dynamodb://gluenet-state --logs --output table"
	"plan, prefer-az matches no zone|plan --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2 --strategy prefer-az --prefer-az us-west-2a --output json"
	"bad: --workers 0|run --job AirflowBlogJob --connections $CONNS --workers 0 --output json"
	"bad: --timeout 0|run --job AirflowBlogJob --connections $CONNS --timeout 0 --output json"
	"bad: --account 12|iam-policy --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1 --account 12"
)

run_side() { # run_side LABEL BINARY
	local label=$1 bin=$2 dir=$work/$1
	mkdir -p "$dir/out"
	cat >"$dir/ok.yaml" <<-EOF
		job: AirflowBlogJob
		connections: [MWAA-Glue-Blog-Subnet1, MWAA-Glue-Blog-Subnet2]
		strategy: capacity
	EOF
	printf 'job: AirflowBlogJob\nconnections: [MWAA-Glue-Blog-Subnet1]\nstratgy: capacity\n' >"$dir/typo.yaml"
	printf 'job: AirflowBlogJob\nconnections: MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2\n' >"$dir/string.yaml"
	printf 'job: AirflowBlogJob\nconnections: [MWAA-Glue-Blog-Subnet1, MWAA-Glue-Blog-Subnet2]\nstrategy: capacity\n---\njob: Other\n' >"$dir/two.yaml"
	printf 'job: AirflowBlogJob\nconnections: [MWAA-Glue-Blog-Subnet1, MWAA-Glue-Blog-Subnet2]\njob: Other\n' >"$dir/twice.yaml"
	printf 'job: [AirflowBlogJob\n' >"$dir/notyaml.yaml"
	printf 'seed: 1\nvpc: {id: vpc-1, cidr: 10.0.0.0/16, size: 3}\n' >"$dir/scen.yaml"

	# A fresh region for this side, on a free port.
	"$bin" sim serve --addr 127.0.0.1:0 >"$dir/sim.out" 2>"$dir/sim.err" &
	pids+=($!)
	local endpoint=""
	for _ in $(seq 100); do
		endpoint=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir/sim.out" | head -1 || true)
		[ -n "$endpoint" ] && break
		sleep 0.1
	done
	[ -n "$endpoint" ] || { echo "$label: sim serve did not start:" >&2; cat "$dir/sim.err" >&2; exit 1; }

	local i=0
	for entry in "${commands[@]}"; do
		local args=${entry#*|} airflow=0
		if [ "${args#@airflow }" != "$args" ]; then airflow=1; args=${args#@airflow }; fi
		if [ "${args#@mapped }" != "$args" ]; then airflow=2; args=${args#@mapped }; fi
		if [ "${args#@wait5 }" != "$args" ]; then sleep 5; args=${args#@wait5 }; fi
		args=${args//\$CFG_OK/$dir/ok.yaml}
		args=${args//\$CFG_TYPO/$dir/typo.yaml}
		args=${args//\$CFG_STRING/$dir/string.yaml}
		args=${args//\$CFG_TWO_DOCS/$dir/two.yaml}
		args=${args//\$CFG_TWICE/$dir/twice.yaml}
		args=${args//\$CFG_NOT_YAML/$dir/notyaml.yaml}
		args=${args//\$SCEN_TYPO/$dir/scen.yaml}
		local extra=()
		if [ $airflow != 0 ]; then
			extra=(AIRFLOW_CTX_DAG_ID=etl AIRFLOW_CTX_DAG_RUN_ID=manual__2026-12-07 AIRFLOW_CTX_TASK_ID=load AIRFLOW_CTX_TRY_NUMBER=1)
		fi
		if [ $airflow = 2 ]; then extra+=(GLUENET_AIRFLOW_MAP_INDEX=3); fi
		set +e
		# shellcheck disable=SC2086 # args are split on purpose
		(cd "$dir" && env -i PATH="$PATH" HOME="$dir" XDG_STATE_HOME="$dir/xdg" \
			AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
			GLUENET_STATE="$dir/state.db" "${extra[@]}" \
			timeout 120 "$bin" $args --log-format json) >"$dir/out/$i.stdout" 2>"$dir/out/$i.stderr" </dev/null
		echo $? >"$dir/out/$i.exit"
		set -e
		i=$((i + 1))
	done
}

echo "building $OLD and $NEW ..." >&2
build "$OLD" "$work/old"
build "$NEW" "$work/new"
echo "running ${#commands[@]} commands on each ..." >&2
run_side old "$work/old/gluenet"
run_side new "$work/new/gluenet"

python3 - "$work" "$verbose" "$OLD" "$NEW" "${commands[@]}" <<'PY'
import difflib, json, re, sys

work, verbose, old, new, entries = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4], sys.argv[5:]

SUBS = [
    (re.compile(re.escape(work) + r"/(old|new)"), "$DIR"),
    (re.compile(r"/tmp/[A-Za-z0-9._/-]+"), "$TMP"),
    (re.compile(r"jr_[0-9a-f]{8,}"), "jr_$ID"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "$UUID"),  # request ids
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"), "$TIME"),
    (re.compile(r"\d{8}T\d{6}Z/[0-9a-f]{8}"), "$NEWKEY"),
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:$PORT"),
    (re.compile(r"\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)(\d+(\.\d+)?(ns|µs|us|ms|s|m|h))*\b"), "$DUR"),
    (re.compile(r"\b(\d+(\.\d+)?) ?(seconds?|minutes?|hours?|sec|min) (ago|left|old)\b"), "$AGE"),
    (re.compile(r"/[0-9]+/[0-9a-f]{8}\b"), "/$PID/$RAND"),  # lease holders host/pid/random
]
TIMEY = re.compile(r"(duration|elapsed|seconds|_ms$|age|took|until|since|at$|_at|time|started|ended|updated|created|check)", re.I)


def norm_text(s):
    for rx, rep in SUBS:
        s = rx.sub(rep, s)
    return s


def norm_json(v, key=""):
    if isinstance(v, dict):
        return {k: norm_json(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_json(x, key) for x in v]
    if isinstance(v, (int, float)) and not isinstance(v, bool) and TIMEY.search(key):
        return "$NUM"
    if isinstance(v, str):
        return norm_text(v)
    return v


def canon(raw):
    text = raw.strip()
    if not text:
        return ""
    try:
        docs, dec, pos = [], json.JSONDecoder(), 0
        while pos < len(text):
            obj, end = dec.raw_decode(text, pos)
            docs.append(norm_json(obj))
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return "\n".join(json.dumps(d, sort_keys=True, indent=1) for d in docs)
    except ValueError:
        return norm_text(text)


def read(side, i, ext):
    with open(f"{work}/{side}/out/{i}.{ext}", encoding="utf-8", errors="replace") as f:
        return f.read()


print(f"| command | exit {old} | exit {new} | stdout same? | stderr same? |")
print("|---|---|---|---|---|")
diffs = []
for i, entry in enumerate(entries):
    name = entry.split("|", 1)[0]
    eo, en = read("old", i, "exit").strip(), read("new", i, "exit").strip()
    co, cn = canon(read("old", i, "stdout")), canon(read("new", i, "stdout"))
    so, sn = canon(read("old", i, "stderr")), canon(read("new", i, "stderr"))
    same = "-" if not co and not cn else ("same" if co == cn else "differs")
    esame = "-" if not so and not sn else ("same" if so == sn else "differs")
    mark = "" if eo == en else " **≠**"
    print(f"| {name} | {eo} | {en}{mark} | {same} | {esame} |")
    if same == "differs" or esame == "differs" or eo != en:
        diffs.append((name, co, cn, so, sn))
if verbose:
    for name, co, cn, eo, en in diffs:
        print(f"\n### {name}\n```diff")
        print("\n".join(difflib.unified_diff(co.splitlines(), cn.splitlines(), "stdout old", "stdout new", lineterm="", n=1)))
        print("\n".join(difflib.unified_diff(eo.splitlines(), en.splitlines(), "stderr old", "stderr new", lineterm="", n=0)))
        print("```")
PY
