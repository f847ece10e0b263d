"""How a job's hosts ended: each host's result, the host that ended the job, and the
job's stop reason and FailureReason from them (``JobRun.execute_hosts``).

SageMaker's rule followed: the first host to fail (or to reach MaxRuntimeInSeconds) ends
the job, and a multi-host job's FailureReason names that host.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from simulator.hosts.launcher import ProcessResult


@dataclass
class JobOutcome:
    """How every host ended; ``first``: the host whose failure or time limit ended the job."""

    results: dict[str, ProcessResult] = field(default_factory=dict)
    first: str | None = None

    def stop_reason(self, stop_requested: bool) -> str | None:
        """The job's stop reason: "Stopped" (a stop request), "MaxRuntimeExceeded", or None."""
        if stop_requested:
            return "Stopped"
        if self.first is not None:
            return self.results[self.first].stop_reason
        reasons = {r.stop_reason for r in self.results.values()} - {None}
        return (
            "MaxRuntimeExceeded" if "MaxRuntimeExceeded" in reasons else next(iter(reasons), None)
        )

    def failed(self) -> tuple[str, ProcessResult] | None:
        """(host, result) of the first host that failed, None when none did."""
        if self.first is not None and self.results[self.first].stop_reason is None:
            return self.first, self.results[self.first]
        for host, result in self.results.items():
            if result.stop_reason is None and result.exit_code != 0:
                return host, result
        return None


class JobHalt(threading.Event):
    """Set when the job must end: a stop request (the record's event) or a host's end."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self._stop = stop

    def is_set(self) -> bool:
        return self._stop.is_set() or super().is_set()


def ending(result: ProcessResult) -> str:
    if result.stop_reason:
        return result.stop_reason
    return f"exit code {result.exit_code}"


def host_failure_reason(reason: str, host: str, host_count: int) -> str:
    """A failed host's FailureReason, naming the host when the job has several: the first
    line gets `` (algo-k)``."""
    if host_count <= 1:
        return reason
    first, sep, rest = reason.partition("\n")
    return f"{first} ({host}){sep}{rest}"
