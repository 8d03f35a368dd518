"""The run key of `gluenet run` in a BashOperator is the operator's
(run_key): the rule in docs/state-and-run-keys.md, in real Airflow (2.10 and
3), for a task with retries and for the instances of a mapped task."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

from conftest import CONNECTIONS, JOB, airflow_env, dags_test, gluenet_binary
from test_operator import py

from gluenet_airflow._gluenet import run_key

DAG = """
import datetime as dt
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:
    from airflow.operators.bash import BashOperator
from airflow import DAG

CMD = "{binary} run --job {job} --connections {conns} --strategy capacity --poll-interval 1s --output json --log-format json"
# What the CLI cannot read from Airflow's AIRFLOW_CTX_* variables.
ENV = {{"GLUENET_AIRFLOW_MAP_INDEX": "{{{{ ti.map_index }}}}",
       "GLUENET_AIRFLOW_GENERATION": "{{{{ ti.max_tries - task.retries }}}}"}}

with DAG("gluenet_run_keys", start_date=dt.datetime(2026, 1, 1), schedule=None, catchup=False):
    BashOperator(task_id="plain", retries=2, env=ENV, append_env=True, bash_command=CMD)
    BashOperator.partial(task_id="mapped", retries=1, env=ENV, append_env=True).expand(
        bash_command=[CMD, CMD + " --arg --part=1"])
"""


def test_bash_operator_gets_the_operators_key(airflow_home, sim_factory, tmp_path):
    sim = sim_factory()
    binary = os.environ.get("GLUENET_TEST_BINARY") or gluenet_binary()  # a checkout's build, locally
    state = tmp_path / "state.db"
    dag_file = tmp_path / "dags" / "run_keys.py"
    dag_file.parent.mkdir()
    dag_file.write_text(textwrap.dedent(DAG.format(binary=binary, job=JOB, conns=CONNECTIONS)))
    env = airflow_env(airflow_home, sim, AWS_REGION="us-east-1", GLUENET_STATE=str(state))
    run = dags_test(airflow_home, dag_file, "gluenet_run_keys", env)
    assert run.succeeded, run.output[-4000:]

    r = subprocess.run([binary, "runs", "list", "--output", "json"], env={"PATH": "/usr/bin:/bin", "GLUENET_STATE": str(state)},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    recorded = sorted(run["key"] for run in json.loads(r.stdout))
    tis = json.loads(py(airflow_home, """
        import json
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        with create_session() as s:
            print(json.dumps([dict(run_id=t.run_id, task_id=t.task_id, map_index=t.map_index, max_tries=t.max_tries)
                              for t in s.query(TaskInstance).filter(TaskInstance.dag_id == "gluenet_run_keys")]))
    """))
    retries = {"plain": 2, "mapped": 1}
    want = sorted(run_key("gluenet_run_keys", t["run_id"], t["task_id"], t["map_index"], t["max_tries"], retries[t["task_id"]])
                  for t in tis)
    assert len(tis) == 3 and recorded == want, (recorded, want)
    assert len(set(recorded)) == 3  # the mapped instances have keys of their own
