"""GluenetJobOperator under a real Airflow deployment shape, on Airflow 2.10
and 3: `airflow scheduler` (LocalExecutor) and `airflow triggerer` as
separate processes (and on Airflow 3 `airflow api-server`, whose Execution
API the task supervisor talks to), Airflow's metadata in the test Postgres
(a schema of its own), against one `gluenet sim serve` per module.

Nothing plays Airflow's part by hand: DAG runs are made with `airflow dags
trigger`; the scheduler queues the tasks, the LocalExecutor runs them (Airflow
2: `airflow tasks run --local`, the LocalTaskJob and its task runner; Airflow
3: the Task SDK's supervisor and its task process), the scheduler retries
them and finds dead ones, the triggerer runs the triggers. The tests act as a
user or the machine would: kill -9 the process running the operator, SIGTERM
it, clear the task, mark a deferred task failed, kill and restart the
triggerer.

The processes start once per module (about 20 s on the shared 2-core
machine); the tests run in order and tell their Glue runs apart by id.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from conftest import (AIRFLOW, AIRFLOW_MAJOR, CONNECTIONS, HERE, JOB, REPO, KeyProxy, Sim, airflow_env, postgres_dsn,
                      wait_for)

pytestmark = pytest.mark.deployment

DAGS = HERE / "dags"

# Connect-args for Airflow's engines: Airflow's metadata goes to its own
# schema of the test database (the gluenet role may not create databases),
# through search_path. Airflow imports these by their dotted name.
PG_ARGS_MODULE = '''
import os
SCHEMA = os.environ["GLUENET_TEST_AIRFLOW_SCHEMA"]
SYNC = {"options": f"-csearch_path={SCHEMA}"}  # psycopg2
ASYNC = {"server_settings": {"search_path": SCHEMA}}  # asyncpg (Airflow 3's API server)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    """The Airflow processes of one module, and what the tests ask of them."""

    def __init__(self, home: Path, env: dict[str, str], sim: Sim, state: Path):
        self.home, self.env, self.sim, self.state = home, env, sim, state
        # A slower region (a run lasts about 40 s) behind a proxy that
        # records each request's access key, for the connection gluenet_rot.
        self.slow: Sim | None = None
        self.proxy: KeyProxy | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    # --- processes -------------------------------------------------------
    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "a")
        self._logs.append(log)
        p = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = p
        return p

    def stop(self, name: str, sig=signal.SIGTERM) -> None:
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, sig)
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        except ProcessLookupError:
            pass
        # What the process group left (workers of the LocalExecutor, the log servers).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        # SIGTERM to every process group at once, then what is left is killed.
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        self.procs.clear()
        # gluenet runs in its own session (it outlives a killed task on
        # purpose); end those this module's tasks started.
        for p in psutil.process_iter(["cmdline", "environ"]):
            try:
                cl = p.info["cmdline"] or []
                if cl and cl[0].endswith("gluenet") and (p.info["environ"] or {}).get("GLUENET_STATE") == str(self.state):
                    p.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        for log in self._logs:
            log.close()

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")

    # --- Airflow, as a user drives it -------------------------------------
    def airflow(self, *args: str) -> str:
        r = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"airflow {' '.join(args)}: {r.stdout[-2000:]}{r.stderr[-3000:]}"
        return r.stdout

    def py(self, code: str) -> str:
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=self.env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout

    def trigger(self, dag_id: str) -> str:
        run_id = f"t_{uuid.uuid4().hex[:8]}"
        self.airflow("dags", "trigger", dag_id, "-r", run_id)
        return run_id

    def ti(self, dag_id: str, run_id: str) -> dict:
        """The task instance glue_task of the run, with its XCom return value."""
        if AIRFLOW_MAJOR >= 3:
            xcom = "from airflow.models.xcom import XComModel as XCom; value = XCom.deserialize_value"
        else:
            xcom = "from airflow.models import XCom; value = lambda x: x.value"
        out = self.py(f"""
            import json
            from airflow.models import TaskInstance
            {xcom}
            from airflow.utils.session import create_session
            with create_session() as s:
                ti = s.query(TaskInstance).filter_by(dag_id={dag_id!r}, run_id={run_id!r}, task_id="glue_task").one()
                x = s.query(XCom).filter_by(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
                                            map_index=ti.map_index, key="return_value").one_or_none()
                print(json.dumps(dict(state=ti.state, try_number=ti.try_number, result=value(x) if x else None),
                                 default=str))
        """)
        return json.loads(out.strip().splitlines()[-1])

    def mark(self, dag_id: str, run_id: str, state: str) -> None:
        """What the UI's "mark failed" does to the task instance."""
        self.py(f"""
            from airflow.models import TaskInstance
            from airflow.utils.session import create_session
            with create_session() as s:
                ti = s.query(TaskInstance).filter_by(dag_id={dag_id!r}, run_id={run_id!r}, task_id="glue_task").one()
                ti.set_state({state!r}, session=s)
        """)

    def wait_ti(self, dag_id: str, run_id: str, states: tuple[str, ...], timeout: float = 240) -> dict:
        return wait_for(f"{dag_id}/{run_id} in {states}",
                        lambda: (t := self.ti(dag_id, run_id))["state"] in states and t, timeout, every=2)

    def task_log(self, dag_id: str, run_id: str, try_number: int) -> str:
        d = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=glue_task"
        return (d / f"attempt={try_number}.log").read_text(errors="replace")

    def runs_since(self, before: set[str]) -> list[dict]:
        return [r for r in self.sim.job_runs() if r["Id"] not in before]

    def run_ids(self) -> set[str]:
        return {r["Id"] for r in self.sim.job_runs()}

    def set_rot_keys(self, key: str, secret: str) -> None:
        """New keys on the connection gluenet_rot, in one transaction, as
        the UI's edit form saves them (the CLI can only delete and add,
        and a poll between the two would find no connection)."""
        self.py(f"""
            from airflow.models import Connection
            from airflow.utils.session import create_session
            with create_session() as s:
                c = s.query(Connection).filter(Connection.conn_id == "gluenet_rot").one()
                c.login, c.password = {key!r}, {secret!r}
        """)

    def start_dag(self, dag: str, deferred: bool = False) -> tuple[set[str], str]:
        """Triggers a run of the DAG and waits until its Glue run is
        RUNNING (and, for a deferrable DAG, the task deferred); returns the
        Glue run ids from before and the DAG run id."""
        before = self.run_ids()
        run_id = self.trigger(dag)
        if deferred:
            self.wait_ti(dag, run_id, ("deferred",), timeout=180)
        wait_for("the Glue run to be going",
                 lambda: any(r["JobRunState"] == "RUNNING" for r in self.runs_since(before)), timeout=180)
        return before, run_id


