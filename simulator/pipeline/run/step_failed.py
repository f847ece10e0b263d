"""The failure of one step attempt, with the retry policies' name for it."""

from __future__ import annotations

from simulator.errors import SmsimError


class StepFailed(SmsimError):
    """A step ended Failed (its reason) or Stopped."""

    def __init__(
        self, reason: str, status: str = "Failed", exception_type: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # The retry policies' name for this failure (None: never retried, e.g. a script error).
        self.exception_type = exception_type


__all__ = ["StepFailed"]
