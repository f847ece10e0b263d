"""The embedded AWS: moto's S3 and SageMaker behind a local HTTP endpoint.

smsim runs moto's ``ThreadedMotoServer`` on ``127.0.0.1`` (a free port) rather
than the in-process ``mock_aws`` patch, so that one state is reached by

* every boto3 client created in this process while the simulator runs —
  including the SageMaker Python SDK's — through ``AWS_ENDPOINT_URL``;
* a job's subprocess (a training script that reads or writes S3 itself),
  which gets the same endpoint and dummy credentials in its environment.

The server thread shares moto's backends with this process, so the job runner
can also update moto's SageMaker objects directly (see ``session.py``).
Only one embedded AWS runs per process at a time: moto's state is global.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import boto3
from botocore.config import Config

from simulator.errors import SmsimError

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

# Dummy credentials: moto accepts anything; real ones must never be used or needed.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

# boto3's default request checksums make single PUTs to moto ~5x slower;
# SageMaker itself does not need them. `when_required` = only where the API demands it.
CLIENT_CONFIG = Config(
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=32,
)

_active_lock = threading.Lock()
_active: EmbeddedAws | None = None
_client_lock = threading.Lock()  # boto3.Session() creation is not thread-safe


class EmbeddedAws:
    """moto's server on a free local port, plus the process environment that points at it."""

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        self.region = region
        self.account_id = ACCOUNT_ID
        self.endpoint_url = ""
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> EmbeddedAws:
        global _active
        with _active_lock:
            if _active is not None:
                raise SmsimError(
                    "an embedded AWS (a LocalSageMaker) is already running in this process; "
                    "moto's state is per process, so close the first one (leave its `with` "
                    "block) before starting another"
                )
            _active = self
        try:
            from moto.core.base_backend import BackendDict
            from moto.server import ThreadedMotoServer

            BackendDict.reset()  # a fresh account: no buckets or jobs from an earlier run
            _limit_malloc_arenas()
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request lines
            port = _free_port()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            self._server.start()
            self.endpoint_url = f"http://127.0.0.1:{port}"
            self._export_env()
        except BaseException:
            with _active_lock:
                _active = None
            raise
        return self

    def stop(self) -> None:
        global _active
        try:
            if self._server is not None:
                self._server.stop()
                self._server = None
            self._restore_env()
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
        finally:
            with _active_lock:
                if _active is self:
                    _active = None

    # -- clients and environment ---------------------------------------------------
    def env(self) -> dict[str, str]:
        """Variables that point any AWS SDK (this process or a child) at the embedded AWS."""
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # The same speed-up as CLIENT_CONFIG for clients we do not create ourselves.
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            # Never read the user's real profile or credentials file.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # The toolkit reads this for S3 downloads of code (params.S3_ENDPOINT_URL).
            "S3_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on the embedded AWS (safe to call from any thread)."""
        if not self.endpoint_url:
            raise SmsimError("the embedded AWS is not running; use LocalSageMaker as a context")
        with _client_lock:
            session = boto3.session.Session(
                aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
                region_name=self.region,
            )
            return session.client(service, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)

    def sagemaker_backend(self) -> Any:
        """moto's SageMaker backend object for our account and region (in-process state)."""
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account_id][self.region]

    def _export_env(self) -> None:
        for key, value in self.env().items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at 2 for this process.

    moto's server handles each request in a new thread; glibc gives threads their own
    arenas (up to 8 per core) and keeps their freed memory, so 1 GB of uploads left
    ~300 MB of dead heap in the orchestrator. Two arenas keep it near the live size.
    Only future arenas are affected; a no-op where glibc is absent.
    """
    if os.environ.get("SMSIM_KEEP_MALLOC_ARENAS"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        return