def operator_process(run_key_part: str) -> psutil.Process | None:
    """The process running the operator: the parent of the gluenet whose
    run key has this part (Airflow 2: the task runner's `airflow tasks run
    --raw`; Airflow 3: the supervisor's task process)."""
    for p in psutil.process_iter(["cmdline"]):
        cl = p.info["cmdline"] or []
        if cl and cl[0].endswith("gluenet") and any(run_key_part in a for a in cl):
            return p.parent()
    return None


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    dsn = postgres_dsn("Airflow's metadata for the scheduler")
    try:
        import psycopg2  # noqa: F401
        if AIRFLOW_MAJOR >= 3:
            import asyncpg  # noqa: F401
    except ImportError as e:
        pytest.fail(f"{e}: the venv needs the Postgres drivers pinned in python/requirements (.ci/airflow.sh)")
    from urllib.parse import urlsplit

    home = tmp_path_factory.mktemp("deployment")
    tmp = tmp_path_factory.mktemp("deployment_sim")
    scen = tmp / "slow.yaml"
    src = (REPO / "sim" / "scenarios" / "default.yaml").read_text()
    scen.write_text(src.replace("time_scale: 200", "time_scale: 40"))  # a Glue run lasts about 16 s
    sim = Sim(str(scen), tmp)
    schema = f"airflow_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", dsn, "-qc", f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
    (home / "pymod").mkdir()
    (home / "pymod" / "gluenet_test_pg.py").write_text(PG_ARGS_MODULE)
    u = urlsplit(dsn)
    conn = {"conn_type": "aws", "login": "test", "password": "test",
            "extra": {"region_name": "us-east-1", "endpoint_url": sim.endpoint}}
    state = tmp / "gluenet-state.db"
    api_port = free_port()
    env = airflow_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://{u.username}:{u.password}@{u.hostname}:{u.port or 5432}{u.path}",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="gluenet_test_pg.SYNC",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC="gluenet_test_pg.ASYNC",
        GLUENET_TEST_AIRFLOW_SCHEMA=schema,
        PYTHONPATH=str(home / "pymod"),
        # Ports of their own (other test runs may share the machine).
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
        # Dead tasks found within seconds, not minutes (Airflow 2 and 3 names).
        AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD="30",
        AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL="5",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        AIRFLOW__SCHEDULER__PARSING_PROCESSES="1",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="600",
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
        # A killed triggerer's triggers go to the next one after 5 s, not 30.
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="5",
        # Airflow 3: the LocalExecutor's supervisors reach this API server, with tokens signed by this secret.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
        AIRFLOW__API_AUTH__JWT_SECRET=uuid.uuid4().hex,
        # The operator's AWS connection and gluenet's state (one worker here: SQLite is enough).
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(conn),
        GLUENET_STATE=str(state),
        # The post's three Variables (as environment variables: no process start to set them).
        **{"AIRFLOW_VAR_GLUE_JOB_DAG.GLUE_CONNECTIONS": CONNECTIONS, "AIRFLOW_VAR_GLUE_JOB_DAG.GLUE_JOB_NAME": JOB,
           "AIRFLOW_VAR_GLUE_JOB_DAG.STRATEGY": "capacity"},
    )
    d = Deployment(home, env, sim, state)
    slow_scen = tmp / "slower.yaml"
    slow_scen.write_text(src.replace("time_scale: 200", "time_scale: 16"))  # a Glue run lasts about 40 s
    (tmp / "slower").mkdir()
    d.slow = Sim(str(slow_scen), tmp / "slower")
    d.proxy = KeyProxy(d.slow.endpoint)
    try:
        d.airflow("db", "migrate")
        conn = {"conn_type": "aws", "login": "AKIAROT1", "password": "secret-1",
                "extra": {"region_name": "us-east-1", "endpoint_url": d.proxy.endpoint}}
        d.airflow("connections", "add", "gluenet_rot", "--conn-json", json.dumps(conn))
        # The DAGs into the metadata database once (Airflow 3's scheduler
        # has no DAG processor of its own; none is started here).
        d.airflow("dags", "reserialize")
        if AIRFLOW_MAJOR >= 3:
            d.start("api-server", "api-server", "--apps", "execution", "-H", "127.0.0.1", "-p", str(api_port),
                    "-w", "1")
        d.start("scheduler", "scheduler")
        d.start("triggerer", "triggerer")
        yield d
    finally:
        d.stop_all()
        sim.stop()
        d.proxy.stop()
        d.slow.stop()
        subprocess.run(["psql", dsn, "-qc", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)


def test_kill_9_then_retry_reattaches_and_clear_runs_again(deployment):
    """kill -9 of the process running the operator while its Glue run goes:
    Airflow fails the try (Airflow 2: the scheduler finds the task dead;
    Airflow 3: the supervisor reports the task process's death to the API
    server) and retries it; the retry re-attaches to the same Glue run and
    ends with its outcome. Clearing the task then runs the job again."""
    d = deployment
    dag = "gluenet_sched_sync"
    before, run_id = d.start_dag(dag)
    key = f"/{run_id}/glue_task/c0"
    victim = wait_for("the operator's process", lambda: operator_process(key), timeout=30)
    victim.kill()
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    if AIRFLOW_MAJOR >= 3:
        # The supervisor saw its task process die and told the API server.
        assert re.search(r"exit_code=<Negsignal.SIGKILL: -9> final_state=up_for_retry", d.log("scheduler")), \
            d.log("scheduler")[-3000:]
    else:
        # The LocalTaskJob saw its task runner die; the scheduler found the zombie.
        assert "Task exited with return code -9" in d.task_log(dag, run_id, 1)
        assert re.search(rf"Detected zombie job: .*'Run Id': '{run_id}'", d.log("scheduler")), d.log("scheduler")[-3000:]
    runs = d.runs_since(before)
    assert len(runs) == 1, f"one Glue run, re-attached: {runs}"
    assert ti["state"] == "success" and ti["try_number"] == 2, ti
    res = ti["result"]
    assert res["result"] == "succeeded" and res["glue_run_id"] == runs[0]["Id"], res
    assert runs[0]["JobRunState"] == "SUCCEEDED"
    assert res["run_key"].endswith(key), res["run_key"]
    log2 = d.task_log(dag, run_id, 2)
    assert "started Glue job run" not in log2 and "recorded new run" not in log2, log2[-3000:]

    # Clearing the task that succeeded runs the job again, under a new key.
    d.airflow("tasks", "clear", dag, "-t", "glue_task", "-y")
    wait_for("the cleared task to run again", lambda: d.ti(dag, run_id)["try_number"] > 2, timeout=120, every=2)
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    assert ti["state"] == "success", ti
    assert not ti["result"]["run_key"].endswith("/c0"), ti["result"]["run_key"]
    runs = d.runs_since(before)
    again = [r for r in runs if r["Id"] != res["glue_run_id"]]
    assert len(runs) == 2 and ti["result"]["glue_run_id"] == again[0]["Id"], (ti, runs)


def test_sigterm_stops_the_glue_run_and_the_retry_starts_another(deployment):
    """SIGTERM to the process running the operator (a worker being
    replaced): on_kill interrupts gluenet, which stops the Glue run; the try
    fails and Airflow's retry starts a new run (docs/mwaa.md, "What stops a
    Glue run")."""
    d = deployment
    dag = "gluenet_sched_sync"
    before, run_id = d.start_dag(dag)
    key = f"/{run_id}/glue_task/c0"
    victim = wait_for("the operator's process", lambda: operator_process(key), timeout=30)
    first = d.runs_since(before)[0]["Id"]
    victim.send_signal(signal.SIGTERM)
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    runs = {r["Id"]: r["JobRunState"] for r in d.runs_since(before)}
    assert runs[first] == "STOPPED", runs
    # (Airflow masks "gluenet" in task logs here: it is the test Postgres's password.)
    assert re.search(r"Interrupting \S+ \(pid \d+\); waiting up to", d.task_log(dag, run_id, 1))
    assert ti["state"] == "success" and ti["try_number"] == 2, ti
    assert len(runs) == 2 and ti["result"]["glue_run_id"] != first and runs[ti["result"]["glue_run_id"]] == "SUCCEEDED"


def test_sync_task_marked_failed_stops_its_glue_run(deployment):
    """A running sync task marked failed: Airflow notices (2.10: the
    LocalTaskJob's heartbeat; 3: the supervisor's heartbeat, refused by the
    API server) and SIGTERMs the task process; on_kill interrupts gluenet,
    which stops the Glue run. A task marked failed is not retried."""
    d = deployment
    dag = "gluenet_sched_sync"
    before, run_id = d.start_dag(dag)
    d.mark(dag, run_id, "failed")
    wait_for("the Glue run to stop", lambda: d.runs_since(before)[0]["JobRunState"] in ("STOPPING", "STOPPED"),
             timeout=120)
    wait_for("the task's log to say so",
             lambda: re.search(r"Interrupting \S+ \(pid \d+\); waiting up to", d.task_log(dag, run_id, 1)), 60)
    if AIRFLOW_MAJOR >= 3:
        assert "Server indicated the task shouldn't be running anymore" in d.log("scheduler")
    else:
        assert "State of this instance has been externally set to failed" in d.task_log(dag, run_id, 1)
    assert len(d.runs_since(before)) == 1
    ti = d.ti(dag, run_id)
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti


def test_deferred_task_marked_failed_stops_its_glue_run(deployment):
    d = deployment
    dag = "gluenet_sched_deferred"
    before, run_id = d.start_dag(dag, deferred=True)
    d.mark(dag, run_id, "failed")
    wait_for("the Glue run to stop", lambda: d.runs_since(before)[0]["JobRunState"] in ("STOPPING", "STOPPED"),
             timeout=120)
    assert len(d.runs_since(before)) == 1
    assert d.ti(dag, run_id)["state"] == "failed"


def test_triggerer_killed_and_restarted_one_run(deployment):
    d = deployment
    dag = "gluenet_sched_deferred"
    before, run_id = d.start_dag(dag, deferred=True)
    d.stop("triggerer", signal.SIGKILL)
    d.start("triggerer", "triggerer")
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    runs = d.runs_since(before)
    assert ti["state"] == "success" and ti["try_number"] == 1, ti
    assert [r["JobRunState"] for r in runs] == ["SUCCEEDED"], runs
    assert ti["result"]["glue_run_id"] == runs[0]["Id"]


def test_keys_rotated_while_deferred_reach_the_next_poll(deployment):
    """The deferred task's connection gets new keys (the old key revoked,
    as IAM does when a key is deactivated) while its trigger polls: the
    next polls sign with the new keys, and the task ends with its one Glue
    run."""
    d = deployment
    dag = "gluenet_sched_rotation"
    before = {r["Id"] for r in d.slow.job_runs()}
    run_id = d.trigger(dag)
    d.wait_ti(dag, run_id, ("deferred",), timeout=180)
    polls = len(d.proxy.seen)
    wait_for("the trigger to poll with the first key", lambda: d.proxy.seen[polls:].count("AKIAROT1") >= 2)
    d.set_rot_keys("AKIAROT2", "secret-2")
    d.proxy.revoked.add("AKIAROT1")
    wait_for("a poll with the new key", lambda: "AKIAROT2" in d.proxy.seen, timeout=60)
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    runs = [r for r in d.slow.job_runs() if r["Id"] not in before]
    assert ti["state"] == "success" and ti["try_number"] == 1, ti
    assert [r["JobRunState"] for r in runs] == ["SUCCEEDED"], runs
    after = d.proxy.seen[d.proxy.seen.index("AKIAROT2"):]
    assert "AKIAROT1" not in after, "once rotated, every request uses the new key"


def test_max_wait_ends_a_deferred_run_that_does_not_finish(deployment):
    """max_wait (20 s here) ends the wait of a deferred task whose run goes
    on (40 s): the trigger stops the Glue run and the task fails with a
    message that says what happened and what to change."""
    d = deployment
    dag = "gluenet_sched_bound"
    before = {r["Id"] for r in d.slow.job_runs()}
    run_id = d.trigger(dag)
    ti = d.wait_ti(dag, run_id, ("success", "failed"))
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti
    runs = [r for r in d.slow.job_runs() if r["Id"] not in before]
    assert len(runs) == 1, runs
    wait_for("the Glue run to stop", lambda: next(r for r in d.slow.job_runs() if r["Id"] == runs[0]["Id"])
             ["JobRunState"] in ("STOPPING", "STOPPED"), timeout=60)
    log = d.task_log(dag, run_id, 1)
    assert "had not ended" in log and "max_wait" in log, log[-3000:]
