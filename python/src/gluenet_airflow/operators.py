"""GluenetJobOperator: run an AWS Glue job with gluenet from Airflow."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import threading
from typing import Any, Mapping, Sequence

from airflow.exceptions import AirflowException, AirflowFailException
from airflow.models import BaseOperator

from gluenet_airflow._gluenet import (
    EXIT_AWS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    EnvSpec,
    build_env,
    die_with_parent,
    error_line,
    find_gluenet,
    parse_output,
    run_key_from_context,
)

# StartJobRun fields GlueJobOperator users pass in run_job_kwargs that
# gluenet takes as per-run overrides, and the flag for each.
_RUN_OVERRIDES = {"NumberOfWorkers": "--workers", "WorkerType": "--worker-type", "Timeout": "--timeout"}


class GluenetJobOperator(BaseOperator):
    """Run an AWS Glue job with gluenet: rank the job's candidate Glue
    connections (free IPs, zone health), write that order into the job, run
    it, and on a failure worth retrying re-rank and retry, inside one task
    try. The names shared with GlueJobOperator mean the same.

    :param job_name: the Glue job.
    :param connections: candidate Glue connections (a list, or a
        comma-separated string, as in the post's Variable).
    :param strategy: ranking strategy: capacity, ordered, prefer-az,
        random, spread or weighted (gluenet's default).
    :param need_ips: IPs a run needs at full capacity (default: the job's
        NumberOfWorkers).
    :param min_ips: fewest free IPs with which Glue starts a run (2).
    :param prefer_az: preferred zones for the prefer-az strategy.
    :param attempts: gluenet's attempts in all, the first included (3).
    :param backoff: wait before gluenet's first retry (timedelta or
        seconds), doubled for each further retry.
    :param max_backoff: longest wait between gluenet's attempts.
    :param retry_job_failures: retry runs that failed in the job's own code.
    :param script_args: job arguments for StartJobRun (``{"--day": "..."}``).
    :param run_job_kwargs: per-run overrides: NumberOfWorkers, WorkerType,
        Timeout (minutes).
    :param verbose: stream the run's CloudWatch output and error logs into
        the task log (gluenet's ``--follow-logs``).
    :param stop_job_run_on_kill: when the task is killed, stop the Glue run
        (default); False leaves it going.
    :param deferrable: wait for Glue runs in the triggerer instead of
        holding a worker slot.
    :param poll_interval: seconds between checks of a deferred run.
    :param job_poll_interval: seconds between gluenet's GetJobRun polls.
    :param aws_conn_id: Airflow AWS connection: credentials, region,
        endpoint. None: the environment's AWS settings.
    :param region_name: AWS region (overrides the connection's).
    :param postgres_conn_id: Airflow Postgres connection holding gluenet's
        shared state (needed on MWAA, whose containers are ephemeral).
    :param state_path: SQLite state file, when there is no Postgres.
    :param gluenet_path: the gluenet binary (default: the wheel's, else PATH).
    :param extra_args: more gluenet run flags, as a list.
    """

    template_fields: Sequence[str] = (
        "job_name",
        "connections",
        "strategy",
        "prefer_az",
        "script_args",
        "run_job_kwargs",
    )
    template_fields_renderers = {"script_args": "json", "run_job_kwargs": "json"}
    ui_color = "#ededed"

    def __init__(
        self,
        *,
        job_name: str,
        connections: Sequence[str] | str | None = None,
        strategy: str | None = None,
        need_ips: int | None = None,
        min_ips: int | None = None,
        prefer_az: Sequence[str] | str | None = None,
        attempts: int | None = None,
        backoff: dt.timedelta | float | None = None,
        max_backoff: dt.timedelta | float | None = None,
        retry_job_failures: bool = False,
        script_args: Mapping[str, Any] | None = None,
        run_job_kwargs: Mapping[str, Any] | None = None,
        verbose: bool = False,
        stop_job_run_on_kill: bool = True,
        deferrable: bool = False,
        poll_interval: float = 60,
        job_poll_interval: float | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        postgres_conn_id: str | None = None,
        state_path: str | None = None,
        gluenet_path: str | None = None,
        extra_args: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.connections = connections
        self.strategy = strategy
        self.need_ips = need_ips
        self.min_ips = min_ips
        self.prefer_az = prefer_az
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_job_failures = retry_job_failures
        self.script_args = script_args or {}
        self.run_job_kwargs = run_job_kwargs or {}
        self.verbose = verbose
        self.stop_job_run_on_kill = stop_job_run_on_kill
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.job_poll_interval = job_poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.postgres_conn_id = postgres_conn_id
        self.state_path = state_path
        self.gluenet_path = gluenet_path
        self.extra_args = list(extra_args or [])
        self._proc: subprocess.Popen | None = None

    # -- command line -----------------------------------------------------

    @staticmethod
    def _csv(v: Sequence[str] | str | None) -> str | None:
        if v is None:
            return None
        if isinstance(v, str):
            items = [s.strip() for s in v.split(",")]
        else:
            items = [str(s).strip() for s in v]
        items = [s for s in items if s]
        return ",".join(items) if items else None

    @staticmethod
    def _duration(name: str, v: dt.timedelta | float | None) -> str | None:
        if v is None:
            return None
        secs = v.total_seconds() if isinstance(v, dt.timedelta) else float(v)
        if secs < 0:
            raise AirflowFailException(f"{name} must not be negative, got {v!r}")
        return f"{secs:g}s"

    def _env_spec(self) -> EnvSpec:
        return EnvSpec(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            postgres_conn_id=self.postgres_conn_id,
            state_path=self.state_path,
        )

    def run_args(self, key: str) -> list[str]:
        """gluenet run's flags for these settings (without the binary)."""
        # --log-level info: with --output json gluenet logs only warnings
        # unless asked; the task log gets its info lines (the order, the runs).
        args = ["run", "--job", self.job_name, "--run-key", key, "--output", "json", "--log-format", "text",
                "--log-level", "info"]
        conns = self._csv(self.connections)
        if conns:
            args += ["--connections", conns]
        if self.strategy:
            args += ["--strategy", str(self.strategy).strip()]
        if self.need_ips is not None:
            args += ["--need-ips", str(int(self.need_ips))]
        if self.min_ips is not None:
            args += ["--min-ips", str(int(self.min_ips))]
        azs = self._csv(self.prefer_az)
        if azs:
            args += ["--prefer-az", azs]
        if self.attempts is not None:
            args += ["--attempts", str(int(self.attempts))]
        for flag, v in (("--retry-delay", self.backoff), ("--max-retry-delay", self.max_backoff)):
            d = self._duration(flag, v)
            if d:
                args += [flag, d]
        if self.job_poll_interval is not None:
            args += ["--poll-interval", self._duration("job_poll_interval", self.job_poll_interval)]
        if self.retry_job_failures:
            args.append("--retry-job-failures")
        for k, v in self.script_args.items():
            args += ["--arg", f"{k}={v}"]
        for k, v in self.run_job_kwargs.items():
            if k not in _RUN_OVERRIDES:
                raise AirflowFailException(
                    f"run_job_kwargs: {k!r} is not a per-run override gluenet takes; "
                    f"use {', '.join(_RUN_OVERRIDES)} (job arguments go in script_args)"
                )
            args += [_RUN_OVERRIDES[k], str(v)]
        if self.verbose:
            args.append("--follow-logs")
        if not self.stop_job_run_on_kill:
            args.append("--no-stop-on-interrupt")
        return args + self.extra_args

    # -- running gluenet ----------------------------------------------------

    def _gluenet(self, args: list[str], env: dict[str, str]) -> tuple[int, dict | None, list[str]]:
        """Runs gluenet, streaming its log lines into the task log; returns
        its exit code, its JSON output and its stderr lines."""
        binary = find_gluenet(self.gluenet_path)
        self.log.info("Running %s %s", binary, " ".join(args))
        proc = subprocess.Popen(
            [binary, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
            # Its own process group: Airflow kills a task by signalling the
            # task's whole group (SIGTERM), and a second signal ends gluenet
            # at once; on_kill's SIGINT must be the only one it gets, so that
            # it stops the Glue run and waits for it.
            start_new_session=True,
        )
        self._proc = proc
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        lines: list[str] = []
        try:
            for line in proc.stderr:
                line = line.rstrip("\n")
                lines.append(line)
                self.log.info("%s", line)
            code = proc.wait()
            reader.join()
        finally:
            self._proc = None
        return code, parse_output("".join(out)), lines

    def _finish(self, code: int, result: dict | None, lines: list[str], context: Any) -> dict | None:
        """Maps gluenet's exit code onto the task's outcome."""
        if result is not None:
            context["ti"].xcom_push(key="gluenet_result", value=result)
        msg = error_line(lines)
        if code == EXIT_OK:
            return result
        if code == EXIT_USAGE:
            raise AirflowFailException(f"gluenet: bad settings (exit 2, no retry): {msg}")
        if code == EXIT_RUN_FAILED:
            raise AirflowException(f"gluenet: the Glue job run failed after all its attempts (exit 3): {_summary(result, msg)}")
        if code == EXIT_AWS:
            raise AirflowException(f"gluenet: AWS or state store error (exit 4, retryable): {msg}")
        if code == EXIT_INTERRUPTED:
            raise AirflowException(f"gluenet: interrupted (exit 130): {msg}")
        raise AirflowException(f"gluenet exited with code {code}: {msg}")

    def execute(self, context: Any) -> Any:
        key = run_key_from_context(context, self.retries)
        self.log.info("gluenet run key: %s", key)
        env = build_env(self._env_spec())
        args = self.run_args(key)
        if self.deferrable:
            return self._step(context, [*args, "--detach"], env)
        code, result, lines = self._gluenet(args, env)
        return self._finish(code, result, lines, context)

    # -- deferrable mode ------------------------------------------------------

    def _step(self, context: Any, args: list[str], env: dict[str, str]) -> Any:
        """One executor step (run --detach or resume --no-sleep): finish
        when the run is done, else defer until the next check."""
        code, st, lines = self._gluenet(args, env)
        if st is None or "done" not in st:
            # Bad settings fail before any step output.
            return self._finish(code if code != EXIT_OK else 1, None, lines, context)
        if st["done"]:
            return self._finish(st.get("exit_code", code), st, lines, context)
        wait = st.get("wait") or {}
        key = st["run_key"]
        if wait.get("for") == "time":
            from airflow.triggers.temporal import DateTimeTrigger
            import pendulum

            until = pendulum.parse(wait["until"])
            self.log.info("gluenet: next attempt at %s (%s); deferring", wait["until"], st.get("why", ""))
            self.defer(trigger=DateTimeTrigger(moment=until), method_name="execute_complete", kwargs={"run_key": key})
        from gluenet_airflow.triggers import GluenetRunTrigger

        self.log.info("gluenet: waiting for Glue run %s (%s); deferring", st.get("glue_run_id"), st.get("state"))
        self.defer(
            trigger=GluenetRunTrigger(
                run_key=key,
                env_spec=self._env_spec().serialize(),
                poll_interval=self.poll_interval,
                gluenet_path=self.gluenet_path,
            ),
            method_name="execute_complete",
            kwargs={"run_key": key},
        )

    def execute_complete(self, context: Any, event: Any = None, run_key: str | None = None) -> Any:
        """After a trigger fired: one resume step."""
        key = run_key or run_key_from_context(context, self.retries)
        if isinstance(event, dict) and event.get("status") == "error":
            raise AirflowException(f"gluenet trigger: {event.get('message')}")
        env = build_env(self._env_spec())
        return self._step(context, ["resume", "--run-key", key, "--no-sleep", "--output", "json",
                                    "--log-format", "text", "--log-level", "info"], env)

    def on_kill(self) -> None:
        """Interrupts gluenet: it stops the Glue run (unless
        stop_job_run_on_kill is False), waits for it to stop, and exits."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.log.info("Interrupting gluenet (pid %d)", proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.log.warning("gluenet did not exit within 120s of SIGINT; killing it")
            proc.kill()


def _summary(result: dict | None, fallback: str) -> str:
    """The last attempt's Glue error, the thing the task failure must show."""
    if not result:
        return fallback
    attempts = result.get("attempts") or []
    if attempts:
        last = attempts[-1]
        parts = [f"attempt {last.get('attempt')}", f"run {last.get('run_id', '-')}", str(last.get("state", ""))]
        if last.get("error_message"):
            parts.append(last["error_message"])
        return ", ".join(p for p in parts if p)
    return result.get("error") or fallback
