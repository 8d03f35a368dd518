"""The AWS post's DAG ("Combine AWS Glue and Amazon MWAA to build advanced VPC
selection and failover strategies"), rewritten with gluenet.

The post's task ranks the connections with boto3, rewrites the whole job
definition through GlueJobOperator(update_config=True) and relies on
Airflow's retries (a new Glue run each time) to fail over. Here gluenet
does all of it inside one task try: it ranks the connections, writes only
the connection order into the job, runs it, and on a failure worth retrying
re-ranks (the zone that failed is remembered) and runs again. Airflow's
retry is left for what gluenet cannot handle itself (AWS errors, a worker
that died): it re-attaches to the Glue run already started, never starts a
second one.

Same three Variables as the post:
  glue_job_dag.glue_connections  MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2
  glue_job_dag.glue_job_name     AirflowBlogJob
  glue_job_dag.strategy          capacity (or random; gluenet also has weighted, spread, prefer-az)
They are read when the task runs (templates), not when the DAG is parsed.

gluenet's state is shared by every worker and the triggerer: here in the
Postgres of the Airflow connection "gluenet_state" (docs/mwaa.md, section
4). Without a shared state each worker keeps its own SQLite file, and a
retry that lands on another worker cannot find the Glue run the first try
started (the operator warns about it in the task log). On MWAA, DynamoDB
works too: state="dynamodb://<table>" instead of postgres_conn_id.
"""

from pendulum import datetime, duration

from airflow import DAG
from gluenet_airflow.operators import GluenetJobOperator

with DAG(
    dag_id="gluenet_glue_job_dag",
    schedule=None,  # run on demand only
    start_date=datetime(2000, 1, 1),
    max_active_runs=1,
    catchup=False,
) as glue_dag:
    GluenetJobOperator(
        task_id="glue_task",
        job_name="{{ var.value.get('glue_job_dag.glue_job_name') | trim }}",
        connections="{{ var.value.get('glue_job_dag.glue_connections') | trim }}",
        strategy="{{ var.value.get('glue_job_dag.strategy', 'random') | trim }}",
        attempts=3,  # gluenet's: the first run and two retries, each re-ranked
        verbose=True,  # the run's CloudWatch logs in the task log
        postgres_conn_id="gluenet_state",  # shared state: required with more than one worker
        retries=1,
        retry_delay=duration(seconds=30),
    )
