"""GluenetJobOperator: run an AWS Glue job with gluenet from Airflow."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import threading
import urllib.parse
from typing import Any, Mapping, Sequence

from airflow.exceptions import AirflowException, AirflowFailException
from airflow.providers.amazon.aws.links.glue import GlueJobRunDetailsLink
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from gluenet_airflow._gluenet import (
    EXIT_AWS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    error_line,
    parse_output,
    run_key_from_context,
)
from gluenet_airflow.hooks import CredentialFile, GluenetHook, expiry_of

try:
    from airflow.configuration import conf
except ImportError:  # pragma: no cover
    from airflow.sdk.configuration import conf

# StartJobRun fields GlueJobOperator users pass in run_job_kwargs that
# gluenet takes as per-run overrides, and the flag for each.
_RUN_OVERRIDES = {"NumberOfWorkers": "--workers", "WorkerType": "--worker-type", "Timeout": "--timeout"}
_WHEN_SHORT = ("start", "fail")
# Executors whose tasks all run on one machine: a SQLite state file there
# is seen by every try of every task.
_ONE_MACHINE_EXECUTORS = ("LocalExecutor", "SequentialExecutor", "DebugExecutor")
# Glue's default job timeout is 48 hours; the default max_wait is one more.
DEFAULT_MAX_WAIT = dt.timedelta(hours=49)
_STARTED = re.compile(r"\brun_id=\"?(jr_[0-9A-Za-z_]+)")


class GluenetJobOperator(AwsBaseOperator[GluenetHook]):
    """Run an AWS Glue job with gluenet: rank the job's candidate Glue
    connections (free IPs, zone health), write that order into the job, run
    it, and on a failure worth retrying re-rank and retry, inside one task
    try. The names shared with GlueJobOperator mean the same.

    Returns (XCom ``return_value``, the same in both modes) gluenet's
    account of the run: ``job``, ``run_key``, ``result``, ``glue_run_id``
    (the last attempt's Glue run), ``order``, ``attempts``, ``error``.

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
    :param admit_wait: gluenet's ``--admit-wait``: how long an attempt
        waits for a subnet with free IPs for the whole run before it starts
        (timedelta, seconds, or a duration such as ``"10m"``; 0 turns
        waiting off). None: gluenet's default (an hour; no wait when no
        candidate subnet is large enough for the run at all).
    :param when_short: gluenet's ``--when-short``: when that wait runs out,
        ``start`` the run short of IPs or ``fail`` it (exit 3, nothing
        started). None: gluenet's default (start).
    :param script_args: job arguments for StartJobRun (``{"--day": "..."}``).
    :param run_job_kwargs: per-run overrides: NumberOfWorkers, WorkerType,
        Timeout (minutes).
    :param verbose: the run's CloudWatch output and error logs in the task
        log (sync: gluenet's ``--follow-logs``; deferrable: the trigger
        prints new lines at each poll, as GlueJobOperator's trigger does).
    :param stop_job_run_on_kill: stop the Glue run when the task is ended
        (marked failed/success, DAG run stopped, execution_timeout, worker
        SIGTERM; deferred: the trigger stops it when the task is no longer
        deferred). Default True, unlike GlueJobOperator: see docs/mwaa.md,
        "What stops a Glue run".
    :param deferrable: wait for Glue runs in the triggerer instead of
        holding a worker slot (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between the trigger's checks of a run.
    :param max_wait: the longest the operator waits for the run, in both
        modes (timedelta or seconds; default 49 h, one hour more than
        Glue's default job timeout). Then the run is stopped (unless
        stop_job_run_on_kill is False) and the task fails without retry.
    :param step_timeout: bound on each short gluenet command (``run
        --detach``, ``resume``, ``status``), seconds (600).
    :param job_poll_interval: seconds between gluenet's GetJobRun polls.
    :param aws_conn_id: Airflow AWS connection ("aws_default"; None: the
        SDK's chain, on MWAA the execution role).
    :param region_name: AWS region (overrides the connection's).
    :param verify: a CA bundle path for AWS's TLS certificates (as for any
        Amazon operator; gluenet cannot skip verification).
    :param botocore_config: botocore client settings for the calls the
        operator and trigger make themselves (stop, logs).
    :param postgres_conn_id: Airflow Postgres connection holding gluenet's
        shared state (needed on MWAA, whose containers are ephemeral).
    :param state: gluenet's state store as GLUENET_STATE takes it: a SQLite
        file on this machine, or ``dynamodb://TABLE``.
    :param state_path: the former name of ``state``.
    :param gluenet_path: the gluenet binary (default: the wheel's, else PATH).
    :param extra_args: more gluenet run flags, as a list.
    """

    aws_hook_class = GluenetHook
    template_fields: Sequence[str] = (
        "aws_conn_id",
        "region_name",
        "verify",
        "botocore_config",
        "job_name",
        "connections",
        "strategy",
        "prefer_az",
        "script_args",
        "run_job_kwargs",
        "admit_wait",
        "when_short",
    )
    template_fields_renderers = {"script_args": "json", "run_job_kwargs": "json", "botocore_config": "json"}
    operator_extra_links = (GlueJobRunDetailsLink(),)
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
        admit_wait: dt.timedelta | float | str | None = None,
        when_short: str | None = None,
        script_args: Mapping[str, Any] | None = None,
        run_job_kwargs: Mapping[str, Any] | None = None,
        verbose: bool = False,
        stop_job_run_on_kill: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60,
        max_wait: dt.timedelta | float | None = DEFAULT_MAX_WAIT,
        step_timeout: float = 600,
        job_poll_interval: float | None = None,
        postgres_conn_id: str | None = None,
        state: str | None = None,
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
        self.admit_wait = admit_wait
        self.when_short = when_short
        self.script_args = script_args or {}
        self.run_job_kwargs = run_job_kwargs or {}
        self.verbose = verbose
        self.stop_job_run_on_kill = stop_job_run_on_kill
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.step_timeout = step_timeout
        self.job_poll_interval = job_poll_interval
        self.postgres_conn_id = postgres_conn_id
        self.state = state or state_path
        self.gluenet_path = gluenet_path
        self.extra_args = list(extra_args or [])
        self._proc: subprocess.Popen | None = None
        self._glue_run_id: str | None = None

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "gluenet_path": self.gluenet_path,
                "postgres_conn_id": self.postgres_conn_id, "state": self.state}

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
    def _seconds(name: str, v: dt.timedelta | float | str | None) -> float | None:
        if v is None or v == "":
            return None
        if isinstance(v, dt.timedelta):
            secs = v.total_seconds()
        else:
            try:
                secs = float(v)
            except (TypeError, ValueError):
                raise AirflowFailException(f"{name} must be a timedelta or seconds, got {v!r}") from None
        if secs < 0:
            raise AirflowFailException(f"{name} must not be negative, got {v!r}")
        return secs

    @classmethod
    def _duration(cls, name: str, v: dt.timedelta | float | str | None) -> str | None:
        # A Go duration string ("10m", "1h30m") is passed as it is: gluenet checks it.
        if isinstance(v, str) and v.strip() and not re.fullmatch(r"[0-9.]+", v.strip()):
            return v.strip()
        secs = cls._seconds(name, v)
        return None if secs is None else f"{secs:g}s"

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
        for flag, v in (("--retry-delay", self.backoff), ("--max-retry-delay", self.max_backoff),
                        ("--poll-interval", self.job_poll_interval), ("--admit-wait", self.admit_wait)):
            d = self._duration(flag, v)
            if d:
                args += [flag, d]
        if self.when_short not in (None, ""):
            ws = str(self.when_short).strip()
            if ws not in _WHEN_SHORT:
                raise AirflowFailException(f"when_short must be one of {', '.join(_WHEN_SHORT)}, got {ws!r}")
            args += ["--when-short", ws]
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

    def _step_args(self, cmd: str, key: str) -> list[str]:
        return [cmd, "--run-key", key, "--no-sleep", "--output", "json", "--log-format", "text", "--log-level", "info"]

    # -- running gluenet ----------------------------------------------------

    def _kill_budget(self) -> float:
        """How long on_kill may wait for gluenet: inside Airflow's
        killed_task_cleanup_time (after which the task is SIGKILLed),
        with 10 s left for Airflow's own cleanup."""
        cleanup = conf.getint("core", "killed_task_cleanup_time", fallback=60)
        return max(5.0, cleanup - 10.0)

    def _gluenet(self, args: list[str], env: dict[str, str], context: Any = None,
                 timeout: float | None = None) -> tuple[int, dict | None, list[str]]:
        """Runs gluenet, streaming its log lines into the task log; returns
        its exit code, its JSON output and its stderr lines. ``timeout``
        bounds the whole command: at it gluenet gets SIGINT (it stops the
        Glue run unless told not to), then SIGKILL after the kill budget."""
        binary = self.hook.binary()
        self.log.info("Running %s %s", binary, " ".join(args))
        proc = subprocess.Popen(
            [binary, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
            # Its own session (not preexec_fn, unsafe with threads): Airflow
            # kills a task by signalling the task's process group (SIGTERM),
            # and a second signal ends gluenet at once; on_kill's SIGINT must
            # be the only one it gets, so that it stops the Glue run and
            # waits for it. A task process killed with -9 leaves gluenet
            # running to its end; the Glue run is recorded under its key and
            # the retry re-attaches (gluenet's job lock keeps them apart).
            start_new_session=True,
        )
        self._proc = proc
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        timed_out = threading.Event()
        watchdog = None
        if timeout is not None:
            def expire() -> None:
                timed_out.set()
                self.log.error("gluenet did not finish within %gs; interrupting it", timeout)
                _signal(proc, signal.SIGINT)
                try:
                    proc.wait(timeout=self._kill_budget())
                except subprocess.TimeoutExpired:
                    _signal(proc, signal.SIGKILL)
            watchdog = threading.Timer(timeout, expire)
            watchdog.daemon = True
            watchdog.start()
        lines: list[str] = []
        try:
            for line in proc.stderr:
                line = line.rstrip("\n")
                lines.append(line)
                self.log.info("%s", line)
                m = _STARTED.search(line)
                if m and "started Glue job run" in line and context is not None:
                    self._persist_link(context, m.group(1))
            try:
                code = proc.wait(timeout=30)  # its stderr is closed: it is exiting
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                code = proc.wait(timeout=10)
            reader.join(timeout=30)
        finally:
            if watchdog:
                watchdog.cancel()
            self._proc = None
        if timed_out.is_set():
            lines.append(f"gluenet: gave up after {timeout:g}s (max_wait/step_timeout)")
            raise AirflowFailException(f"gluenet did not finish within {timeout:g}s; "
                                       f"{'its Glue run was stopped' if self.stop_job_run_on_kill else 'its Glue run goes on'}")
        return code, parse_output("".join(out)), lines

    def _persist_link(self, context: Any, glue_run_id: str | None) -> None:
        """The console link to the Glue run (the operator extra link)."""
        if not glue_run_id or glue_run_id == self._glue_run_id:
            return
        self._glue_run_id = glue_run_id
        try:
            region, partition = self.hook.conn_region_name, self.hook.conn_partition
        except Exception as e:  # noqa: BLE001 - a link is not worth failing the task
            self.log.debug("no console link: %s", e)
            return
        GlueJobRunDetailsLink.persist(context=context, operator=self, region_name=region, aws_partition=partition,
                                      job_name=urllib.parse.quote(self.job_name, safe=""), job_run_id=glue_run_id)

    def _finish(self, code: int, result: dict | None, lines: list[str]) -> dict | None:
        """Maps gluenet's exit code onto the task's outcome."""
        msg = error_line(lines)
        if code == EXIT_OK:
            return result_doc(result)
        if code == EXIT_USAGE:
            raise AirflowFailException(f"gluenet: bad settings (exit 2, no retry): {msg}")
        if code == EXIT_RUN_FAILED:
            raise AirflowException(f"gluenet: the Glue job run failed after all its attempts (exit 3): {_summary(result, msg)}")
        if code == EXIT_AWS:
            raise AirflowException(f"gluenet: AWS or state store error (exit 4, retryable): {msg}")
        if code == EXIT_INTERRUPTED:
            raise AirflowException(f"gluenet: interrupted (exit 130): {msg}")
        raise AirflowException(f"gluenet exited with code {code}: {msg}")

    def _prepare(self) -> tuple[Any, dict[str, str]]:
        hook = self.hook
        creds = hook.session_credentials()
        env = hook.env(creds)
        self._warn_local_state(hook, env)
        return creds, env

    def _warn_local_state(self, hook: GluenetHook, env: Mapping[str, str]) -> None:
        if hook.state_is_shared(env):
            return
        executor = conf.get("core", "executor", fallback="") or ""
        if not any(name in executor for name in _ONE_MACHINE_EXECUTORS):
            self.log.warning(
                "gluenet's state is local to this worker (%s) but the executor is %s: a retry on another "
                "worker cannot find the Glue run this try started and starts a second one%s. Give "
                "postgres_conn_id, or state='dynamodb://TABLE' (docs/mwaa.md).",
                env.get("GLUENET_STATE") or "the default SQLite file", executor or "unknown",
                "; deferred, the triggerer must run on this machine" if self.deferrable else "")

    def execute(self, context: Any) -> Any:
        key = run_key_from_context(context, self.retries)
        self.log.info("gluenet run key: %s", key)
        creds, env = self._prepare()
        args = self.run_args(key)
        if self.deferrable:
            return self._step(context, [*args, "--detach"], env, key)
        max_wait = self._seconds("max_wait", self.max_wait)
        if expiry_of(creds) is not None:
            # Credentials that expire (an assumed role): kept fresh for the
            # whole run through a credential_process file.
            with CredentialFile(creds, log=self.log) as cf:
                code, result, lines = self._gluenet(args, cf.apply(env), context, timeout=max_wait)
        else:
            code, result, lines = self._gluenet(args, env, context, timeout=max_wait)
        if result:
            self._persist_link(context, result_doc(result).get("glue_run_id"))
        return self._finish(code, result, lines)

    # -- deferrable mode ------------------------------------------------------

    def _step(self, context: Any, args: list[str], env: dict[str, str], key: str) -> Any:
        """One executor step (run --detach or resume --no-sleep): finish
        when the run is done, else defer until the next check."""
        code, st, lines = self._gluenet(args, env, context, timeout=self.step_timeout)
        if st is None or "done" not in st:
            # Bad settings fail before any step output.
            return self._finish(code if code != EXIT_OK else 1, None, lines)
        self._persist_link(context, st.get("glue_run_id"))
        if st["done"]:
            return self._finish(st.get("exit_code", code), st, lines)
        wait = st.get("wait") or {}
        why = st.get("why") or ""
        if wait.get("for") != "run":
            # Time to wait (the backoff before the next attempt, room in the
            # subnets): a DateTimeTrigger, then resume.
            from airflow.triggers.temporal import DateTimeTrigger
            import pendulum

            at = wait.get("until") or wait.get("check_at")
            until = pendulum.parse(at) if at else pendulum.now("UTC").add(seconds=self.poll_interval)
            self.log.info("gluenet: %s; next step at %s; deferring", why or f"waiting for {wait.get('for')}", until)
            self.defer(trigger=DateTimeTrigger(moment=until), method_name="execute_complete",
                       kwargs={"run_key": key, "deadline": self._deadline_iso(context)})
        from gluenet_airflow.triggers import GluenetRunTrigger

        self.log.info("gluenet: waiting for Glue run %s (%s)%s; deferring", st.get("glue_run_id"), st.get("state"),
                      f": {why}" if why else "")
        self.defer(
            trigger=GluenetRunTrigger(
                run_key=key,
                job_name=st.get("job") or self.job_name,
                glue_run_id=st.get("glue_run_id"),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
                postgres_conn_id=self.postgres_conn_id,
                state=self.state,
                gluenet_path=self.gluenet_path,
                poll_interval=self.poll_interval,
                deadline=self._deadline_iso(context),
                status_timeout=min(self.step_timeout, 120),
                verbose=self.verbose,
                stop_job_run_on_kill=self.stop_job_run_on_kill,
            ),
            method_name="execute_complete",
            kwargs={"run_key": key, "deadline": self._deadline_iso(context)},
        )

    def _deadline_iso(self, context: Any) -> str | None:
        """max_wait as an absolute time, fixed at the first step of this try
        (carried through every deferral, so no restart resets it)."""
        if getattr(self, "_deadline", None):
            return self._deadline
        secs = self._seconds("max_wait", self.max_wait)
        if secs is None:
            return None
        self._deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=secs)).isoformat()
        return self._deadline

    def execute_complete(self, context: Any, event: Any = None, run_key: str | None = None,
                         deadline: str | None = None) -> Any:
        """After a trigger fired: one resume step."""
        key = run_key or run_key_from_context(context, self.retries)
        self._deadline = deadline
        if isinstance(event, dict) and event.get("status") == "error":
            msg = f"gluenet trigger: {event.get('message')}"
            if event.get("permanent"):
                raise AirflowFailException(msg)
            raise AirflowException(msg)
        _, env = self._prepare()
        return self._step(context, self._step_args("resume", key), env, key)

    def on_kill(self) -> None:
        """Interrupts gluenet: it stops the Glue run (unless
        stop_job_run_on_kill is False), waits for it to stop, and exits;
        all inside Airflow's killed_task_cleanup_time."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        budget = self._kill_budget()
        self.log.info("Interrupting gluenet (pid %d); waiting up to %gs for it to %s", proc.pid, budget,
                      "stop the Glue run" if self.stop_job_run_on_kill else "exit (the Glue run goes on)")
        _signal(proc, signal.SIGINT)
        try:
            proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            # gluenet asks Glue to stop the run (BatchStopJobRun) as soon as
            # it is interrupted, then waits for STOPPED; a run that is slow
            # to stop still stops in Glue. If the request itself did not get
            # through, the run goes on, recorded under the task's run key.
            self.log.warning("gluenet did not exit within %gs of SIGINT; killing it (Glue run %s: its stop was "
                             "requested, check it in the console)", budget, self._glue_run_id or "not started")
            _signal(proc, signal.SIGKILL)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """Signals gluenet's process group (its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def result_doc(doc: dict | None) -> dict | None:
    """One XCom shape for ``gluenet run``'s JSON and a step's (``run
    --detach``/``resume``): job, run_key, result, error, glue_run_id,
    order, attempts."""
    if doc is None:
        return None
    attempts = doc.get("attempts") or []
    last = attempts[-1] if attempts else {}
    return {
        "job": doc.get("job"),
        "run_key": doc.get("run_key"),
        "result": doc.get("result"),
        "error": doc.get("error") or None,
        "glue_run_id": doc.get("glue_run_id") or last.get("run_id"),
        "order": doc.get("order") or last.get("order") or [],
        "attempts": attempts,
    }


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
