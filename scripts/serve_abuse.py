#!/usr/bin/env python3
"""serve_abuse.py measures what abuse costs `gluenet serve` (issue 22).

It starts `gluenet serve --cache 0` on loopback over a state file of
2,000 runs, and
prints, as a Markdown table, the server's open file descriptors and
resident memory (from /proc) at start, after 4 bursts of 500 concurrent
requests, 10 s later, while 5,000 idle connections are open (each sent one
request and keeps the connection), and 40 s after they were opened (past
serve's idle timeout, if it has one). It also prints the response headers
of a page and what a request with a foreign Host header gets.

Every request goes to 127.0.0.1 only; every loop is bounded in count and
time, and the script stops serve and its connections when it ends.

Usage: scripts/serve_abuse.py GLUENET_BINARY [LABEL]
Needs: python3 (stdlib only), Linux /proc; raises its own descriptor limit
to hold the 5,000 connections.
"""

import http.client
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

BURSTS, CONCURRENT, IDLE, RUNS = 4, 500, 5000, 2000
PATHS = ["/healthz", "/api/v1/runs", "/api/v1/runs/no-such-run", "/api/v1/runs/bench/run-7", "/api/v1/fleet", "/healthz"]


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def one_request(port, path, codes, lock):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        code = r.status
    except Exception as e:  # a refused or timed-out request is a figure too
        code = type(e).__name__
    with lock:
        codes[code] = codes.get(code, 0) + 1


def burst(port):
    codes, lock = {}, threading.Lock()
    threads = [threading.Thread(target=one_request, args=(port, PATHS[i % len(PATHS)], codes, lock)) for i in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return codes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, label = os.path.abspath(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 1000), hard))
    tmp = tempfile.mkdtemp(prefix="serve-abuse-")
    state = os.path.join(tmp, "state.db")
    try:
        # `runs prune` creates the state file (serve may refuse a missing one).
        subprocess.run([binary, "--state", state, "runs", "prune"], check=True, capture_output=True)
        # RUNS runs of the last hours with one attempt each, written with
        # SQL into the schema gluenet created (store/sqlite/migrations).
        db, now = sqlite3.connect(state), int(time.time() * 1e6)
        with db:
            for i in range(RUNS):
                at = now - i * 5_000_000
                db.execute("INSERT INTO runs (key, job, status, created_at, updated_at, finished_at, outcome) VALUES (?, ?, 'succeeded', ?, ?, ?, 'succeeded')",
                           (f"bench/run-{i}", f"job-{i % 5}", at, at, at + 60_000_000))
                db.execute("INSERT INTO attempts (run_key, number, glue_run_id, phase, final_state, class, started_at, ended_at, subnet, az) VALUES (?, 1, ?, 'ended', 'SUCCEEDED', 'succeeded', ?, ?, 'subnet-1', 'us-east-1a')",
                           (f"bench/run-{i}", f"jr_{i}", at + 1_000_000, at + 60_000_000))
        db.close()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([binary, "--state", state, "serve", "--addr", f"127.0.0.1:{port}", "--cache", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            if "listening" not in line:
                sys.exit(f"serve did not start: {line}{proc.stderr.read()}")
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            rows = [("at start", fds(proc.pid), rss_mb(proc.pid), "")]
            allcodes = {}
            for _ in range(BURSTS):
                for k, v in burst(port).items():
                    allcodes[k] = allcodes.get(k, 0) + v
            rows.append((f"after {BURSTS} x {CONCURRENT} concurrent requests", fds(proc.pid), rss_mb(proc.pid),
                         ", ".join(f"{k}: {v}" for k, v in sorted(allcodes.items(), key=str))))
            time.sleep(10)
            rows.append(("10 s later", fds(proc.pid), rss_mb(proc.pid), ""))
            socks, opened = [], time.monotonic()
            for _ in range(IDLE):
                s = socket.socket()
                s.settimeout(5)
                try:
                    s.connect(("127.0.0.1", port))
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                except OSError:
                    s.close()
                    continue
                socks.append(s)
            time.sleep(5)
            rows.append((f"{len(socks)} idle connections open, 5 s later", fds(proc.pid), rss_mb(proc.pid), ""))
            time.sleep(max(0, 40 - (time.monotonic() - opened)))
            rows.append(("40 s after they opened (still open on the client)", fds(proc.pid), rss_mb(proc.pid), ""))
            # Is serve still answering a client that arrives now?
            t0 = time.monotonic()
            codes, lock = {}, threading.Lock()
            one_request(port, "/healthz", codes, lock)
            rows.append(("a new request then", fds(proc.pid), rss_mb(proc.pid),
                         f"{list(codes)[0]} in {time.monotonic() - t0:.2f} s"))
            for s in socks:
                s.close()
            time.sleep(5)
            rows.append(("5 s after the client closed them", fds(proc.pid), rss_mb(proc.pid), ""))
            print(f"### {label}\n")
            print("| when | open descriptors | RSS (MB) | answers |")
            print("|---|---:|---:|---|")
            for what, n, mb, note in rows:
                print(f"| {what} | {n} | {mb:.0f} | {note} |")
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            print("\nResponse headers of `/`:\n\n```")
            for k, v in r.getheaders():
                if k.lower() != "date":
                    print(f"{k}: {v}")
            print("```")
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/api/v1/runs", headers={"Host": "evil.example"})
            r = c.getresponse()
            print(f"\n`GET /api/v1/runs` with `Host: evil.example` (no token): {r.status} {r.read()[:160].decode(errors='replace').strip()}\n")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"serve's exit code after SIGTERM: {proc.returncode}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
