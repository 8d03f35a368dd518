"""The operator's pure parts: run keys, gluenet's flags, the Postgres DSN,
the provider registration. No Airflow run, no simulated region."""

from __future__ import annotations

import datetime as dt
import json
from importlib.metadata import entry_points

import pytest

from gluenet_airflow._gluenet import error_line, parse_output, run_key


@pytest.mark.parametrize("name,a,b,same", [
    # (dag, run, task, map_index, max_tries, retries)
    ("a retry keeps the key", ("d", "r", "t", -1, 2, 2), ("d", "r", "t", -1, 2, 2), True),
    ("a clear after try 1 changes it", ("d", "r", "t", -1, 2, 2), ("d", "r", "t", -1, 3, 2), False),
    ("a second clear changes it again", ("d", "r", "t", -1, 3, 2), ("d", "r", "t", -1, 5, 2), False),
    ("mapped instances differ", ("d", "r", "t", 0, 2, 2), ("d", "r", "t", 1, 2, 2), False),
    ("map index 0 is not the unmapped task", ("d", "r", "t", 0, 2, 2), ("d", "r", "t", -1, 2, 2), False),
    ("DAG runs differ", ("d", "r1", "t", -1, 0, 0), ("d", "r2", "t", -1, 0, 0), False),
])
def test_run_key(name, a, b, same):
    assert (run_key(*a) == run_key(*b)) is same, (run_key(*a), run_key(*b))


def test_run_key_shape():
    assert run_key("dag", "manual__x", "task", -1, 2, 2) == "airflow/dag/manual__x/task/c0"
    assert run_key("dag", "manual__x", "task", 3, 5, 2) == "airflow/dag/manual__x/task/3/c3"


def test_run_args():
    from airflow.exceptions import AirflowFailException

    from gluenet_airflow.operators import GluenetJobOperator

    op = GluenetJobOperator(
        task_id="t", job_name="J", connections=" a, b ,", strategy="capacity", need_ips=10, min_ips=3,
        prefer_az=["us-east-1b"], attempts=4, backoff=dt.timedelta(seconds=30), max_backoff=600,
        script_args={"--day": "2026-11-27"}, run_job_kwargs={"NumberOfWorkers": 20, "WorkerType": "G.2X", "Timeout": 90},
        verbose=True, stop_job_run_on_kill=False, job_poll_interval=5, retry_job_failures=True,
    )
    args = op.run_args("K")
    want = ["run", "--job", "J", "--run-key", "K", "--output", "json", "--log-format", "text",
            "--log-level", "info", "--connections", "a,b", "--strategy", "capacity", "--need-ips", "10", "--min-ips", "3",
            "--prefer-az", "us-east-1b", "--attempts", "4", "--retry-delay", "30s", "--max-retry-delay", "600s",
            "--poll-interval", "5s", "--retry-job-failures", "--arg", "--day=2026-11-27",
            "--workers", "20", "--worker-type", "G.2X", "--timeout", "90", "--follow-logs", "--no-stop-on-interrupt"]
    assert args == want
    bad = GluenetJobOperator(task_id="t2", job_name="J", run_job_kwargs={"Arguments": {}})
    with pytest.raises(AirflowFailException, match="script_args"):
        bad.run_args("K")


def test_postgres_dsn_from_an_airflow_connection(monkeypatch):
    from gluenet_airflow._gluenet import postgres_dsn

    monkeypatch.setenv("AIRFLOW_CONN_GLUENET_STATE", json.dumps({
        "conn_type": "postgres", "host": "db.internal", "port": 5432, "login": "glue net", "password": "p@ss:word",
        "schema": "gluenet", "extra": {"sslmode": "require"}}))
    assert postgres_dsn("gluenet_state") == "postgres://glue%20net:p%40ss%3Aword@db.internal:5432/gluenet?sslmode=require"
    monkeypatch.setenv("AIRFLOW_CONN_NOT_PG", json.dumps({"conn_type": "aws"}))
    with pytest.raises(ValueError, match="want postgres"):
        postgres_dsn("not_pg")


def test_output_parsing():
    assert parse_output('{"done": true}\n') == {"done": True}
    assert parse_output("") is None and parse_output("not json") is None
    assert error_line(["time=... level=INFO", "gluenet: unknown strategy \"x\"", ""]) == 'unknown strategy "x"'


def test_registered_as_a_provider():
    eps = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("gluenet_airflow")]
    assert len(eps) == 1
    info = eps[0].load()()
    assert info["package-name"] == "gluenet-airflow"
    from airflow.providers_manager import ProvidersManager

    assert "gluenet-airflow" in ProvidersManager().providers
