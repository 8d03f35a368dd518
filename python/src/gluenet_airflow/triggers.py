"""GluenetRunTrigger: waits in Airflow's triggerer for the Glue run of a
gluenet run key to end, without holding a worker slot."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseTrigger, TriggerEvent

from gluenet_airflow._gluenet import TERMINAL_STATES, EnvSpec, build_env, find_gluenet, parse_output


class GluenetRunTrigger(BaseTrigger):
    """Polls ``gluenet status --run-key K`` (which asks Glue for the run's
    live state) every poll_interval seconds, and fires once the Glue run is
    terminal, the run key is done, or gluenet waits for time rather than for
    the run (the operator's resume step then decides).

    Only connection ids and settings are serialized (see EnvSpec): the
    credentials and the state DSN are read again in the triggerer.
    """

    def __init__(
        self,
        run_key: str,
        env_spec: dict | None = None,
        poll_interval: float = 60,
        gluenet_path: str | None = None,
        max_failures: int = 5,
    ) -> None:
        super().__init__()
        self.run_key = run_key
        self.env_spec = env_spec or {}
        self.poll_interval = poll_interval
        self.gluenet_path = gluenet_path
        self.max_failures = max_failures

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "gluenet_airflow.triggers.GluenetRunTrigger",
            {
                "run_key": self.run_key,
                "env_spec": self.env_spec,
                "poll_interval": self.poll_interval,
                "gluenet_path": self.gluenet_path,
                "max_failures": self.max_failures,
            },
        )

    async def _status(self, binary: str, env: dict[str, str]) -> tuple[int, dict | None, str]:
        proc = await asyncio.create_subprocess_exec(
            binary, "status", "--run-key", self.run_key, "--output", "json", "--log-format", "json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
        )
        out, err = await proc.communicate()
        return proc.returncode, parse_output(out.decode()), err.decode().strip()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        try:
            binary = find_gluenet(self.gluenet_path)
            env = await sync_to_async(build_env)(EnvSpec(**self.env_spec))
        except Exception as e:  # reported to the task, which fails with it
            yield TriggerEvent({"status": "error", "run_key": self.run_key, "message": str(e)})
            return
        failures = 0
        while True:
            code, st, err = await self._status(binary, env)
            if st is None:
                # A status call that fails (AWS throttling, the store briefly
                # away) is retried; the run goes on in Glue meanwhile.
                failures += 1
                self.log.warning("gluenet status failed (exit %d, %d/%d): %s", code, failures, self.max_failures, err)
                if failures >= self.max_failures:
                    yield TriggerEvent({"status": "error", "run_key": self.run_key, "message": err or f"exit {code}"})
                    return
            else:
                failures = 0
                wait = st.get("wait") or {}
                state = st.get("state") or ""
                self.log.info("gluenet run %s: Glue run %s %s", self.run_key, st.get("glue_run_id"), state or "-")
                if st.get("done") or wait.get("for") != "run" or state in TERMINAL_STATES:
                    yield TriggerEvent({"status": "ready", "run_key": self.run_key, "state": state,
                                        "glue_run_id": st.get("glue_run_id")})
                    return
            await asyncio.sleep(self.poll_interval)

