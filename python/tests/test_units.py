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


@pytest.mark.parametrize("kw,want", [
    ({}, []),  # None: gluenet's own defaults, no flag
    ({"admit_wait": "10m"}, ["--admit-wait", "10m"]),
    ({"admit_wait": 0}, ["--admit-wait", "0s"]),
    ({"admit_wait": dt.timedelta(minutes=2)}, ["--admit-wait", "120s"]),
    ({"when_short": "fail"}, ["--when-short", "fail"]),
    ({"admit_wait": "90", "when_short": "start"}, ["--admit-wait", "90s", "--when-short", "start"]),
])
def test_admission_flags_only_when_set(kw, want):
    from gluenet_airflow.operators import GluenetJobOperator

    args = GluenetJobOperator(task_id="t", job_name="J", **kw).run_args("K")
    assert args[11:] == want, args


def test_when_short_checked():
    from airflow.exceptions import AirflowFailException

    from gluenet_airflow.operators import GluenetJobOperator

    with pytest.raises(AirflowFailException, match="when_short must be one of start, fail"):
        GluenetJobOperator(task_id="t", job_name="J", when_short="wait").run_args("K")


def test_one_xcom_shape_for_run_and_step_output():
    from gluenet_airflow.operators import result_doc

    attempts = [{"attempt": 1, "run_id": "jr_1", "order": ["a", "b"], "state": "FAILED"},
                {"attempt": 2, "run_id": "jr_2", "order": ["b", "a"], "state": "SUCCEEDED"}]
    run = {"job": "J", "run_key": "K", "result": "succeeded", "order": ["b", "a"], "connections": [],
           "attempts": attempts}
    step = {"run_key": "K", "job": "J", "done": True, "result": "succeeded", "exit_code": 0, "attempt": 2,
            "glue_run_id": "jr_2", "state": "SUCCEEDED", "wait": None, "attempts": attempts}
    assert result_doc(run) == result_doc(step) == {
        "job": "J", "run_key": "K", "result": "succeeded", "error": None, "glue_run_id": "jr_2",
        "order": ["b", "a"], "attempts": attempts}


def test_operator_follows_airflow_conventions():
    from airflow.providers.amazon.aws.links.glue import GlueJobRunDetailsLink
    from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

    from gluenet_airflow.hooks import GluenetHook
    from gluenet_airflow.operators import GluenetJobOperator

    op = GluenetJobOperator(task_id="t", job_name="J", aws_conn_id="c", region_name="eu-west-1", verify="/ca.pem",
                            botocore_config={"retries": {"max_attempts": 3}}, postgres_conn_id="pg")
    assert isinstance(op, AwsBaseOperator) and op.aws_hook_class is GluenetHook
    assert {"aws_conn_id", "region_name", "verify", "botocore_config"} <= set(op.template_fields)
    assert any(isinstance(l, GlueJobRunDetailsLink) for l in op.operator_extra_links)
    assert op._hook_parameters["postgres_conn_id"] == "pg" and op._hook_parameters["verify"] == "/ca.pem"


def test_deferrable_defaults_from_airflow_config(tmp_path):
    import subprocess
    import sys

    code = ("from gluenet_airflow.operators import GluenetJobOperator as O; "
            "print(O(task_id='t', job_name='J').deferrable)")
    for value, want in (("True", "True"), ("False", "False")):
        env = {**__import__("os").environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": value}
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.strip().splitlines()[-1] == want


@pytest.mark.parametrize("conn,env_in,want,absent", [
    # No credentials in the connection: the SDK chain (MWAA's execution role), nothing passed.
    ({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}, {}, {"AWS_REGION": "us-east-1"},
     ["AWS_ACCESS_KEY_ID"]),
    # Static keys and a CA bundle.
    ({"conn_type": "aws", "login": "AKIAX", "password": "sx", "extra": {"verify": "/etc/ca.pem"}}, {},
     {"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "sx", "AWS_CA_BUNDLE": "/etc/ca.pem"}, []),
    # A profile in the worker's shared files: its keys, as boto3 reads them.
    ({"conn_type": "aws", "extra": {"profile_name": "etl"}}, {"profile": "etl"},
     {"AWS_ACCESS_KEY_ID": "AKIAPROFILE", "AWS_SECRET_ACCESS_KEY": "sp"}, ["AWS_PROFILE"]),
])
def test_hook_env_from_the_connection(monkeypatch, tmp_path, conn, env_in, want, absent):
    from gluenet_airflow.hooks import GluenetHook

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(k, raising=False)
    if "profile" in env_in:
        f = tmp_path / "credentials"
        f.write_text("[etl]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = sp\n")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(f))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AIRFLOW_CONN_GLUENET_T", json.dumps(conn))
    hook = GluenetHook(aws_conn_id="gluenet_t", region_name="us-east-1", state="/tmp/s.db")
    env = hook.env(hook.session_credentials(), base={})
    for k, v in want.items():
        assert env.get(k) == v, (k, env)
    for k in absent:
        assert k not in env
    assert env["GLUENET_STATE"] == "/tmp/s.db" and not hook.state_is_shared(env)
    assert hook.state_is_shared({"GLUENET_STATE": "dynamodb://t"})


@pytest.mark.parametrize("executor,state,warns", [
    ("CeleryExecutor", "/tmp/s.db", True),
    ("KubernetesExecutor", None, True),
    ("CeleryExecutor", "dynamodb://gluenet", False),
    ("LocalExecutor", "/tmp/s.db", False),
])
def test_warns_when_state_is_local_on_a_multi_worker_executor(monkeypatch, executor, state, warns):
    from gluenet_airflow.hooks import GluenetHook
    from gluenet_airflow.operators import GluenetJobOperator

    class Log:
        text = ""

        def warning(self, msg, *args):
            self.text += msg % args

    log = Log()
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    monkeypatch.setattr(GluenetJobOperator, "log", property(lambda self: log))
    op = GluenetJobOperator(task_id="t", job_name="J", aws_conn_id=None, state=state)
    hook = GluenetHook(aws_conn_id=None, state=state)
    op._warn_local_state(hook, hook.env(base={}))
    assert ("state is local to this worker" in log.text) is warns, log.text


def _shared_run_key_cases():
    """testdata/airflow-run-keys.json: the cases the Go side (internal/runkey)
    reads too, so that the CLI and the operator give one task instance one key."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "testdata" / "airflow-run-keys.json"
    return json.loads(path.read_text())["cases"]


@pytest.mark.parametrize("case", _shared_run_key_cases(), ids=lambda c: c["name"])
def test_run_key_shared_with_go(case):
    ti = case["ti"]
    got = run_key(ti["dag_id"], ti["run_id"], ti["task_id"], ti["map_index"], ti["max_tries"], ti["retries"])
    assert got == case["key"]
