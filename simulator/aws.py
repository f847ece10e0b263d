"""The embedded AWS: moto's services behind one local HTTP endpoint.

smsim serves moto's WSGI app (wrapped by smsim's SageMaker router, see
``simulator.endpoint``) on ``127.0.0.1`` (a free port unless told) rather than the
in-process ``mock_aws`` patch, so that one state is reached by

* every boto3 client of this process while the simulator runs — the SageMaker
  Python SDK's included — through ``AWS_ENDPOINT_URL``;
* other processes (a notebook, the AWS CLI, a test suite) given that URL;
* a job's subprocess (a training script that reads or writes S3 itself),
  which gets the same endpoint and dummy credentials in its environment.

S3 is moto's, in memory, unless ``s3_endpoint`` names an external S3-compatible
endpoint: then S3 clients (``AWS_ENDPOINT_URL_S3``) go there.
Several may run in one process (a LocalSageMaker inside a test session that has the
pytest plugin's endpoint): moto's backends are process-wide, so they share S3, IAM,
CloudWatch and moto's SageMaker, while each has its own jobs and pipelines (its
workspace). The first to start begins a fresh account; the environment points at the
latest started one, and at the previous one again when it stops.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
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
_active: list[EmbeddedAws] = []  # running, in start order
_saved_env: dict[str, str | None] = {}  # the environment before the first started
_client_lock = threading.Lock()  # boto3.Session() creation is not thread-safe


class EmbeddedAws:
    """moto's server on a free local port, plus the process environment that points at it."""

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        s3_endpoint: str | None = None,
    ) -> None:
        self.region = region
        self.account_id = ACCOUNT_ID
        self.host = host
        self.port = port
        self.s3_endpoint = s3_endpoint.rstrip("/") if s3_endpoint else None
        self.endpoint_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self, wrap: Callable[[Any], Any] | None = None) -> EmbeddedAws:
        """Serve moto's app (``wrap(app)`` when given: smsim's router in front of it)."""
        try:
            from moto.core.base_backend import BackendDict
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server

            with _active_lock:
                if not _active:
                    BackendDict.reset()  # a fresh account: nothing from an earlier run
            _limit_malloc_arenas()
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request lines
            app: Any = DomainDispatcherApplication(create_backend_app)
            if wrap is not None:
                app = wrap(app)
            try:
                self._server = make_server(
                    self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
                )
            except OSError as exc:
                raise SmsimError(
                    f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                    "pick another port (--port 0 takes a free one)"
                ) from None
            port = int(self._server.server_address[1])
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="smsim-endpoint", daemon=True
            )
            self._thread.start()
            shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
            self.endpoint_url = f"http://{shown}:{port}"
            with _active_lock:
                if not _active:
                    keys = {*self.env(), "AWS_ENDPOINT_URL_S3"}
                    _saved_env.update({k: os.environ.get(k) for k in keys})
                _active.append(self)
                _export(self.env())
        except BaseException:
            self._shutdown()
            raise
        return self

    def stop(self) -> None:
        try:
            self._shutdown()
        finally:
            with _active_lock:
                if self in _active:
                    _active.remove(self)
                    if _active:
                        _export(_active[-1].env())  # the one started before
                    else:
                        _restore(_saved_env)
                        from moto.core.base_backend import BackendDict

                        BackendDict.reset()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(10)
            self._server = self._thread = None

    # -- clients and environment ---------------------------------------------------
    def env(self) -> dict[str, str]:
        """Variables that point any AWS SDK (this process or a child) at the embedded AWS."""
        env = {
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
            "S3_ENDPOINT_URL": self.s3_endpoint or self.endpoint_url,
        }
        if self.s3_endpoint:
            env["AWS_ENDPOINT_URL_S3"] = self.s3_endpoint  # boto3's per-service endpoint
        return env

    def client(self, service: str, config: Config | None = None) -> Any:
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
            url = self.s3_endpoint if service == "s3" and self.s3_endpoint else self.endpoint_url
            return session.client(service, endpoint_url=url, config=config or CLIENT_CONFIG)


def _export(env: dict[str, str]) -> None:
    for key in ("AWS_ENDPOINT_URL_S3",):  # set only by some endpoints
        if key not in env:
            os.environ.pop(key, None)
    os.environ.update(env)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    saved.clear()


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
