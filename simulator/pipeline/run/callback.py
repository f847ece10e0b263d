"""Callback steps: the service sends a token to the step's SQS queue and the step waits in
Executing until someone answers ``SendPipelineExecutionStepSuccess`` (with output
parameters) or ``SendPipelineExecutionStepFailure`` with that token.

The message body is the service's: ``{"token", "pipelineExecutionArn", "arguments",
"status"}``. Tokens are 10 alphanumerics (botocore's CallbackToken pattern).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import ValidationError
from simulator.pipeline.run.step_failed import StepFailed

# The service fails a Callback step that gets no answer within 7 days.
DEFAULT_TIMEOUT_SECONDS = 7 * 24 * 3600


@dataclass
class Waiting:
    """One Callback step waiting for its answer."""

    token: str
    execution_arn: str
    answered: threading.Event = field(default_factory=threading.Event)
    outputs: list[dict[str, str]] | None = None
    failure_reason: str | None = None


class CallbackRegistry:
    """The tokens of the Callback steps now waiting, for the Send* operations."""

    def __init__(self) -> None:
        self._waiting: dict[str, Waiting] = {}
        self._lock = threading.Lock()

    def open(self, execution_arn: str) -> Waiting:
        alphabet = string.ascii_letters + string.digits
        with self._lock:
            while True:
                token = "".join(secrets.choice(alphabet) for _ in range(10))
                if token not in self._waiting:
                    break
            waiting = Waiting(token, execution_arn)
            self._waiting[token] = waiting
        return waiting

    def close(self, token: str) -> None:
        with self._lock:
            self._waiting.pop(token, None)

    def answer(
        self, token: str, *, outputs: list[dict[str, str]] | None = None, failure: str | None = None
    ) -> str:
        """Deliver an answer; the execution's ARN. ValidationError for a token no step waits
        on (unknown, or already answered)."""
        with self._lock:
            waiting = self._waiting.pop(token, None)
        if waiting is None:
            raise ValidationError(
                f"CallbackToken {token!r} is not the token of a Callback step waiting for an "
                "answer (unknown, already answered, or its execution ended)"
            )
        waiting.outputs, waiting.failure_reason = outputs or [], failure
        waiting.answered.set()
        return waiting.execution_arn


def typed_outputs(given: list[dict[str, str]], declared: list[dict[str, Any]]) -> dict[str, Any]:
    """The declared output parameters from an answer's OutputParameters, typed."""
    values = {p["Name"]: p["Value"] for p in given}
    out: dict[str, Any] = {}
    for item in declared:
        name, kind = item.get("OutputName"), item.get("OutputType", "String")
        if name not in values:
            continue  # the service leaves an unanswered output unset
        value = values[name]
        if kind == "Integer":
            out[name] = int(value)
        elif kind == "Float":
            out[name] = float(value)
        elif kind == "Boolean":
            out[name] = str(value).lower() == "true"
        else:
            out[name] = value
    for name, value in values.items():
        out.setdefault(name, value)
    return out


def run_step(executor: Any, step: Any, rec: Any) -> None:
    """Send the token to the step's queue, then wait for SendPipelineExecutionStep*."""
    url = str(step.raw.get("SqsQueueUrl"))
    arguments = executor._evaluate(step)
    rec.arguments = arguments
    waiting = executor.callbacks.open(executor.record.execution_arn)
    try:
        body = {
            "token": waiting.token,
            "pipelineExecutionArn": executor.record.execution_arn,
            "arguments": arguments,
            "status": "Executing",
        }
        executor.sm.aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))
        with executor.record.lock:
            rec.metadata = {"Callback": {"CallbackToken": waiting.token, "SqsQueueUrl": url}}
            executor.record.changed()
        deadline = time.monotonic() + DEFAULT_TIMEOUT_SECONDS
        while not waiting.answered.wait(executor.poll_interval):
            if executor.record.stop_requested.is_set():
                raise StepFailed("execution stopped", status="Stopped")
            if time.monotonic() > deadline:
                raise StepFailed("the Callback step got no answer within 7 days")
    finally:
        executor.callbacks.close(waiting.token)
    if waiting.failure_reason is not None:
        raise StepFailed(waiting.failure_reason)
    outputs = typed_outputs(waiting.outputs or [], step.raw.get("OutputParameters") or [])
    with executor.record.lock:
        rec.outputs = outputs
        rec.metadata["Callback"]["OutputParameters"] = waiting.outputs or []
        executor.record.changed()


__all__ = ["DEFAULT_TIMEOUT_SECONDS", "CallbackRegistry", "Waiting", "run_step", "typed_outputs"]
