"""Variants of examples/airflow/glue_job_dag.py for the tests: short gluenet
backoff and polling (the example's defaults are real-world ones), deferrable
mode, bad settings, a mapped task. They read the same three Variables."""

from pendulum import datetime, duration

from airflow import DAG
from gluenet_airflow.operators import GluenetJobOperator

COMMON = dict(
    job_name="{{ var.value.get('glue_job_dag.glue_job_name') | trim }}",
    connections="{{ var.value.get('glue_job_dag.glue_connections') | trim }}",
    strategy="{{ var.value.get('glue_job_dag.strategy', 'random') | trim }}",
    attempts=3,
    backoff=1,
    job_poll_interval=0.5,
)


def dag(dag_id, **kw):
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2000, 1, 1), catchup=False, **kw)


with dag("gluenet_fast"):
    GluenetJobOperator(task_id="glue_task", verbose=True, retries=1, retry_delay=duration(seconds=1), **COMMON)

with dag("gluenet_deferrable"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, retries=1, verbose=True,
                       retry_delay=duration(seconds=1), **COMMON)

# Capacity-aware admission in deferrable mode: the task waits for room
# (a DateTimeTrigger between looks), then runs.
with dag("gluenet_admission"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, admit_wait="5m", when_short="start",
                       **COMMON)

with dag("gluenet_bad_strategy"):
    GluenetJobOperator(task_id="glue_task", retries=2, **{**COMMON, "strategy": "fastest"})

with dag("gluenet_unknown_job"):
    GluenetJobOperator(task_id="glue_task", retries=2, **{**COMMON, "job_name": "NoSuchJob"})

with dag("gluenet_mapped"):
    GluenetJobOperator.partial(task_id="glue_task", **COMMON).expand(script_args=[{"--part": "a"}, {"--part": "b"}])

# For the triggerer tests: a deferred instance of this task is made by the
# test (its Glue run started with `gluenet run --detach`), and a separate
# `airflow triggerer` process runs its trigger.
with dag("gluenet_triggerer"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, aws_conn_id="gluenet_aws", **COMMON)

# For the assumed-role test: the connection gluenet_role has keys and a role_arn.
with dag("gluenet_role"):
    GluenetJobOperator(task_id="glue_task", aws_conn_id="gluenet_role", **COMMON)

# For test_deployment.py (a real scheduler, triggerer and, on Airflow 3,
# API server): a sync task with one retry at once, and a deferrable one.
with dag("gluenet_sched_sync"):
    GluenetJobOperator(task_id="glue_task", retries=1, retry_delay=duration(seconds=0), **COMMON)

with dag("gluenet_sched_deferred"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, retries=0, **COMMON)

# Deferrable tasks on the connection gluenet_rot (metadata database, keys
# rotated by the test; a slower region behind a proxy that sees every key):
# one to its end, one bounded by max_wait.
with dag("gluenet_sched_rotation"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, retries=0, aws_conn_id="gluenet_rot",
                       **COMMON)

with dag("gluenet_sched_bound"):
    GluenetJobOperator(task_id="glue_task", deferrable=True, poll_interval=0.5, retries=0, aws_conn_id="gluenet_rot",
                       max_wait=duration(seconds=20), **COMMON)
