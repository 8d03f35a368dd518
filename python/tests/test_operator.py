"""GluenetJobOperator in real Airflow 2.10 against `gluenet sim serve`, with
the gluenet binary of the installed wheel."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import AIRFLOW, AIRFLOW_MAJOR, JOB, REPO, HERE, Sim, airflow_env, dags_test, gluenet_plan, needs_airflow2

EXAMPLE = REPO / "examples" / "airflow" / "glue_job_dag.py"
TEST_DAGS = HERE / "dags" / "gluenet_test_dags.py"


def operator_env(home: Path, sim: Sim, state: Path, **extra: str) -> dict[str, str]:
    """No AWS_* variables: region, endpoint and credentials come from the
    Airflow connection aws_default, through the operator's aws_conn_id."""
    conn = {"conn_type": "aws", "login": "test", "password": "test",
            "extra": {"region_name": "us-east-1", "endpoint_url": sim.endpoint}}
    return airflow_env(home, AIRFLOW_CONN_AWS_DEFAULT=json.dumps(conn), GLUENET_STATE=str(state), **extra)


def py(home: Path, code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=airflow_env(home),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def task_instances(home: Path, dag_id: str) -> list[dict]:
    """The task instances of the DAG's newest run (by logical date), with
    their gluenet result from XCom. (`dags test` leaves start_date empty.)"""
    if AIRFLOW_MAJOR >= 3:
        # Renamed in Airflow 3: logical_date; and airflow.models.XCom is now
        # the Task SDK's class, the table's model is XComModel.
        date = "logical_date"
        xcom_import = "from airflow.models.xcom import XComModel as XCom; value = XCom.deserialize_value"
    else:
        date = "execution_date"
        xcom_import = "from airflow.models import XCom; value = lambda x: x.value"
    out = py(home, f"""
        import json
        from airflow.models import TaskInstance, DagRun
        {xcom_import}
        from airflow.utils.session import create_session
        with create_session() as s:
            dr = s.query(DagRun).filter(DagRun.dag_id == {dag_id!r}).order_by(DagRun.{date}.desc()).first()
            rows = []
            for ti in s.query(TaskInstance).filter(TaskInstance.dag_id == dr.dag_id, TaskInstance.run_id == dr.run_id):
                x = s.query(XCom).filter(XCom.dag_id == ti.dag_id, XCom.run_id == ti.run_id, XCom.task_id == ti.task_id,
                                         XCom.map_index == ti.map_index, XCom.key == "return_value").one_or_none()
                rows.append(dict(run_id=ti.run_id, map_index=ti.map_index, state=ti.state, try_number=ti.try_number,
                                 max_tries=ti.max_tries, result=value(x) if x else None))
            print(json.dumps(rows, default=str))
    """)
    return sorted(json.loads(out), key=lambda r: r["map_index"])


@pytest.mark.parametrize("scenario", ["default", "ip-pressure"])
def test_example_dag_picks_what_plan_picks(airflow_home, sim_factory, tmp_path, pg_state_conn, scenario):
    """The example as it is, its state in Postgres (its postgres_conn_id)."""
    sim = sim_factory(scenario)
    want = gluenet_plan(sim, tmp_path / "plan.db", "capacity")
    before = sim.job()
    env = operator_env(airflow_home, sim, tmp_path / "unused.db", AIRFLOW_CONN_GLUENET_STATE=pg_state_conn)
    run = dags_test(airflow_home, EXAMPLE, "gluenet_glue_job_dag", env)
    assert run.succeeded, run.output[-4000:]
    assert sim.job_connections() == want
    ti = task_instances(airflow_home, "gluenet_glue_job_dag")[0]
    assert ti["state"] == "success" and ti["try_number"] == 1
    res = ti["result"]
    print("\n".join(run.lines(r"connection order|Good conn|Usable conn|run key|Running /")))
    assert res["result"] == "succeeded" and res["order"] == want
    assert res["glue_run_id"] == sim.job_runs()[0]["Id"]
    assert res["run_key"].startswith("airflow/gluenet_glue_job_dag/") and res["run_key"].endswith("/glue_task/c0")
    assert [r["JobRunState"] for r in sim.job_runs()] == ["SUCCEEDED"]
    # gluenet's log lines are in the task log, and so are the run's own
    # CloudWatch lines (verbose=True).
    assert run.lines(r"Running Glue job with the connection order"), run.output[-3000:]
    assert run.lines(r"output \| The driver node has been assigned the ip"), run.output[-3000:]
    assert not run.lines(r"state is local to this worker"), "shared state: no warning"
    assert not (tmp_path / "unused.db").exists(), "the Postgres connection wins over GLUENET_STATE"
    after = sim.job()
    assert {k: v for k, v in after.items() if k not in ("Connections", "LastModifiedOn")} == \
        {k: v for k, v in before.items() if k not in ("Connections", "LastModifiedOn")}


def test_degraded_zone_gluenet_moves_zones_inside_one_try(airflow_home, sim_factory, tmp_path):
    sim = sim_factory("az-degraded")
    run = dags_test(airflow_home, TEST_DAGS, "gluenet_fast", operator_env(airflow_home, sim, tmp_path / "s.db"))
    assert run.succeeded, run.output[-4000:]
    ti = task_instances(airflow_home, "gluenet_fast")[0]
    assert ti["try_number"] == 1, "one Airflow try"
    attempts = ti["result"]["attempts"]
    assert len(attempts) == 2
    zones = [a.get("availability_zone") or a.get("az") for a in attempts]
    assert attempts[0]["state"] == "FAILED" and attempts[1]["state"] == "SUCCEEDED", attempts
    assert attempts[1]["order"][0] == "MWAA-Glue-Blog-Subnet2", attempts
    assert sorted(r["JobRunState"] for r in sim.job_runs()) == ["FAILED", "SUCCEEDED"], zones


@pytest.mark.parametrize("scenario", ["default", "ip-pressure", "az-degraded"])
def test_deferrable_end_to_end(airflow_home, sim_factory, tmp_path, scenario):
    sim = sim_factory(scenario)
    want = gluenet_plan(sim, tmp_path / "plan.db", "capacity")
    run = dags_test(airflow_home, TEST_DAGS, "gluenet_deferrable", operator_env(airflow_home, sim, tmp_path / "s.db"))
    assert run.succeeded, run.output[-4000:]
    assert run.lines(r"Trigger completed"), "the task deferred to the trigger"
    assert run.lines(r"gluenet run .*: Glue run jr_\w+ (SUCCEEDED|FAILED)"), "the trigger polled gluenet status"
    assert run.lines(r"The driver node has been assigned the ip"), "verbose=True: the run's CloudWatch lines, deferred too"
    ti = task_instances(airflow_home, "gluenet_deferrable")[0]
    res = ti["result"]
    assert res["result"] == "succeeded" and res["glue_run_id"] == res["attempts"][-1]["run_id"]
    runs = sim.job_runs()
    if scenario == "az-degraded":
        assert len(res["attempts"]) == 2 and sorted(r["JobRunState"] for r in runs) == ["FAILED", "SUCCEEDED"]
        assert run.lines(r"next step at"), "the backoff between attempts is a DateTimeTrigger"
    else:
        assert res["attempts"][0]["order"] == want and [r["JobRunState"] for r in runs] == ["SUCCEEDED"]


def test_deferrable_task_waits_for_room(airflow_home, sim_factory, tmp_path):
    """Both subnets hold 1 free IP, fewer than the job's 2 workers: the
    deferred task waits for room (admit_wait), changing nothing, until
    another workload frees PrivateSubnet2, then runs at full capacity."""
    import threading

    sim = sim_factory("default")
    for subnet in ("subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60022"):
        sim.fault("exhaust", subnet, "1")
    room = threading.Timer(8.0, lambda: sim.fault("exhaust", "subnet-0a1b2c3d4e5f60022", "40"))
    room.start()
    try:
        run = dags_test(airflow_home, TEST_DAGS, "gluenet_admission", operator_env(airflow_home, sim, tmp_path / "s.db"))
    finally:
        room.cancel()
    assert run.succeeded, run.output[-4000:]
    assert run.lines(r"waiting for room: needs 2 IPs"), "the task log says why it waits"
    res = task_instances(airflow_home, "gluenet_admission")[0]["result"]
    first = res["attempts"][0]
    assert res["result"] == "succeeded" and first.get("waited_for_room_s", 0) > 0, res
    assert "under_capacity" not in first, "started with room for the whole run"
    assert [r["JobRunState"] for r in sim.job_runs()] == ["SUCCEEDED"], "one run, started once there was room"


@pytest.mark.parametrize("dag_id,message", [
    ("gluenet_bad_strategy", "fastest"),
    ("gluenet_unknown_job", "NoSuchJob"),
])
def test_bad_settings_fail_at_once(airflow_home, sim_factory, tmp_path, dag_id, message):
    sim = sim_factory("default")
    before = sim.job()
    run = dags_test(airflow_home, TEST_DAGS, dag_id, operator_env(airflow_home, sim, tmp_path / "s.db"))
    assert not run.succeeded
    errors = run.lines(r"gluenet: ")
    assert any(message in l for l in errors), run.output[-3000:]
    assert run.lines(r"bad settings \(exit 2, no retry\)"), run.output[-3000:]
    ti = task_instances(airflow_home, dag_id)[0]
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti  # retries=2, none used
    assert sim.job() == before and sim.job_runs() == []


def test_mapped_instances_never_share_a_key(airflow_home, sim_factory, tmp_path):
    sim = sim_factory("default")
    run = dags_test(airflow_home, TEST_DAGS, "gluenet_mapped", operator_env(airflow_home, sim, tmp_path / "s.db"))
    assert run.succeeded, run.output[-4000:]
    tis = task_instances(airflow_home, "gluenet_mapped")
    keys = sorted(t["result"]["run_key"] for t in tis)
    assert len(keys) == 2 and keys[0].endswith("/glue_task/0/c0") and keys[1].endswith("/glue_task/1/c0")
    assert len(sim.job_runs()) == 2


# These two drive by hand what Airflow 2's scheduler and LocalTaskJob do
# (`airflow tasks run --local` on a queued task instance, handle_failure
# for the zombie): Airflow 3 removed those paths (tasks run under the Task
# SDK's supervisor, talking to the API server), so they run on Airflow 2 only.
TASK_RUNNER_NEEDS_AIRFLOW2 = needs_airflow2(
    "drives Airflow 2's task runner by hand (`airflow tasks run --local` on a queued task instance made with "
    "create_dagrun(execution_date=...); the kill test also TaskInstance.handle_failure), removed in Airflow 3")


@TASK_RUNNER_NEEDS_AIRFLOW2
def test_kill_9_then_retry_reattaches_and_clear_runs_again(airflow_home, sim_factory, tmp_path):
    """kill -9 of the task's process while its Glue run goes: gluenet (in
    its own session) is orphaned and ends at its next write to the task's
    closed pipes, or runs to its end; the Glue run goes on; Airflow marks the
    try failed and its retry re-attaches to that run: one Glue run, and the
    task ends with the run's real outcome. Clearing the task that succeeded
    then runs the job again."""
    scen = tmp_path / "slow.yaml"
    src = (REPO / "sim" / "scenarios" / "default.yaml").read_text()
    scen.write_text(src.replace("time_scale: 200", "time_scale: 40"))  # a run lasts about 16 s
    sim = sim_factory(str(scen))
    env = operator_env(airflow_home, sim, tmp_path / "s.db")
    run_id = "kill_test"
    py(airflow_home, f"""
        from airflow.models import DagBag
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunType
        import pendulum
        dag = DagBag({str(TEST_DAGS)!r}, include_examples=False).get_dag("gluenet_kill")
        dag.sync_to_db()
        now = pendulum.now("UTC")
        dag.create_dagrun(run_id={run_id!r}, state=DagRunState.RUNNING, execution_date=now,
                          data_interval=(now, now), run_type=DagRunType.MANUAL, external_trigger=True)
    """)
    cmd = [AIRFLOW, "tasks", "run", "gluenet_kill", "glue_task", run_id, "--local", "-S", str(TEST_DAGS)]

    def schedule():
        # What Airflow 2.10's scheduler does before each try (DagRun.schedule_tis):
        # state scheduled, try_number + 1; then the executor queues it. `tasks run` alone does neither.
        py(airflow_home, f"""
            from airflow.models import TaskInstance
            from airflow.utils.session import create_session
            with create_session() as s:
                ti = s.query(TaskInstance).filter_by(dag_id="gluenet_kill", task_id="glue_task", run_id={run_id!r}).one()
                ti.try_number += 1
                ti.state = "queued"  # scheduled, then queued by the executor
        """)

    def task_log(try_number):
        return (airflow_home / "logs" / "dag_id=gluenet_kill" / f"run_id={run_id}" / "task_id=glue_task"
                / f"attempt={try_number}.log").read_text()

    schedule()
    sup = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Wait for the Glue run to be going, then kill -9 the process running
    # the task (gluenet's parent).
    deadline = time.monotonic() + 120
    victim = None
    while time.monotonic() < deadline and victim is None:
        runs = sim.job_runs()
        if runs and runs[0]["JobRunState"] == "RUNNING":
            for p in psutil.process_iter(["cmdline"]):
                cl = p.info["cmdline"] or []
                if cl and cl[0].endswith("gluenet") and "airflow/gluenet_kill/kill_test/glue_task/c0" in cl:
                    victim = p.parent()
        time.sleep(0.2)
    assert victim is not None, "the Glue run never started"
    victim.kill()
    out1, _ = sup.communicate(timeout=120)
    assert sup.returncode is not None
    runs = sim.job_runs()
    assert len(runs) == 1 and runs[0]["JobRunState"] == "RUNNING", (runs, out1[-2000:])
    # The try is left "running" with no process: Airflow 2.10's scheduler
    # finds such zombies (after scheduler_zombie_task_threshold, 5 minutes
    # by default) and fails them through handle_failure, which puts the task
    # up for retry. The test does that step itself instead of waiting.
    py(airflow_home, f"""
        from airflow.models import DagBag, TaskInstance
        dag = DagBag({str(TEST_DAGS)!r}, include_examples=False).get_dag("gluenet_kill")
        ti = TaskInstance(dag.get_task("glue_task"), run_id={run_id!r})
        ti.refresh_from_db()
        assert ti.state == "running", ti.state
        ti.handle_failure("Detected zombie (the test's kill -9)")
    """)
    ti = task_instances(airflow_home, "gluenet_kill")[0]
    assert ti["state"] == "up_for_retry", (ti, out1[-3000:])

    assert "Task exited with return code -9" in task_log(1)

    # Airflow's retry (what the scheduler would start once retry_delay passed).
    schedule()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    ti = task_instances(airflow_home, "gluenet_kill")[0]
    runs = sim.job_runs()
    assert len(runs) == 1, f"a second Glue run was started: {runs}"
    assert ti["state"] == "success" and ti["try_number"] == 2, (ti, r.stdout[-3000:])
    assert ti["result"]["result"] == "succeeded" and ti["result"]["attempts"][0]["run_id"] == runs[0]["Id"]
    log2 = task_log(2)
    assert "recorded new run" not in log2 and "started Glue job run" not in log2, log2[-3000:]
    assert ti["result"]["run_key"].endswith("/glue_task/c0")

    # Clearing the task that succeeded runs the job again, under a new key.
    subprocess.run([AIRFLOW, "tasks", "clear", "gluenet_kill", "-t", "glue_task", "-y", "-S", str(TEST_DAGS)],
                   env=env, check=True, capture_output=True, text=True)
    schedule()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    ti = task_instances(airflow_home, "gluenet_kill")[0]
    assert ti["state"] == "success", (ti, r.stdout[-3000:])
    assert ti["result"]["run_key"].endswith("/glue_task/c2"), ti["result"]["run_key"]
    assert len(sim.job_runs()) == 2


@TASK_RUNNER_NEEDS_AIRFLOW2
def test_killing_the_task_stops_the_glue_run(airflow_home, sim_factory, tmp_path):
    """A task killed the way Airflow kills one (SIGTERM to `airflow tasks run
    --local`, as when it is marked failed or times out): Airflow calls the
    operator's on_kill, which interrupts gluenet (SIGINT); gluenet stops the
    Glue run (BatchStopJobRun), waits for it, and exits 130."""
    scen = tmp_path / "slow.yaml"
    src = (REPO / "sim" / "scenarios" / "default.yaml").read_text()
    scen.write_text(src.replace("time_scale: 200", "time_scale: 40"))
    sim = sim_factory(str(scen))
    env = operator_env(airflow_home, sim, tmp_path / "s.db")
    run_id = "interrupt_test"
    py(airflow_home, f"""
        from airflow.models import DagBag, TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunType
        import pendulum
        dag = DagBag({str(TEST_DAGS)!r}, include_examples=False).get_dag("gluenet_interrupt")
        dag.sync_to_db()
        now = pendulum.now("UTC")
        dag.create_dagrun(run_id={run_id!r}, state=DagRunState.RUNNING, execution_date=now,
                          data_interval=(now, now), run_type=DagRunType.MANUAL, external_trigger=True)
        with create_session() as s:  # what the scheduler and the executor do
            ti = s.query(TaskInstance).filter_by(dag_id="gluenet_interrupt", run_id={run_id!r}).one()
            ti.try_number += 1
            ti.state = "queued"
    """)
    cmd = [AIRFLOW, "tasks", "run", "gluenet_interrupt", "glue_task", run_id, "--local", "-S", str(TEST_DAGS)]
    sup = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = sim.job_runs()
        if runs and runs[0]["JobRunState"] == "RUNNING":
            break
        time.sleep(0.2)
    else:
        pytest.fail("the Glue run never started")
    sup.send_signal(signal.SIGTERM)
    sup.communicate(timeout=120)
    runs = sim.job_runs()
    assert len(runs) == 1 and runs[0]["JobRunState"] in ("STOPPING", "STOPPED"), runs
    log = (airflow_home / "logs" / "dag_id=gluenet_interrupt" / f"run_id={run_id}" / "task_id=glue_task"
           / "attempt=1.log").read_text()
    assert "Interrupting gluenet" in log, log[-3000:]
    ti = task_instances(airflow_home, "gluenet_interrupt")[0]
    assert ti["state"] == "failed", ti
