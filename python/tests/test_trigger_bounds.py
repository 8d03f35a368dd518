"""GluenetRunTrigger's bounds, run in this process (no triggerer): a
`gluenet status` that never answers is killed at status_timeout, and an
exit 2 ends the wait at once as a permanent failure."""

from __future__ import annotations

import asyncio
import stat

import psutil

from conftest import gluenet_binary


def run_trigger(trigger) -> dict:
    async def first():
        async for ev in trigger.run():
            return ev.payload
    return asyncio.run(asyncio.wait_for(first(), timeout=120))


def test_status_that_never_answers_is_killed(tmp_path, monkeypatch):
    from gluenet_airflow.triggers import GluenetRunTrigger

    hang = tmp_path / "gluenet"
    hang.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 600\n")
    hang.chmod(hang.stat().st_mode | stat.S_IEXEC)
    ev = run_trigger(GluenetRunTrigger(run_key="k", aws_conn_id=None, gluenet_path=str(hang), poll_interval=0,
                                       status_timeout=1, max_failures=2))
    assert ev["status"] == "error" and ev["permanent"] is False, ev
    assert "2 polls failed" in ev["message"] and "did not answer within 1s; killed it" in ev["message"], ev
    pid = int((tmp_path / "pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_exit_2_is_permanent(sim_factory, tmp_path, monkeypatch):
    from gluenet_airflow.triggers import GluenetRunTrigger

    sim = sim_factory("default")
    for k, v in {"AWS_ENDPOINT_URL": sim.endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
                 "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(k, v)
    ev = run_trigger(GluenetRunTrigger(run_key="no/such/key", aws_conn_id=None, state=str(tmp_path / "s.db"),
                                       poll_interval=0, gluenet_path=gluenet_binary()))
    assert ev["status"] == "error" and ev["permanent"] is True, ev
    assert "exit 2 (not retried)" in ev["message"], ev
