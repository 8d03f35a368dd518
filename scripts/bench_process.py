#!/usr/bin/env python3
"""Whole-process decision latency: `gluenet plan` against the AWS post's code.

scripts/bench.sh runs this (section "process") against a `gluenet sim serve`
region holding the generated benchmark scenario (bench.ScenarioYAML), with a
latency added to every API call. For each N it measures, taking turns so that
a burst of other work on the shared machine falls on all of them:

- post: the post's own decision code (its get_job, then
  prioritize_connections with the capacity strategy: for each connection,
  one after the other, get_connection and describe_subnets), run with boto3
  in this process and timed in-process around those calls only. The boto3
  clients are made before the clock starts (the DAG makes them at import)
  and afresh for each decision, as a new Airflow task process would, and
  Python's own start is not counted: every doubt goes the post's way.
- gluenet cold: a whole `gluenet plan` process, from the exec to its exit,
  on a state file that does not exist yet (created by the process).
- gluenet warm: the same on a state file whose subnet cache an earlier
  `gluenet plan` filled.

It prints one Markdown table of medians, the ratios post / gluenet, the
gluenet processes' CPU time (user + system, from wait4: what a process
costs whatever the load of the machine), and the
largest peak RSS of six more gluenet processes per N (three cold, three
warm, under /usr/bin/time, which adds its own start to the wall time and so
is kept out of the timed runs).

Usage: bench_process.py --gluenet BIN --endpoint URL --ns 2,10,50,200 --reps 10
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

JOB = "BenchJob"  # bench.JobName


def connection_names(n):
    return ["bench-conn-%03d" % i for i in range(n)]  # bench.ConnectionName


def post_decision(endpoint, names):
    """The post's code (glue_job_dag.py), capacity strategy; returns ms."""
    import boto3

    region = os.environ.get("AWS_REGION", "us-east-1")
    glue_client = boto3.client("glue", endpoint_url=endpoint, region_name=region)
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region)

    def get_available_ips_from_connection(glue_connection_name):
        conn_response = glue_client.get_connection(Name=glue_connection_name)
        connection_properties = conn_response["Connection"]["PhysicalConnectionRequirements"]
        subnet_id = connection_properties["SubnetId"]
        subnet_response = ec2.describe_subnets(SubnetIds=[subnet_id])
        return subnet_response["Subnets"][0]["AvailableIpAddressCount"]

    def get_connections_free_ips(glue_connection_names, num_workers):
        good_connections = []
        usable_connections = []
        for connection_name in glue_connection_names:
            try:
                available_ips = get_available_ips_from_connection(connection_name)
                if available_ips >= num_workers:
                    good_connections.append((connection_name, available_ips))
                elif available_ips >= 2:
                    usable_connections.append((connection_name, available_ips))
            except Exception as e:  # the post's own handling
                print(f"[WARNING] Failed to check the free ips for:{connection_name}, will skip. Exception: {e}",
                      file=sys.stderr)
        return good_connections, usable_connections

    def prioritize_connections(connection_list, num_workers):
        (good_connections, usable_connections) = get_connections_free_ips(connection_list, num_workers)
        all_conn = good_connections + usable_connections
        all_conn.sort(key=lambda x: -x[1])
        result = [c[0] for c in all_conn]
        result += [c for c in connection_list if c not in result]
        return result

    start = time.perf_counter()
    job_props = glue_client.get_job(JobName=JOB)["Job"]
    order = prioritize_connections(names, job_props["NumberOfWorkers"])
    elapsed = (time.perf_counter() - start) * 1000
    if len(order) != len(names):
        raise SystemExit("post decision: ranked %d of %d connections" % (len(order), len(names)))
    return elapsed


def plan_args(binary, endpoint, names, state):
    return [binary, "plan", "--job", JOB, "--connections", ",".join(names), "--endpoint-url", endpoint,
            "--log-level", "warn", "--output", "json", "--state", state]


def gluenet_plan(binary, endpoint, names, state, errfile):
    """One whole `gluenet plan` process, exec to exit; returns ms."""
    args = plan_args(binary, endpoint, names, state)
    errfile.seek(0)
    errfile.truncate()
    # close_fds=False lets CPython use posix_spawn rather than copying this
    # (boto3-sized) process with fork before the exec.
    start = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errfile, close_fds=False)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    p.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        errfile.seek(0)
        raise SystemExit("gluenet plan failed (exit %d):\n%s" % (code, errfile.read().decode()))
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000


