"""GluenetJobOperator in real Airflow 2.10 against `gluenet sim serve`, with
the gluenet binary of the installed wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import AIRFLOW_MAJOR, REPO, HERE, Sim, airflow_env, dags_test, gluenet_plan

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
