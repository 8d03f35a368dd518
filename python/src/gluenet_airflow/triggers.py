"""GluenetRunTrigger: waits in Airflow's triggerer for the Glue run of a
gluenet run key to end, without holding a worker slot."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import warnings
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseTrigger, TriggerEvent

from gluenet_airflow._gluenet import EXIT_USAGE, TERMINAL_STATES, parse_output

# The sentinel Airflow 3.3+ passes to task.cancel() when a user action
# (mark failed/success, clear) ends a deferred task; it then calls
# on_kill() itself.
_USER_ACTION = "__airflow_user_action__"
# Cancellation work running in tasks of their own (kept referenced).
_background: set[asyncio.Future] = set()


class GluenetRunTrigger(BaseTrigger):
    """Polls ``gluenet status --run-key K`` (which asks Glue for the run's
    live state) every poll_interval seconds, and fires once the Glue run is
    terminal, the run key is done, or gluenet waits for something else than
    the run (the operator's resume step then decides).

    Bounded everywhere: each ``gluenet status`` gets ``status_timeout``
    seconds (then it is killed and counts as a failed poll); after
    ``max_failures`` failed polls in a row the task fails (and may retry,
    re-attaching to the same run); an exit 2 (unknown key, bad settings)
    fails it at once, without retry; at ``deadline`` (an absolute time, so
    a triggerer restart does not reset it) the trigger gives up with a
    message saying so, stopping the run when ``stop_job_run_on_kill``.

    Stopping: when the trigger is cancelled because its task is no longer
    deferred (marked failed or success, its DAG run stopped, cleared), it
    stops the Glue run (BatchStopJobRun) if ``stop_job_run_on_kill``.
    A cancellation because the triggerer itself stops or hands the trigger
    to another triggerer leaves the run alone (the task is still deferred).
    On Airflow versions with ``BaseTrigger.on_kill`` (3.3+) Airflow calls
    :meth:`on_kill` on a user action instead.

    Credentials: the AWS connection is read again at every poll; keys
    rotated in it are used by the next poll, and credentials that expire
    (an assumed role) are renewed by botocore before they do.
    Only connection ids and settings are serialized, never secrets.
    """

    def __init__(
        self,
        run_key: str,
        job_name: str | None = None,
        glue_run_id: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
        postgres_conn_id: str | None = None,
        state: str | None = None,
        gluenet_path: str | None = None,
        poll_interval: float = 60,
        deadline: str | None = None,
        max_failures: int = 5,
        status_timeout: float = 120,
        verbose: bool = False,
        stop_job_run_on_kill: bool = True,
    ) -> None:
        super().__init__()
        self.run_key = run_key
        self.job_name = job_name
        self.glue_run_id = glue_run_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.postgres_conn_id = postgres_conn_id
        self.state = state
        self.gluenet_path = gluenet_path
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.max_failures = max_failures
        self.status_timeout = status_timeout
        self.verbose = verbose
        self.stop_job_run_on_kill = stop_job_run_on_kill
        self._creds: Any = None
        self._fingerprint: tuple | None = None
        self._log_tokens: Any = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "gluenet_airflow.triggers.GluenetRunTrigger",
            {
                "run_key": self.run_key,
                "job_name": self.job_name,
                "glue_run_id": self.glue_run_id,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "postgres_conn_id": self.postgres_conn_id,
                "state": self.state,
                "gluenet_path": self.gluenet_path,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "max_failures": self.max_failures,
                "status_timeout": self.status_timeout,
                "verbose": self.verbose,
                "stop_job_run_on_kill": self.stop_job_run_on_kill,
            },
        )

    # -- pieces ---------------------------------------------------------------

    def hook(self):
        from gluenet_airflow.hooks import GluenetHook

        return GluenetHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                           config=_botocore_config(self.botocore_config), gluenet_path=self.gluenet_path,
                           postgres_conn_id=self.postgres_conn_id, state=self.state)

    def _hook_now(self):
        """A new hook with its connections read (see read_connections):
        each poll reads the AWS connection again. On Airflow 3 the sync
        lookup is served through the trigger's greenback portal, with a
        warning per lookup that would fill the task log at every poll."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="You should not use sync calls here")
            return self.hook().read_connections()

    async def _lookup(self, fn):
        """fn() (sync code that reads connections) in a task of its own,
        shielded. On Airflow 3 a sync lookup is a request to the
        supervisor over the trigger runner's one channel, served through a
        greenback portal: a cancellation that lands while the request is
        out leaves its answer unread, and the next request of any trigger
        reads it instead ("Response read out of order"), which ends the
        whole trigger runner. Shielded, the lookup always reads its answer;
        the caller is still cancelled."""

        async def call():
            try:
                import greenback

                await greenback.ensure_portal()
            except ImportError:  # Airflow 2: lookups go to the database
                pass
            return fn()

        task = asyncio.ensure_future(call())
        _background.add(task)
        task.add_done_callback(_background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # never "exception never retrieved"
        return await asyncio.shield(task)

    def _env(self, hook) -> tuple[str, dict[str, str]]:
        """gluenet and its environment for one poll (no connection lookup:
        the hook has read them). The session, and with it refreshable
        credentials, is kept while the connection's settings are the same;
        botocore renews role credentials here when they near expiry."""
        fp = hook.credentials_fingerprint()
        if fp != self._fingerprint:
            if self._fingerprint is not None:
                self.log.info("gluenet: the AWS connection %s changed; using its new credentials", self.aws_conn_id)
            self._creds = hook.session_credentials()
            self._fingerprint = fp
        return hook.binary(), hook.env(self._creds)

    async def _status(self, binary: str, env: dict[str, str]) -> tuple[int, dict | None, str]:
        proc = await asyncio.create_subprocess_exec(
            binary, "status", "--run-key", self.run_key, "--output", "json", "--log-format", "text",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=self.status_timeout)
        except asyncio.TimeoutError:
            await _kill(proc)
            return -1, None, f"gluenet status did not answer within {self.status_timeout:g}s; killed it"
        except BaseException:  # cancelled: the child must not outlive the trigger
            await _kill(proc)
            raise
        return proc.returncode, parse_output(out.decode()), err.decode().strip()

    def _deadline(self) -> dt.datetime | None:
        if not self.deadline:
            return None
        d = dt.datetime.fromisoformat(self.deadline)
        return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)

    async def _print_logs(self) -> None:
        """verbose: the run's new CloudWatch lines, as GlueJobOperator
        prints them (output and error streams of the run)."""
        from asgiref.sync import sync_to_async
        from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

        if self._log_tokens is None:
            self._log_tokens = GlueJobHook.LogContinuationTokens()
        h = GlueJobHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                        config=_botocore_config(self.botocore_config))
        await self._lookup(lambda: h.conn_config)  # the connection lookup, in the event loop's thread
        await sync_to_async(h.print_job_logs)(job_name=self.job_name, run_id=self.glue_run_id,
                                              continuation_tokens=self._log_tokens)

    async def _stop_run(self, why: str) -> str:
        from asgiref.sync import sync_to_async

        if not (self.job_name and self.glue_run_id):
            return "no Glue run to stop"
        self.log.info("gluenet: %s: stopping Glue run %s of %s", why, self.glue_run_id, self.job_name)
        try:
            hook = await self._lookup(self._hook_now)
            said = await asyncio.wait_for(sync_to_async(hook.stop_job_run)(self.job_name, self.glue_run_id), timeout=60)
        except Exception as e:  # noqa: BLE001 - reported, the run may go on
            said = f"stopping Glue run {self.glue_run_id} failed: {e!r}"
        self.log.info("gluenet: %s", said)
        return said

    async def _task_still_deferred(self) -> bool:
        """Whether the task instance is still deferred: then a cancellation
        comes from the triggerer (shutdown, hand-over), not from a user."""
        from asgiref.sync import sync_to_async

        ti = getattr(self, "task_instance", None)
        if ti is None:
            return True
        try:
            try:
                from airflow.sdk.execution_time.comms import GetTaskStates  # Airflow 3
                from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS
            except ImportError:
                state = await sync_to_async(_ti_state_airflow2)(ti)
            else:
                # Asked in this thread, awaited: the supervisor's channel
                # takes one request at a time, under its own lock.
                resp = await SUPERVISOR_COMMS.asend(GetTaskStates(
                    dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=ti.map_index))
                state = resp.task_states[ti.run_id][ti.task_id]
        except Exception as e:  # noqa: BLE001 - unknown: do not stop a run we may still be watching
            self.log.warning("gluenet: cannot read the task's state (%s); leaving the Glue run alone", e)
            return True
        return str(getattr(state, "value", state)) == "deferred"

    async def _after_cancel(self) -> None:
        try:  # Airflow 3: this task of its own needs a portal for sync connection lookups
            import greenback

            await greenback.ensure_portal()
        except ImportError:
            pass
        if await self._task_still_deferred():
            self.log.info("gluenet: trigger cancelled while its task is still deferred "
                          "(triggerer stopping or handing over); the Glue run goes on")
        else:
            await self._stop_run("the task is no longer deferred (marked failed or success, "
                                 "its DAG run stopped, or cleared)")

    # -- the loop -------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async for ev in self._poll():
                yield ev
                return
        except asyncio.CancelledError as e:
            user_action = bool(e.args) and e.args[0] == _USER_ACTION  # on_kill() follows (Airflow 3.3+)
            if self.stop_job_run_on_kill and not user_action:
                # In a task of its own, shielded: Airflow 3's triggerer
                # cancels a trigger again at each sync until it ends, and a
                # request to the supervisor cancelled halfway leaves its
                # answer unread, which ends the whole trigger runner.
                work = asyncio.ensure_future(self._after_cancel())
                _background.add(work)
                work.add_done_callback(_background.discard)
                try:
                    await asyncio.shield(work)
                except asyncio.CancelledError:
                    pass  # cancelled again: the work goes on in its own task
            raise

    async def on_kill(self) -> None:
        """Airflow 3.3+: a user ended the deferred task."""
        if self.stop_job_run_on_kill:
            await self._stop_run("the deferred task was ended by a user")

    async def _poll(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        def event(status: str, **kw: Any) -> TriggerEvent:
            return TriggerEvent({"status": status, "run_key": self.run_key, "glue_run_id": self.glue_run_id, **kw})

        deadline = self._deadline()
        failures = 0
        while True:
            if deadline is not None and dt.datetime.now(dt.timezone.utc) >= deadline:
                what = "stopped it" if self.stop_job_run_on_kill else "left it running (stop_job_run_on_kill=False)"
                if self.stop_job_run_on_kill:
                    await self._stop_run("max_wait reached")
                yield event("error", permanent=True, message=(
                    f"Glue run {self.glue_run_id or '-'} of {self.job_name or self.run_key} had not ended at "
                    f"{self.deadline} (the operator's max_wait); gave up waiting and {what}. "
                    f"Raise max_wait for jobs that run longer."))
                return
            try:
                hook = await self._lookup(self._hook_now)
                binary, env = await sync_to_async(self._env)(hook)
            except Exception as e:  # noqa: BLE001 - a missing connection, no binary: the task fails with it
                yield event("error", permanent=False, message=f"preparing gluenet status: {e}")
                return
            code, st, err = await self._status(binary, env)
            if code == EXIT_USAGE:
                yield event("error", permanent=True, message=f"gluenet status exit 2 (not retried): {_last(err)}")
                return
            if st is None:
                # A status call that fails (AWS throttling, the store briefly
                # away) is retried; the run goes on in Glue meanwhile.
                failures += 1
                self.log.warning("gluenet status failed (exit %d, %d/%d): %s", code, failures, self.max_failures,
                                 _last(err))
                if failures >= self.max_failures:
                    yield event("error", permanent=False, message=f"{failures} polls failed; last: {_last(err) or f'exit {code}'}")
                    return
            else:
                failures = 0
                wait = st.get("wait") or {}
                state = st.get("state") or ""
                self.glue_run_id = st.get("glue_run_id") or self.glue_run_id
                self.job_name = st.get("job") or self.job_name
                self.log.info("gluenet run %s: Glue run %s %s%s", self.run_key, self.glue_run_id or "-", state or "-",
                              f" ({st['why']})" if st.get("why") else "")
                if self.verbose and self.glue_run_id and self.job_name:
                    try:
                        await self._print_logs()
                    except Exception as e:  # noqa: BLE001 - logs are a convenience
                        self.log.warning("gluenet: reading the run's CloudWatch logs failed: %s", e)
                if st.get("done") or wait.get("for") != "run" or state in TERMINAL_STATES:
                    yield event("ready", state=state)
                    return
            await asyncio.sleep(self.poll_interval)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's process group and reap it (bounded)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        await asyncio.wait_for(proc.wait(), timeout=10)
    except asyncio.TimeoutError:
        pass


def _last(err: str) -> str:
    from gluenet_airflow._gluenet import error_line

    return error_line(err.splitlines())


def _botocore_config(cfg: dict | None):
    if not cfg:
        return None
    from botocore.config import Config

    return Config(**cfg)


def _ti_state_airflow2(ti: Any) -> str | None:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as s:
        row = s.query(TaskInstance.state).filter(
            TaskInstance.dag_id == ti.dag_id, TaskInstance.task_id == ti.task_id,
            TaskInstance.run_id == ti.run_id, TaskInstance.map_index == ti.map_index).one_or_none()
    return row[0] if row else None