def subnet_ids(n):
    return ["subnet-0be%014x" % (i + 1) for i in range(n)]  # bench.SubnetID


def floor_process(binary, endpoint, names, cold):
    """One whole bench/cmd/sdkfloor process, exec to exit: the same calls
    with the bare SDK and nothing else; returns ms."""
    args = [binary, "-endpoint-url", endpoint, "-job", JOB]
    args += ["-connections", ",".join(names)] if cold else ["-subnets", ",".join(subnet_ids(len(names)))]
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def gluenet_rss(binary, endpoint, names, state):
    """Peak RSS (KiB) of one `gluenet plan`, from /usr/bin/time: measured in
    runs of their own, since a child's ru_maxrss would count this Python
    process when it is forked."""
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + plan_args(binary, endpoint, names, state),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(open(out.name).read().split()[-1])


def fmt_ms(v):
    return "%.0f ms" % v if v >= 100 else "%.1f ms" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gluenet", required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ns", default="2,10,50,200")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--post-reps-200", type=int, default=3, help="post decisions at N=200 (8 s each)")
    ap.add_argument("--floor", help="a bench/cmd/sdkfloor binary: measure the bare SDK's whole process too")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gluenet-bench-")
    errfile = tempfile.TemporaryFile()
    rows = []
    try:
        for n in [int(x) for x in a.ns.split(",")]:
            names = connection_names(n)
            warm_state = os.path.join(work, "warm-%d.db" % n)
            gluenet_plan(a.gluenet, a.endpoint, names, warm_state, errfile)  # fills the warm cache
            post, cold, warm, cpu_cold, cpu_warm, floor_cold, floor_warm = [], [], [], [], [], [], []
            post_reps = a.post_reps_200 if n >= 200 else a.reps
            for i in range(a.reps):
                ms, cpu = gluenet_plan(a.gluenet, a.endpoint, names, os.path.join(work, "cold-%d-%d.db" % (n, i)), errfile)
                cold.append(ms)
                cpu_cold.append(cpu)
                ms, cpu = gluenet_plan(a.gluenet, a.endpoint, names, warm_state, errfile)
                warm.append(ms)
                cpu_warm.append(cpu)
                if a.floor:
                    floor_cold.append(floor_process(a.floor, a.endpoint, names, True))
                    floor_warm.append(floor_process(a.floor, a.endpoint, names, False))
                if i < post_reps:
                    post.append(post_decision(a.endpoint, names))
                print("N=%d rep %d: post %.0f ms, cold %.0f ms, warm %.0f ms" % (n, i + 1, post[-1], cold[-1], warm[-1]),
                      file=sys.stderr)
            rss = [gluenet_rss(a.gluenet, a.endpoint, names, os.path.join(work, "rss-%d-%d.db" % (n, i))) for i in range(3)]
            rss += [gluenet_rss(a.gluenet, a.endpoint, names, warm_state) for _ in range(3)]
            rows.append((n, len(post), statistics.median(post), len(cold), statistics.median(cold),
                         statistics.median(warm), max(rss), statistics.median(cpu_cold), statistics.median(cpu_warm),
                         statistics.median(floor_cold) if floor_cold else None,
                         statistics.median(floor_warm) if floor_warm else None))
    finally:
        errfile.close()
        shutil.rmtree(work, ignore_errors=True)

    floor = a.floor is not None
    print("| N | post decisions | post median (in-process) | gluenet runs | gluenet cold median (whole process) "
          "| post / cold | gluenet warm median (whole process) | post / warm | gluenet CPU cold / warm (median) "
          "| gluenet max peak RSS |" + (" bare SDK cold / warm (whole process) | post / bare SDK cold / warm |" if floor else ""))
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if floor else ""))
    for n, np_, post, nr, cold, warm, rss, cpu_cold, cpu_warm, fcold, fwarm in rows:
        line = "| %d | %d | %s | %d | %s | %.1f× | %s | %.1f× | %.0f / %.0f ms | %.1f MiB |" % (
            n, np_, fmt_ms(post), nr, fmt_ms(cold), post / cold, fmt_ms(warm), post / warm, cpu_cold, cpu_warm,
            rss / 1024)
        if floor:
            line += " %s / %s | %.1f× / %.1f× |" % (fmt_ms(fcold), fmt_ms(fwarm), post / fcold, post / fwarm)
        print(line)


if __name__ == "__main__":
    main()
