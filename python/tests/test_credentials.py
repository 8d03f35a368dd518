"""Credentials as AwsBaseHook uses them reach gluenet: a role_arn on the
connection is assumed (gluenet's calls are signed with the role's keys,
never the base keys), and credentials that expire during a long run are
renewed under the running gluenet (CredentialFile)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections import namedtuple

from conftest import CONNECTIONS, JOB, REPO, KeyProxy, airflow_env, dags_test, gluenet_binary
from test_operator import TEST_DAGS, task_instances

ROLE = "arn:aws:iam::123456789012:role/gluenet"


def role_conn(endpoint: str) -> str:
    return json.dumps({"conn_type": "aws", "login": "AKIABASE", "password": "base-secret",
                       "extra": {"region_name": "us-east-1", "endpoint_url": endpoint, "role_arn": ROLE,
                                 "service_config": {"sts": {"endpoint_url": endpoint}}}})


def test_role_arn_is_assumed_in_sync_mode(airflow_home, sim_factory, tmp_path):
    sim = sim_factory("default")
    proxy = KeyProxy(sim.endpoint)
    try:
        env = airflow_env(airflow_home, AIRFLOW_CONN_GLUENET_ROLE=role_conn(proxy.endpoint),
                          GLUENET_STATE=str(tmp_path / "s.db"))
        run = dags_test(airflow_home, TEST_DAGS, "gluenet_role", env)
        assert run.succeeded, run.output[-4000:]
        assert proxy.assumed and set(proxy.assumed) == {"AKIABASE"}, "AssumeRole, signed with the base keys"
        glue_calls = [k for k in proxy.seen if k != "AKIABASE"]
        assert glue_calls and all(k.startswith("ASIAROLE") for k in glue_calls), set(proxy.seen)
        assert proxy.seen.count("AKIABASE") == len(proxy.assumed), "the base keys sign nothing but AssumeRole"
        assert task_instances(airflow_home, "gluenet_role")[0]["result"]["result"] == "succeeded"
    finally:
        proxy.stop()


Frozen = namedtuple("Frozen", "access_key secret_key token")


class ShortCredentials:
    """Like botocore's refreshable credentials for a short role session:
    each read after the copy's expiry gives a new key."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.n = 0
        self._renew()

    def _renew(self):
        self.n += 1
        # CredentialFile tells gluenet they expire 5 minutes early.
        self._expiry_time = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5, seconds=self.seconds)

    def get_frozen_credentials(self):
        if self._expiry_time - dt.timedelta(minutes=5) <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1):
            self._renew()
        return Frozen(f"ASIASHORT{self.n}", f"s{self.n}", f"t{self.n}")


def test_credentials_renewed_under_a_running_gluenet(sim_factory, tmp_path):
    """A gluenet run longer than its credentials: the SDK inside gluenet
    asks the credential_process again when its copy expires and gets the
    renewed keys the CredentialFile thread wrote."""
    from gluenet_airflow.hooks import CredentialFile

    scen = tmp_path / "slow.yaml"
    scen.write_text((REPO / "sim" / "scenarios" / "default.yaml").read_text().replace("time_scale: 200", "time_scale: 60"))
    sim = sim_factory(str(scen))
    proxy = KeyProxy(sim.endpoint)
    creds = ShortCredentials(seconds=3)
    try:
        base = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": proxy.endpoint, "AWS_REGION": "us-east-1",
                "GLUENET_STATE": str(tmp_path / "s.db"), "HOME": str(tmp_path)}
        with CredentialFile(creds) as cf:
            env = cf.apply(dict(base))
            assert "AWS_ACCESS_KEY_ID" not in env
            r = subprocess.run([gluenet_binary(), "run", "--job", JOB, "--connections", CONNECTIONS, "--output", "json",
                                "--log-format", "json", "--poll-interval", "0.5s"],
                               env=env, capture_output=True, text=True, timeout=180)
            writes = cf.writes
        assert r.returncode == 0, r.stderr[-3000:]
        keys = [k for k in dict.fromkeys(proxy.seen) if k]
        assert len(keys) >= 2 and all(k.startswith("ASIASHORT") for k in keys), keys
        assert writes >= 2
        assert not os.path.exists(cf.dir), "the credentials file is removed"
    finally:
        proxy.stop()
