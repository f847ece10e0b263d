"""One running smsim endpoint: the embedded AWS with smsim's router in front, and the
backend holding the workspace's jobs and pipelines.

    with Endpoint(workspace=".smsim", port=0) as endpoint:
        boto3.client("sagemaker", endpoint_url=endpoint.url, ...)

``LocalSageMaker`` starts one for its process; ``smsim serve`` starts one and waits;
the pytest plugin starts one per test session. The workspace is the source of truth:
a new endpoint on a used workspace lists and describes everything recorded there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import simulator.endpoint.handlers as handlers
from simulator.aws import DEFAULT_REGION, EmbeddedAws
from simulator.endpoint.backend import SageMakerBackend
from simulator.endpoint.router import Router
from simulator.errors import Problem, ValidationError
from simulator.hosts.launcher import LineSink, console_sink
from simulator.hosts.local import requested_mode
from simulator.images import ImageMap
from simulator.jobs.runner import HostSettings
from simulator.workspace import check_workspace

DEFAULT_PORT = 5757  # `smsim serve`'s port unless --port is given (README)
BACKENDS = ("local", "ray")  # where job hosts run: this machine's processes, a Ray cluster


def check_backend(backend: str) -> str:
    """``backend`` checked: one of BACKENDS, else a ValidationError naming the fix."""
    if backend not in BACKENDS:
        raise ValidationError(
            "backend",
            [Problem("backend", "unknown host backend", backend, f"use one of {BACKENDS}")],
        )
    return backend


class Endpoint:
    """smsim's SageMaker (and moto's everything else) on one local URL."""

    def __init__(
        self,
        workspace: str | Path = ".smsim",
        *,
        region: str = DEFAULT_REGION,
        host: str = "127.0.0.1",
        port: int = 0,
        s3_endpoint: str | None = None,
        images: str | Path | Mapping[str, str] | None = None,
        log_sink: LineSink | None = None,
        stop_grace_seconds: float = 120.0,
        checkpoint_sync_seconds: float = 2.0,
        container_mode: str | None = None,
        backend: str = "local",
        ray_address: str | None = None,
        ray_resources: Any = None,
    ) -> None:
        self.workspace = Path(workspace).expanduser().resolve()
        backend = check_backend(backend)
        if backend == "ray":
            from simulator.hosts.ray_launcher import import_ray
            from simulator.hosts.ray_resources import load_overrides

            import_ray()  # Ray missing: one line saying how to install it, before anything
            ray_resources = load_overrides(ray_resources)
        self.aws = EmbeddedAws(region, host=host, port=port, s3_endpoint=s3_endpoint)
        self.backend = SageMakerBackend(
            self.workspace,
            self.aws,
            ImageMap.load(images, self.workspace),
            log_sink or console_sink(),
            HostSettings(
                grace_seconds=stop_grace_seconds,
                sync_interval=checkpoint_sync_seconds,
                container_mode=requested_mode(container_mode)[0] if container_mode else None,
                backend=backend,
                ray_address=ray_address,
                ray_resources=ray_resources,
            ),
        )
        self.loaded: dict[str, int] = {}
        self._started = False

    @property
    def url(self) -> str:
        return self.aws.endpoint_url

    def env(self) -> dict[str, str]:
        """Variables pointing an AWS SDK, CLI or subprocess at this endpoint."""
        return self.aws.env()

    def start(self) -> Endpoint:
        if self._started:
            return self
        check_workspace(self.workspace)  # created and writable, or a clear error (#17)
        if self.backend.settings.backend == "ray":
            from simulator.hosts.ray_launcher import connect

            # An unreachable cluster is refused now, not job by job.
            connect(self.backend.settings.ray_address)
        self.loaded = self.backend.load()
        table = handlers.build(self.backend)
        self.aws.start(
            lambda moto_app: Router(
                table, moto_app, self.aws.account_id, endpoints=self.backend.endpoints
            )
        )
        self._started = True
        return self

    def close(self) -> None:
        """Stop running executions and jobs (each ends Stopped), then the server."""
        if not self._started:
            return
        try:
            self.backend.close()
        finally:
            self.aws.stop()
            self._started = False

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DEFAULT_PORT", "Endpoint"]
