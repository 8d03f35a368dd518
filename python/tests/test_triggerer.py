"""GluenetRunTrigger in a separate `airflow triggerer` process (Airflow 2.10
and 3), as in a deployment where the triggerer is its own process or
container, against `gluenet sim serve`.

Each test makes what a worker leaves behind when the operator defers: the
Glue run started (`gluenet run --detach` under a run key), a DAG run, and
its task instance DEFERRED on a Trigger row holding GluenetRunTrigger (the
rows TaskInstance.defer_task / Airflow 3's execution API write). Then a
real `airflow triggerer` runs the trigger, and the test acts on the task
as a user or an operator of the deployment would: kills and restarts the
triggerer, rotates the AWS connection's keys. (A deferred task marked failed,
and a triggerer restart with the scheduler running too: test_deployment.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import (AIRFLOW, AIRFLOW_MAJOR, CONNECTIONS, HERE, JOB, REPO, KeyProxy, Sim, airflow_env, gluenet_binary,
                      wait_for)
from test_operator import py

DAGS = HERE / "dags"
DAG_ID = "gluenet_triggerer"


def slow_sim(sim_factory, tmp_path: Path, time_scale: int) -> Sim:
    """The default scenario, slowed: a run lasts about 640/time_scale s."""
    scen = tmp_path / "slow.yaml"
    src = (REPO / "sim" / "scenarios" / "default.yaml").read_text()
    scen.write_text(src.replace("time_scale: 200", f"time_scale: {time_scale}"))
    return sim_factory(str(scen))


def env_for(home: Path) -> dict[str, str]:
    # A killed triggerer's triggers go to the next one after 5 s, not 30.
    return airflow_env(home, AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
                       AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
                       AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="5")


def set_connection(home: Path, endpoint: str, key: str, secret: str) -> None:
    """The AWS connection in the metadata database (so that it can be
    changed while the triggerer runs)."""
    extra = json.dumps({"region_name": "us-east-1", "endpoint_url": endpoint})
    py_env(home, f"""
        from airflow.models import Connection
        from airflow.utils.session import create_session
        with create_session() as s:
            s.query(Connection).filter(Connection.conn_id == "gluenet_aws").delete()
            s.add(Connection(conn_id="gluenet_aws", conn_type="aws", login={key!r}, password={secret!r}, extra={extra!r}))
    """)


def py_env(home: Path, code: str) -> str:
    import sys
    import textwrap

    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env_for(home), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def start_glue_run(sim: Sim, state: Path, key: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": sim.endpoint, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "GLUENET_STATE": str(state)}
    r = subprocess.run([gluenet_binary(), "run", "--detach", "--job", JOB, "--connections", CONNECTIONS,
                        "--run-key", key, "--output", "json", "--log-format", "json"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["glue_run_id"]


def defer_task(home: Path, run_id: str, trigger_kwargs: dict) -> None:
    """A DAG run of gluenet_triggerer and its task instance DEFERRED on a
    GluenetRunTrigger, as the operator's defer() leaves them."""
    if AIRFLOW_MAJOR >= 3:
        make_run = f"""
            from airflow.dag_processing.bundles.manager import DagBundlesManager
            from airflow.models.dagbag import BundleDagBag, sync_bag_to_db
            from airflow.models.dagrun import get_or_create_dagrun
            from airflow.serialization.serialized_objects import SerializedDAG
            from airflow.utils.types import DagRunTriggeredByType
            from airflow import settings
            session = settings.Session()
            manager = DagBundlesManager()
            manager.sync_bundles_to_db(session=session)
            session.commit()
            for bundle in manager.get_all_dag_bundles():
                if not bundle.is_initialized:
                    bundle.initialize()
                bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path)
                sync_bag_to_db(bag, bundle.name, bundle.version)
            dag = bag.get_dag({DAG_ID!r})
            sdag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag))
            now = pendulum.now("UTC")
            get_or_create_dagrun(dag=sdag, run_id={run_id!r}, logical_date=now, data_interval=(now, now), run_after=now,
                                 conf=None, triggered_by=DagRunTriggeredByType.TEST, triggering_user_name="test",
                                 start_date=now, session=session)
            session.commit()
        """
    else:
        make_run = f"""
            from airflow.models import DagBag
            from airflow.utils.state import DagRunState
            from airflow.utils.types import DagRunType
            dag = DagBag({str(DAGS / "gluenet_test_dags.py")!r}, include_examples=False).get_dag({DAG_ID!r})
            dag.sync_to_db()
            now = pendulum.now("UTC")
            dag.create_dagrun(run_id={run_id!r}, state=DagRunState.RUNNING, execution_date=now,
                              data_interval=(now, now), run_type=DagRunType.MANUAL, external_trigger=True)
        """
    py_env(home, "import pendulum\n" + textwrap.dedent(make_run) + f"""
from airflow.models import TaskInstance
from airflow.models.trigger import Trigger
from airflow.utils.session import create_session
from gluenet_airflow.triggers import GluenetRunTrigger
with create_session() as s:
    t = Trigger.from_object(GluenetRunTrigger(**{trigger_kwargs!r}))
    s.add(t)
    s.flush()
    ti = s.query(TaskInstance).filter_by(dag_id={DAG_ID!r}, run_id={run_id!r}, task_id="glue_task").one()
    ti.state = "deferred"
    ti.try_number = 1
    ti.trigger_id = t.id
    ti.next_method = "execute_complete"
    ti.next_kwargs = {{}}
""")


