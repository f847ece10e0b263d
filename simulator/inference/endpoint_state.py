"""The state of one endpoint and the errors of the endpoint operations."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import SmsimError
from simulator.inference.server import Invocation, ModelServer


class EndpointNotFound(SmsimError):
    """No such endpoint (the service's ValidationException "Could not find endpoint")."""


class ModelError(SmsimError):
    """InvokeEndpoint's ModelError: the container answered with an error."""

    def __init__(self, endpoint: str, variant: str, answer: Invocation, log_stream: str) -> None:
        self.status = answer.status
        self.original_message = answer.body.decode("utf-8", errors="replace")
        self.log_stream_arn = log_stream
        super().__init__(
            f"Received server error ({answer.status}) from primary with message "
            f'"{self.original_message[:2000]}". See {log_stream} in account for more '
            f"information."
        )


@dataclass
class Variant:
    """A production variant being served: its weight, image and model server."""

    name: str
    weight: float
    image: str
    server: ModelServer


@dataclass
class EndpointState:
    """One endpoint: its DescribeEndpoint (under ``lock``), the variants serving it, and
    ``settled``, set when a create or update has ended (InService or Failed)."""

    name: str
    arn: str
    config: str
    describe: dict[str, Any]
    variants: list[Variant] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    settled: threading.Event = field(default_factory=threading.Event)
