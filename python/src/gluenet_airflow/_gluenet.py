"""What the operator and the trigger share: finding the gluenet binary, the
environment it runs with, run keys, and reading its JSON output.

Nothing here imports Airflow at module level except what both the worker and
the triggerer have, so that the trigger stays importable in the triggerer.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from typing import Any, Mapping

# gluenet's documented exit codes (see the README's "Exit codes").
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
EXIT_AWS = 4
EXIT_INTERRUPTED = 130

# Glue job run states after which a run changes no more.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"})


class GluenetNotFound(RuntimeError):
    """No gluenet binary: not in the wheel, not on PATH, no gluenet_path."""


def find_gluenet(gluenet_path: str | None = None) -> str:
    """The gluenet binary to run: gluenet_path when given, else the one in
    this package (platform wheels carry it), else gluenet on PATH."""
    if gluenet_path:
        if not os.access(gluenet_path, os.X_OK):
            raise GluenetNotFound(f"gluenet_path {gluenet_path!r} is not an executable file")
        return gluenet_path
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "gluenet")
    if os.path.isfile(bundled):
        if not os.access(bundled, os.X_OK):
            # pip keeps the mode a wheel records; a zip made without it (or a
            # plugins.zip) may lose the execute bit.
            try:
                os.chmod(bundled, 0o755)
            except OSError as e:
                raise GluenetNotFound(f"{bundled} is not executable and cannot be made so: {e}") from e
        return bundled
    found = shutil.which("gluenet")
    if found:
        return found
    raise GluenetNotFound(
        "no gluenet binary: install a platform wheel of gluenet-airflow (it carries one), "
        "put gluenet on PATH, or give gluenet_path"
    )


def run_key(dag_id: str, run_id: str, task_id: str, map_index: int, max_tries: int, retries: int) -> str:
    """The run key of a task instance.

    A retry of the task must find the Glue run its earlier try started, so
    the key holds what does not change between tries: DAG, DAG run, task,
    map index (mapped instances never share a key). Clearing a task that
    succeeded must run the job again, so the key also holds a clear count:
    Airflow sets ``max_tries = retries`` when it creates a task instance and
    ``max_tries = try_number + retries`` whenever the instance is cleared,
    and never touches it on a retry, so ``max_tries - retries`` is 0 until
    the first clear and then the try number at which the instance was last
    cleared. It changes on every clear and never on a retry. (Changing the
    task's ``retries`` in the DAG file while a try is failing also changes
    it: the next try then starts a new run.)
    """
    generation = max(max_tries - retries, 0)
    key = f"airflow/{dag_id}/{run_id}/{task_id}"
    if map_index is not None and map_index >= 0:
        key += f"/{map_index}"
    return f"{key}/c{generation}"


def run_key_from_context(context: Mapping[str, Any], retries: int) -> str:
    ti = context["ti"]
    return run_key(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), ti.max_tries, retries)


@dataclass
class EnvSpec:
    """Where gluenet's AWS access and state come from: Airflow connection
    ids and plain settings, serializable into a trigger (no secrets)."""

    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    postgres_conn_id: str | None = None
    state_path: str | None = None

    def serialize(self) -> dict:
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "postgres_conn_id": self.postgres_conn_id,
            "state_path": self.state_path,
        }


def build_env(spec: EnvSpec, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment gluenet runs with: this process's, plus credentials,
    region and endpoint from the Airflow AWS connection, and the state
    store (a Postgres DSN from an Airflow connection, or a SQLite file).

    Credentials are passed only when the connection holds them (keys, or a
    role to assume); otherwise gluenet uses the SDK's default chain, which
    on MWAA is the environment's execution role and refreshes by itself.
    """
    env = dict(os.environ if base is None else base)
    if spec.aws_conn_id:
        env.update(_aws_env(spec.aws_conn_id, spec.region_name))
    elif spec.region_name:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = spec.region_name
    if spec.postgres_conn_id:
        env["GLUENET_POSTGRES_DSN"] = postgres_dsn(spec.postgres_conn_id)
        env.pop("GLUENET_STATE", None)
    elif spec.state_path:
        env["GLUENET_STATE"] = spec.state_path
    return env


def _aws_env(aws_conn_id: str, region_name: str | None) -> dict[str, str]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="glue", region_name=region_name)
    cfg = hook.conn_config
    out: dict[str, str] = {}
    region = region_name or cfg.region_name
    if region:
        out["AWS_REGION"] = out["AWS_DEFAULT_REGION"] = region
    if cfg.endpoint_url:
        out["AWS_ENDPOINT_URL"] = cfg.endpoint_url
    if cfg.aws_access_key_id and cfg.aws_secret_access_key:
        out["AWS_ACCESS_KEY_ID"] = cfg.aws_access_key_id
        out["AWS_SECRET_ACCESS_KEY"] = cfg.aws_secret_access_key
        if cfg.aws_session_token:
            out["AWS_SESSION_TOKEN"] = cfg.aws_session_token
    elif cfg.role_arn:
        # The hook assumes the role; gluenet gets the session's temporary
        # credentials (they last as long as the role's session duration).
        creds = hook.get_credentials(region_name=region)
        out["AWS_ACCESS_KEY_ID"] = creds.access_key
        out["AWS_SECRET_ACCESS_KEY"] = creds.secret_key
        if creds.token:
            out["AWS_SESSION_TOKEN"] = creds.token
    return out


def postgres_dsn(conn_id: str) -> str:
    """A postgres:// DSN from an Airflow connection (host, port, login,
    password, schema = database; extras become query parameters)."""
    from urllib.parse import quote, urlencode

    from airflow.hooks.base import BaseHook

    c = BaseHook.get_connection(conn_id)
    if c.conn_type not in ("postgres", "postgresql"):
        raise ValueError(f"postgres_conn_id {conn_id!r} is a {c.conn_type!r} connection; want postgres")
    auth = ""
    if c.login:
        auth = quote(c.login, safe="")
        if c.password:
            auth += ":" + quote(c.password, safe="")
        auth += "@"
    host = c.host or "localhost"
    port = f":{c.port}" if c.port else ""
    db = quote(c.schema or "postgres", safe="")
    extra = {k: str(v) for k, v in (c.extra_dejson or {}).items() if isinstance(v, (str, int, float, bool))}
    query = ("?" + urlencode(extra)) if extra else ""
    return f"postgres://{auth}{host}{port}/{db}{query}"


def parse_output(stdout: str) -> dict | None:
    """gluenet's JSON document on stdout (--output json), or None."""
    text = stdout.strip()
    if not text:
        return None
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return None
    return v if isinstance(v, dict) else None


def error_line(stderr_lines: list[str]) -> str:
    """gluenet's own message: its last stderr line starting "gluenet: "."""
    for line in reversed(stderr_lines):
        if line.startswith("gluenet: "):
            return line[len("gluenet: ") :]
    return stderr_lines[-1] if stderr_lines else ""


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn for gluenet: on Linux, gluenet gets SIGKILL when the
    task's process dies (kill -9, OOM), instead of living on as an orphan.
    The Glue run goes on in Glue, recorded under its run key; the task's
    retry re-attaches to it."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