def ti_row(home: Path, run_id: str) -> dict:
    out = py_env(home, f"""
        import json
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        with create_session() as s:
            ti = s.query(TaskInstance).filter_by(dag_id={DAG_ID!r}, run_id={run_id!r}, task_id="glue_task").one()
            print(json.dumps(dict(state=ti.state, next_kwargs=ti.next_kwargs, trigger_id=ti.trigger_id), default=str))
    """)
    return json.loads(out.strip().splitlines()[-1])


def mark(home: Path, run_id: str, state: str) -> None:
    """What the UI's "mark failed" does to the task instance."""
    py_env(home, f"""
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        with create_session() as s:
            ti = s.query(TaskInstance).filter_by(dag_id={DAG_ID!r}, run_id={run_id!r}, task_id="glue_task").one()
            ti.set_state({state!r}, session=s)
    """)


class Triggerer:
    def __init__(self, home: Path, log: Path):
        self.log_path = log
        self._log = open(log, "a")
        self.proc = subprocess.Popen([AIRFLOW, "triggerer"], env=env_for(home), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            import os

            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def deferred(airflow_home, sim_factory, tmp_path, request):
    """(sim, proxy, run_id, glue_run_id, make_trigger_kwargs, start_triggerer):
    the AWS connection gluenet_aws reaches the simulated region through the
    proxy (keys "test"), so a test sees each poll."""
    # A run that outlasts the test (about 5 min) unless the test waits for its end.
    ends = request.node.get_closest_marker("run_ends")
    sim = slow_sim(sim_factory, tmp_path, ends.args[0] if ends else 2)
    proxy = KeyProxy(sim.endpoint)
    set_connection(airflow_home, proxy.endpoint, "AKIATEST", "sim-secret")
    state = tmp_path / "s.db"
    run_id = f"trig_{uuid.uuid4().hex[:8]}"
    key = f"test/{run_id}"
    triggerers: list[Triggerer] = []

    def kwargs(**over):
        kw = dict(run_key=key, job_name=JOB, glue_run_id=None, aws_conn_id="gluenet_aws", state=str(state),
                  poll_interval=0.5, status_timeout=30)
        kw.update(over)
        return kw

    def start_triggerer() -> Triggerer:
        t = Triggerer(airflow_home, tmp_path / f"triggerer{len(triggerers)}.log")
        triggerers.append(t)
        return t

    glue_run_id = start_glue_run(sim, state, key)
    yield sim, proxy, run_id, glue_run_id, kwargs, start_triggerer
    for t in triggerers:
        t.stop()
    proxy.stop()
    try:  # leave no deferred instance for the next test's triggerer
        mark(airflow_home, run_id, "failed")
    except AssertionError:
        pass


def run_state(sim: Sim, run_id: str) -> str:
    state = next(r["JobRunState"] for r in sim.job_runs() if r["Id"] == run_id)
    assert state in ("STARTING", "RUNNING", "STOPPING", "STOPPED"), f"the Glue run ended by itself: {state}"
    return state


@pytest.mark.run_ends(10)  # about 64 s: two triggerer restarts (5 s takeovers) fit in it, on a loaded machine too
def test_triggerer_killed_restarted_and_keys_rotated_one_run(airflow_home, deferred):
    """The triggerer is killed (-9) while the task is deferred, its keys
    are rotated in the connection (the old key revoked), a second triggerer
    takes the trigger over with the new keys and is stopped gracefully
    (SIGTERM: the trigger is cancelled while its task is still deferred),
    and a third sees the run to its end: one Glue run, never stopped."""
    sim, proxy, run_id, glue_run_id, kwargs, start_triggerer = deferred
    defer_task(airflow_home, run_id, kwargs(glue_run_id=glue_run_id, max_failures=3))
    trig = start_triggerer()
    wait_for("a poll with the first key", lambda: "AKIATEST" in proxy.seen)
    trig.stop(signal.SIGKILL)
    # Rotated: the connection gets new keys, the old key is revoked.
    set_connection(airflow_home, proxy.endpoint, "AKIANEWKEY", "sim-secret-2")
    proxy.revoked.add("AKIATEST")
    trig2 = start_triggerer()
    wait_for("a poll with the new key", lambda: "AKIANEWKEY" in proxy.seen)
    assert ti_row(airflow_home, run_id)["state"] == "deferred"
    trig2.stop(signal.SIGTERM)
    assert run_state(sim, glue_run_id) == "RUNNING", "a triggerer stopping must not stop the Glue run"
    start_triggerer()
    row = wait_for("the trigger to fire", lambda: (r := ti_row(airflow_home, run_id))["state"] == "scheduled" and r)
    event = row["next_kwargs"]["event"]
    assert event["status"] == "ready" and event["glue_run_id"] == glue_run_id, event
    assert [r["JobRunState"] for r in sim.job_runs()] == ["SUCCEEDED"]
    after = proxy.seen[proxy.seen.index("AKIANEWKEY"):]
    assert "AKIATEST" not in after, "once rotated, every poll uses the new key"


def test_trigger_bound_ends_a_run_that_does_not_finish(airflow_home, deferred):
    sim, proxy, run_id, glue_run_id, kwargs, start_triggerer = deferred
    deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=4)).isoformat()
    defer_task(airflow_home, run_id, kwargs(glue_run_id=glue_run_id, deadline=deadline))
    start_triggerer()
    row = wait_for("the trigger to give up", lambda: (r := ti_row(airflow_home, run_id))["state"] == "scheduled" and r)
    event = row["next_kwargs"]["event"]
    assert event["status"] == "error" and event["permanent"] is True, event
    assert "had not ended" in event["message"] and "max_wait" in event["message"], event
    wait_for("the Glue run to stop", lambda: run_state(sim, glue_run_id) in ("STOPPING", "STOPPED"))

