"""Real Airflow (2.10, and 3 for the tests that fit it) against `gluenet sim serve`.

Every DAG runs in its own `airflow dags test` (or `airflow tasks run`)
process, as on a worker, with its own simulated region and gluenet state:
the post's DAG creates its boto3 clients when it is parsed, so a region
per test means a process per test. The Airflow metadata database (SQLite)
and the post's three Variables are set up once per session.

Tools needed: this virtual environment (.ci/airflow.sh) and the
gluenet-airflow wheel installed in it: the tests run the gluenet binary the
wheel carries. Postgres is not needed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

# In-process imports of Airflow (the unit tests) get a throwaway home, not ~/airflow.
if "AIRFLOW_HOME" not in os.environ:
    import tempfile

    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="gluenet-airflow-unit-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")

CONNECTIONS = "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2"

# The suite runs on Airflow 2.10 and on Airflow 3 (.ci/run runs both). A
# test that needs Airflow 2 says why with needs_airflow2(reason): on
# Airflow 3 it is skipped, and pytest's summary (-rs) prints the reason.
AIRFLOW_VERSION = importlib.metadata.version("apache-airflow")
AIRFLOW_MAJOR = int(AIRFLOW_VERSION.split(".")[0])


def needs_airflow2(reason: str):
    return pytest.mark.skipif(AIRFLOW_MAJOR >= 3, reason=f"needs Airflow 2 (this is {AIRFLOW_VERSION}): {reason}")
JOB = "AirflowBlogJob"


def gluenet_binary() -> str:
    """The binary of the installed wheel (never a PATH one)."""
    from gluenet_airflow._gluenet import find_gluenet

    path = find_gluenet()
    if "site-packages" not in path:
        pytest.fail(f"gluenet resolves to {path}, not the wheel's binary: install the wheel (.ci/airflow.sh)")
    return path


class Sim:
    """A `gluenet sim serve` on a free loopback port."""

    def __init__(self, scenario: str, tmp: Path):
        self.log_path = tmp / "sim.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [gluenet_binary(), "sim", "serve", "--addr", "127.0.0.1:0", "--scenario", scenario, "--log-format", "json"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.endpoint = None
        for _ in range(200):
            for line in self.log_path.read_text().splitlines():
                if '"endpoint"' in line:
                    self.endpoint = json.loads(line)["endpoint"]
            if self.endpoint or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.endpoint:
            self.stop()
            pytest.fail(f"sim serve did not start: {self.log_path.read_text()}")
        self.glue = self.client("glue")
        self.ec2 = self.client("ec2")

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def job(self) -> dict:
        return self.glue.get_job(JobName=JOB)["Job"]

    def job_connections(self) -> list[str]:
        return self.job().get("Connections", {}).get("Connections", [])

    def job_runs(self) -> list[dict]:
        return self.glue.get_job_runs(JobName=JOB)["JobRuns"]

    def fault(self, *args: str) -> None:
        subprocess.run([gluenet_binary(), "sim", "fault", *args, "--endpoint-url", self.endpoint],
                       check=True, capture_output=True, text=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


class KeyProxy:
    """An HTTP proxy in front of the simulated region that records the
    access key id of each signed request, refuses revoked keys the way AWS
    does (UnrecognizedClientException), and answers STS AssumeRole itself
    with new temporary keys (ASIAROLE<n>) that expire after
    ``role_seconds``."""

    def __init__(self, target: str, role_seconds: float = 3600):
        self.target = urlsplit(target)
        self.seen: list[str] = []
        self.revoked: set[str] = set()
        self.assumed: list[str] = []  # the base keys AssumeRole was called with
        self.role_seconds = role_seconds
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                m = re.search(r"Credential=([A-Z0-9]+)/", self.headers.get("Authorization", ""))
                key = m.group(1) if m else ""
                proxy.seen.append(key)
                if b"Action=AssumeRole" in body:
                    proxy.assumed.append(key)
                    n = len(proxy.assumed)
                    exp = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=proxy.role_seconds))
                    out = (f'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
                           f"<Credentials><AccessKeyId>ASIAROLE{n}</AccessKeyId><SecretAccessKey>s{n}</SecretAccessKey>"
                           f"<SessionToken>token{n}</SessionToken><Expiration>{exp.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                           f"</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/"
                           f"r/s</Arn><AssumedRoleId>AROA1:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>"
                           f"<ResponseMetadata><RequestId>{n}</RequestId></ResponseMetadata></AssumeRoleResponse>").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                if key in proxy.revoked:
                    out = json.dumps({"__type": "UnrecognizedClientException",
                                      "message": "The security token included in the request is invalid."}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                c.request(self.command, self.path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def sim_factory(tmp_path):
    sims = []

    def start(scenario: str = "default") -> Sim:
        d = tmp_path / f"sim{len(sims)}"
        d.mkdir()
        s = Sim(scenario, d)
        sims.append(s)
        return s

    yield start
    for s in sims:
        s.stop()


def postgres_dsn(what: str) -> str:
    """The test Postgres's DSN (GLUENET_TEST_POSTGRES_DSN, with psql on
    PATH), or the test is skipped; under CI=true it fails instead."""
    import shutil

    dsn = os.environ.get("GLUENET_TEST_POSTGRES_DSN")
    if not dsn or not shutil.which("psql"):
        msg = f"needs GLUENET_TEST_POSTGRES_DSN (.ci/postgres.sh) and psql: {what}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return dsn


@pytest.fixture
def pg_state_conn():
    """An Airflow connection (as AIRFLOW_CONN_GLUENET_STATE's value) to the
    test Postgres, in a schema of its own (fresh health memory and
    reservations), dropped afterwards."""
    import uuid
    from urllib.parse import parse_qs, urlsplit as split

    dsn = postgres_dsn("gluenet's state in Postgres")
    schema = f"gluenet_af_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", dsn, "-qc", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
    u = split(dsn)
    extra = {k: v[0] for k, v in parse_qs(u.query).items()}
    extra["search_path"] = schema
    conn = {"conn_type": "postgres", "host": u.hostname, "port": u.port or 5432, "login": u.username,
            "password": u.password, "schema": u.path.lstrip("/"), "extra": extra}
    yield json.dumps(conn)
    subprocess.run(["psql", dsn, "-qc", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("airflow_home")
    env = airflow_env(home)
    r = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # The post's three Variables, in the metadata database as in the post.
    set_vars = textwrap.dedent(f"""
        from airflow.models import Variable
        Variable.set("glue_job_dag.glue_connections", "{CONNECTIONS}")
        Variable.set("glue_job_dag.glue_job_name", "{JOB}")
        Variable.set("glue_job_dag.strategy", "capacity")
    """)
    r = subprocess.run([sys.executable, "-c", set_vars], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return home


def airflow_env(home: Path, sim: Sim | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW", "GLUENET_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",  # no gluenet on PATH: the wheel's is used
    })
    if sim is not None:
        env.update({
            "AWS_ENDPOINT_URL": sim.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        })
    env.update(extra)
    return env


class DagRun:
    def __init__(self, proc: subprocess.CompletedProcess, seconds: float):
        self.returncode = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.seconds = seconds

    @property
    def succeeded(self) -> bool:
        return "DagRun Finished" in self.output and "state=success" in self.output

    def lines(self, pattern: str) -> list[str]:
        return [l for l in self.output.splitlines() if re.search(pattern, l)]


def dags_test(home: Path, dag_file: Path, dag_id: str, env: dict[str, str], timeout: int = 400) -> DagRun:
    start = time.monotonic()
    if AIRFLOW_MAJOR >= 3:
        # Airflow 3 takes the DAG file as -f (--dagfile-path), and only a
        # file inside the DAG bundle's folder: the file's own folder here.
        env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)}
        args = ["-f", str(dag_file)]
    else:
        args = ["-S", str(dag_file)]
    p = subprocess.run([AIRFLOW, "dags", "test", dag_id, *args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    run = DagRun(p, time.monotonic() - start)
    print(f"airflow dags test {dag_id}: exit {p.returncode} in {run.seconds:.1f}s")
    return run


def gluenet_plan(sim: Sim, state: Path, strategy: str = "capacity") -> list[str]:
    """`gluenet plan` for the same facts: the order gluenet would write."""
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": sim.endpoint, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "GLUENET_STATE": str(state)}
    r = subprocess.run([gluenet_binary(), "plan", "--job", JOB, "--connections", CONNECTIONS,
                        "--strategy", strategy, "--output", "json", "--log-format", "json"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["order"]


def wait_for(what: str, cond, timeout: float = 180, every: float = 0.5):
    """cond() polled until it is truthy (returned), or the test fails after timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def pytest_configure(config):
    config.addinivalue_line("markers", "deployment: a real scheduler, triggerer (and API server) as separate processes")
    config.addinivalue_line("markers", "run_ends(time_scale): the test's simulated Glue run ends by itself (about 640/time_scale s)")
