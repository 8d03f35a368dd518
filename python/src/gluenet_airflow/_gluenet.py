"""What the hook, the operator and the trigger share: finding the gluenet
binary, run keys, the state DSN, and reading gluenet's JSON output.

Nothing here imports Airflow at module level except what both the worker and
the triggerer have, so that the trigger stays importable in the triggerer.
"""

from __future__ import annotations

import json
import os
import shutil
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

    The CLI builds the same key from a task's environment (Go's
    internal/runkey); testdata/airflow-run-keys.json holds both to it and
    docs/state-and-run-keys.md states the rule.
    """
    generation = max(max_tries - retries, 0)
    key = f"airflow/{dag_id}/{run_id}/{task_id}"
    if map_index is not None and map_index >= 0:
        key += f"/{map_index}"
    return f"{key}/c{generation}"


def run_key_from_context(context: Mapping[str, Any], retries: int) -> str:
    ti = context["ti"]
    return run_key(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), ti.max_tries, retries)


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
