"""GluenetHook: the gluenet binary, the environment it runs with, and the
few Glue calls the operator and the trigger make themselves.

It is an AwsBaseHook (client type ``glue``), so an Airflow AWS connection
means for gluenet what it means for every other Amazon operator: static
keys, ``role_arn`` assumed (with ``assume_role_method`` and its kwargs),
``profile_name``, ``region_name``, ``endpoint_url`` and ``verify`` (a CA
bundle path) all reach gluenet as AwsBaseHook would use them.

How credentials reach the gluenet process:

- The connection names no credentials (no keys, no role, no profile):
  nothing is passed, gluenet's AWS SDK uses its own chain (on MWAA the
  execution role), which refreshes by itself.
- Credentials that do not expire (static keys): AWS_ACCESS_KEY_ID and
  friends. A key rotated in the connection reaches the next gluenet
  process (the next step, the trigger's next poll).
- Credentials that expire (an assumed role, a profile's temporary keys):
  the hook's boto3 session holds them as botocore refreshable credentials.
  A long ``gluenet run`` gets them through a private AWS config file whose
  profile has ``credential_process = cat <file>``; a thread of the task
  rewrites that file from the refreshable credentials before they expire,
  and gluenet's SDK reads it again when the copy it has expires
  (:class:`CredentialFile`). Short commands (the trigger's polls) get the
  current keys in their environment, taken again at each poll.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import tempfile
import threading
from functools import cached_property
from typing import Any, Mapping

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from gluenet_airflow._gluenet import find_gluenet, postgres_dsn

# The profile name in the private config file of CredentialFile.
_PROFILE = "gluenet-airflow"
# gluenet's SDK is told credentials expire this long before they do, so
# that it asks again while the file already holds the renewed ones
# (botocore renews refreshable credentials 15 minutes before expiry).
_EXPIRY_MARGIN = dt.timedelta(minutes=5)

_CRED_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class GluenetHook(AwsBaseHook):
    """The gluenet binary and its environment, from an Airflow AWS
    connection and gluenet's state settings.

    :param gluenet_path: the gluenet binary (default: the wheel's, else PATH).
    :param postgres_conn_id: an Airflow Postgres connection holding
        gluenet's shared state.
    :param state: gluenet's state store as ``GLUENET_STATE`` takes it (a
        SQLite file, or a ``dynamodb://TABLE`` URL where gluenet has it).
    """

    conn_name_attr = "aws_conn_id"
    default_conn_name = "aws_default"
    conn_type = "aws"
    hook_name = "gluenet"

    def __init__(
        self,
        *args: Any,
        gluenet_path: str | None = None,
        postgres_conn_id: str | None = None,
        state: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "glue"
        super().__init__(*args, **kwargs)
        self.gluenet_path = gluenet_path
        self.postgres_conn_id = postgres_conn_id
        self.state = state

    def binary(self) -> str:
        return find_gluenet(self.gluenet_path)

    # -- credentials ----------------------------------------------------------

    def credentials_fingerprint(self) -> tuple:
        """What decides which credentials the connection gives: when it
        changes (keys rotated, another role), a new session is made."""
        c = self.conn_config
        return (c.conn_id, c.aws_access_key_id, c.aws_secret_access_key, c.aws_session_token, c.role_arn,
                c.profile_name, c.assume_role_method, json.dumps(c.assume_role_kwargs, sort_keys=True, default=str),
                self.region_name)

    def names_credentials(self) -> bool:
        """Whether the connection holds credentials of its own (else the
        SDK's default chain applies, in gluenet as in boto3)."""
        c = self.conn_config
        return bool(c.aws_access_key_id or c.role_arn or c.profile_name)

    def session_credentials(self):
        """The botocore credentials of the hook's session (refreshable
        when they come from an assumed role), or None for the SDK chain."""
        if not self.names_credentials():
            return None
        return self.get_session(region_name=self.region_name).get_credentials()

    # -- environment ------------------------------------------------------------

    def env(self, creds: Any = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a gluenet process: this process's, plus the
        connection's region, endpoint, CA bundle and credentials (``creds``,
        botocore credentials from :meth:`session_credentials`, frozen here),
        and the state store."""
        env = dict(os.environ if base is None else base)
        cfg = self.conn_config
        region = self.region_name
        if region:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
        if cfg.endpoint_url:
            env["AWS_ENDPOINT_URL"] = cfg.endpoint_url
        verify = self.verify
        if isinstance(verify, str) and verify:
            env["AWS_CA_BUNDLE"] = verify
        elif verify is False:
            self.log.warning("verify=False: gluenet always verifies TLS certificates; give a CA bundle path instead")
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            for k in _CRED_VARS:
                env.pop(k, None)
            env.pop("AWS_PROFILE", None)
            env["AWS_ACCESS_KEY_ID"] = frozen.access_key
            env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
            if frozen.token:
                env["AWS_SESSION_TOKEN"] = frozen.token
            _mask(frozen)
        env.update(self.state_env)
        if "GLUENET_POSTGRES_DSN" in self.state_env:
            env.pop("GLUENET_STATE", None)
        return env

    @cached_property
    def state_env(self) -> dict[str, str]:
        """The state store's variables (the Postgres connection is read
        once per hook, like the AWS connection)."""
        if self.postgres_conn_id:
            return {"GLUENET_POSTGRES_DSN": postgres_dsn(self.postgres_conn_id)}
        if self.state:
            return {"GLUENET_STATE": self.state}
        return {}

    def read_connections(self) -> GluenetHook:
        """Reads the Airflow connections now (both are cached on the hook),
        so that what follows needs no connection lookup. The trigger calls
        it in the event loop's thread: on Airflow 3 a lookup from another
        thread can garble the triggerer's requests to its supervisor."""
        self.conn_config  # noqa: B018 - cached_property, read for its effect
        self.state_env  # noqa: B018
        return self

    def state_is_shared(self, env: Mapping[str, str]) -> bool:
        """Whether gluenet's state is reachable from every worker (Postgres
        or DynamoDB), rather than a file on this one."""
        if env.get("GLUENET_POSTGRES_DSN"):
            return True
        st = env.get("GLUENET_STATE", "")
        return "://" in st and not st.startswith("file:")

    # -- Glue calls -----------------------------------------------------------

    def stop_job_run(self, job_name: str, run_id: str) -> str:
        """BatchStopJobRun for one run; returns what Glue said, for the log."""
        resp = self.conn.batch_stop_job_run(JobName=job_name, JobRunIds=[run_id])
        if resp.get("SuccessfulSubmissions"):
            return f"BatchStopJobRun accepted for {run_id}"
        errs = resp.get("Errors") or []
        detail = errs[0].get("ErrorDetail", {}) if errs else {}
        return f"BatchStopJobRun refused for {run_id}: {detail.get('ErrorCode', '')} {detail.get('ErrorMessage', '')}"


def expiry_of(creds: Any) -> dt.datetime | None:
    """When refreshable botocore credentials expire (None: they do not)."""
    exp = getattr(creds, "_expiry_time", None)
    if exp is None:
        return None
    return exp if exp.tzinfo else exp.replace(tzinfo=dt.timezone.utc)


def _mask(frozen: Any) -> None:
    try:
        from airflow.sdk.log import mask_secret  # Airflow 3
    except ImportError:
        from airflow.utils.log.secrets_masker import mask_secret
    mask_secret(frozen.secret_key)
    if frozen.token:
        mask_secret(frozen.token)


class CredentialFile:
    """Credentials that expire, kept fresh for a long gluenet process.

    Writes a private directory with an AWS config file whose profile runs
    ``credential_process = cat creds.json``, and a thread that rewrites
    creds.json from botocore's refreshable credentials (which renew
    themselves through STS) every ``check_every`` seconds. The Expiration
    in the file is the real one minus five minutes, so gluenet's SDK asks
    again before its copy expires and finds the renewed keys.

    Use as a context manager around the process; :meth:`apply` edits the
    process's environment.
    """

    def __init__(self, creds: Any, check_every: float = 30, log: Any = None) -> None:
        self.creds = creds
        self.check_every = check_every
        self.log = log
        self.dir = tempfile.mkdtemp(prefix="gluenet-creds-")
        os.chmod(self.dir, 0o700)
        self.path = os.path.join(self.dir, "creds.json")
        self.config = os.path.join(self.dir, "config")
        self.shared = os.path.join(self.dir, "credentials")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_key: tuple | None = None
        self.writes = 0

    def write(self) -> None:
        frozen = self.creds.get_frozen_credentials()
        _mask(frozen)
        doc = {"Version": 1, "AccessKeyId": frozen.access_key, "SecretAccessKey": frozen.secret_key}
        if frozen.token:
            doc["SessionToken"] = frozen.token
        exp = expiry_of(self.creds)
        if exp is not None:
            doc["Expiration"] = (exp - _EXPIRY_MARGIN).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.path)
        self._last_key = (frozen.access_key, frozen.token)
        self.writes += 1

    def __enter__(self) -> CredentialFile:
        self.write()
        with open(self.config, "w") as f:
            f.write(f"[profile {_PROFILE}]\ncredential_process = cat {shlex.quote(self.path)}\n")
        open(self.shared, "w").close()
        self._thread = threading.Thread(target=self._loop, name="gluenet-credentials", daemon=True)
        self._thread.start()
        return self

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        for k in _CRED_VARS:
            env.pop(k, None)
        env.update({"AWS_CONFIG_FILE": self.config, "AWS_SHARED_CREDENTIALS_FILE": self.shared,
                    "AWS_PROFILE": _PROFILE, "AWS_SDK_LOAD_CONFIG": "1"})
        return env

    def _next_check(self) -> float:
        """Every check_every seconds, more often when the copy gluenet has
        expires sooner (short role sessions)."""
        exp = expiry_of(self.creds)
        if exp is None:
            return self.check_every
        left = (exp - _EXPIRY_MARGIN - dt.datetime.now(dt.timezone.utc)).total_seconds()
        return max(0.5, min(self.check_every, left / 2))

    def _loop(self) -> None:
        while not self._stop.wait(self._next_check()):
            try:
                # botocore renews the credentials here when they are near expiry.
                f = self.creds.get_frozen_credentials()
                if (f.access_key, f.token) != self._last_key:
                    self.write()
            except Exception as e:  # the next check tries again; gluenet keeps its copy meanwhile
                if self.log:
                    self.log.warning("gluenet: renewing AWS credentials failed: %s", e)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        for p in (self.path, self.path + ".tmp", self.config, self.shared):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
