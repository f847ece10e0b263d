"""Fault injection: a declarative plan of the service errors a run should meet.

Resume and retry code cannot otherwise be exercised before deploying; a plan makes a named
pipeline step or a named job meet a service error on its Nth attempt, with the words the
service uses. A plan is a list of faults::

    [{"kind": "CapacityError", "step": "Train", "attempt": 1},
     {"kind": "InternalServerError", "step": "Prep", "attempt": 2, "pipeline": "bsm"},
     {"kind": "SpotInterruption", "job": "bsm-train", "after_line": "^epoch 2 done"}]

given as ``LocalSageMaker(faults=...)`` (a list, a :class:`FaultPlan`, or a path to such a
JSON file), ``smsim serve --faults FILE``, ``smsim train --faults FILE``, or as
``$SMSIM_FAULTS`` (a path or the JSON itself).

Kinds, and where each strikes:

- ``CapacityError`` / ``InternalServerError``: the job fails while being provisioned, with
  the service's FailureReason (``SageMaker.CAPACITY_ERROR`` / ``SageMaker.JOB_INTERNAL_ERROR``
  in a retry policy's terms).
- ``ResourceLimitExceeded`` / ``ThrottlingException`` / ``InternalFailure``: the Create*
  call is refused with that error code (``SageMaker.RESOURCE_LIMIT``, ``Step.THROTTLING``,
  ``Step.SERVICE_FAULT``).
- ``SpotInterruption``: a job with ``EnableManagedSpotTraining`` loses its Spot
  instance ``at_seconds`` into training, or right after a log line matching ``after_line``
  (a regex): the script gets SIGTERM, checkpoints are synced, the job shows ``Interrupted``
  and restarts from its checkpoints after ``wait_seconds`` of waiting for capacity
  (``simulator/jobs/training/spot.py``).
- ``S3SlowDown``: the job's S3 requests answer ``503 SlowDown`` ``times`` times
  (default 1) from its first one on; botocore's retries absorb a few, more fail the job
  with S3's own error (``simulator/jobs/throttle.py``).

A fault on a ``job`` matches every job whose name starts with it; ``attempt`` N is the
Nth such job (a training job's retry under its RetryStrategy counting as one more:
``jobs/training/retry.py``). A fault on a pipeline ``step`` strikes that step's Nth
attempt; the kinds that strike while a job runs are handed to the step's job.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import Problem, SmsimError, ValidationError, objects_in

ENV_VAR = "SMSIM_FAULTS"

# kind → (where it strikes, the service's message).
KINDS: dict[str, tuple[str, str]] = {
    "CapacityError": (
        "job",
        "CapacityError: Unable to provision requested ML compute capacity. "
        "Please retry using a different ML instance type.",
    ),
    "InternalServerError": (
        "job",
        "InternalServerError: We encountered an internal error. Please try again.",
    ),
    "ResourceLimitExceeded": (
        "create",
        "The account-level service limit for the requested instance type is exceeded, "
        "with current utilization at the limit. Please contact AWS support to request "
        "an increase for this limit.",
    ),
    "ThrottlingException": ("create", "Rate exceeded"),
    "InternalFailure": (
        "create",
        "We encountered an internal error. Please try again.",
    ),
    # Strike while the job runs: the job's own code handles them (spot.py, s3_throttle.py).
    "SpotInterruption": ("run", "the Spot instance was interrupted"),
    "S3SlowDown": ("run", "Please reduce your request rate."),
}
# The options each kind takes besides kind/step/job/pipeline/attempt.
_OPTIONS: dict[str, tuple[str, ...]] = {
    "SpotInterruption": ("at_seconds", "after_line", "wait_seconds"),
    "S3SlowDown": ("times",),
}
_COMMON = ("kind", "step", "job", "pipeline", "attempt")


@dataclass(frozen=True)
class Fault:
    """One injected error: ``kind`` on attempt ``attempt`` of ``step`` (in ``pipeline``, or
    any pipeline), or of the job whose name starts with ``job``."""

    kind: str
    step: str | None = None
    job: str | None = None
    pipeline: str | None = None
    attempt: int = 1
    at_seconds: float | None = None  # SpotInterruption: seconds into training
    after_line: str | None = None  # SpotInterruption: a regex on the script's log lines
    wait_seconds: float = 1.0  # SpotInterruption: the wait for Spot capacity, unbilled
    times: int = 1  # S3SlowDown: how many requests are answered 503 SlowDown

    @property
    def strikes(self) -> str:
        return KINDS[self.kind][0]

    @property
    def message(self) -> str:
        return KINDS[self.kind][1]


class InjectedServiceError(Exception):
    """A refused Create* call, shaped like botocore's ClientError (``response['Error']``)."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        super().__init__(
            f"An error occurred ({code}) when calling the {operation} operation: {message}"
        )
        self.response = {"Error": {"Code": code, "Message": message}}


class InjectedRefusal(SmsimError):
    """A refused Create*Job call as the endpoint answers it: the fault's error code."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        super().__init__(message)
        self.service_code = code
        self.operation = operation


class FaultPlan:
    """The faults of one simulator; each fires at most once."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults = list(faults)
        self._fired: set[int] = set()
        self._seen: dict[int, int] = {}  # job fault → jobs matched so far (its attempts)
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, doc: Any, where: str = "faults") -> FaultPlan:
        """A plan from its JSON form; ValidationError naming each bad entry and the fix."""
        if isinstance(doc, dict):
            doc = doc.get("Faults", doc.get("faults"))
        if not isinstance(doc, list):
            raise ValidationError(
                where,
                [
                    Problem(
                        "",
                        "must be a list of faults",
                        doc,
                        'e.g. [{"kind": "CapacityError", "step": "Train", "attempt": 1}]',
                    )
                ],
            )
        faults: list[Fault] = []
        problems: list[Problem] = []
        for loc, item in objects_in(doc, "", "a fault", problems):
            kind = item.get("kind")
            if kind not in KINDS:
                problems.append(
                    Problem(
                        f"{loc}.kind", "unknown fault kind", kind, f"use one of {', '.join(KINDS)}"
                    )
                )
                continue
            if not item.get("step") and not item.get("job"):
                problems.append(Problem(loc, "a fault names a 'step' or a 'job'", item))
                continue
            attempt = item.get("attempt", 1)
            if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
                problems.append(Problem(f"{loc}.attempt", "must be an integer ≥ 1", attempt))
                continue
            allowed = (*_COMMON, *_OPTIONS.get(kind, ()))
            unknown = set(item) - set(allowed)
            if unknown:
                problems.append(
                    Problem(
                        loc,
                        f"unknown keys {sorted(unknown)} for a {kind} fault",
                        item,
                        f"use {', '.join(allowed)}",
                    )
                )
                continue
            option_problems = _option_problems(kind, item, loc)
            if option_problems:
                problems += option_problems
                continue
            options = {k: item[k] for k in _OPTIONS.get(kind, ()) if k in item}
            faults.append(
                Fault(
                    kind,
                    item.get("step"),
                    item.get("job"),
                    item.get("pipeline"),
                    attempt,
                    **options,
                )
            )
        if problems:
            raise ValidationError(where, problems)
        return cls(faults)

    @classmethod
    def load(cls, source: str | Path) -> FaultPlan:
        """From a JSON file, or JSON text (what ``$SMSIM_FAULTS`` may hold)."""
        text = str(source)
        if not text.lstrip().startswith(("[", "{")):
            path = Path(text)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValidationError(
                    "faults", [Problem("", f"cannot read the fault plan: {exc}", str(path))]
                ) from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                "faults", [Problem("", f"not JSON: {exc}", str(source))]
            ) from None
        return cls.parse(
            doc, where=f"fault plan {source}" if len(text) != len(str(source)) else "fault plan"
        )

    @classmethod
    def coerce(cls, value: Any) -> FaultPlan:
        """A plan from what ``LocalSageMaker(faults=...)`` accepts; ``$SMSIM_FAULTS`` when None."""
        if value is None:
            env = os.environ.get(ENV_VAR)
            return cls.load(env) if env else cls()
        if isinstance(value, FaultPlan):
            return value
        if isinstance(value, str | Path):
            return cls.load(value)
        return cls.parse(list(value))

    def for_step(self, pipeline: str, step: str, attempt: int) -> Fault | None:
        """The fault planned for this attempt of a pipeline step, marked fired."""
        with self._lock:
            for i, fault in enumerate(self.faults):
                if i in self._fired or fault.step != step or fault.attempt != attempt:
                    continue
                if fault.pipeline is not None and fault.pipeline != pipeline:
                    continue
                self._fired.add(i)
                return fault
        return None

    def for_job(self, name: str, strikes: tuple[str, ...]) -> list[Fault]:
        """The faults planned for the job ``name`` among those striking at ``strikes``,
        marked fired. Each call is one attempt of every job fault whose prefix matches."""
        found = []
        with self._lock:
            for i, fault in enumerate(self.faults):
                if i in self._fired or fault.job is None or fault.strikes not in strikes:
                    continue
                if not name.lower().startswith(fault.job.lower()):
                    continue
                self._seen[i] = self._seen.get(i, 0) + 1
                if self._seen[i] == fault.attempt:
                    self._fired.add(i)
                    found.append(fault)
        return found

    def hand_to_job(self, fault: Fault, job_name: str) -> None:
        """A step's fault that strikes while its job runs: planned for that job now."""
        with self._lock:
            self.faults.append(dataclasses.replace(fault, step=None, job=job_name, attempt=1))

    def __bool__(self) -> bool:
        return bool(self.faults)


def _option_problems(kind: str, item: dict[str, Any], loc: str) -> list[Problem]:
    problems = []
    for key in ("at_seconds", "wait_seconds"):
        value = item.get(key)
        if key in item and (not isinstance(value, int | float) or value < 0):
            problems.append(Problem(f"{loc}.{key}", "must be a number of seconds ≥ 0", value))
    if "times" in item and (not isinstance(item["times"], int) or item["times"] < 1):
        problems.append(Problem(f"{loc}.times", "must be an integer ≥ 1", item["times"]))
    if "after_line" in item:
        try:
            re.compile(item["after_line"])
        except (re.error, TypeError) as exc:
            problems.append(
                Problem(
                    f"{loc}.after_line", f"not a regular expression ({exc})", item["after_line"]
                )
            )
    if kind == "SpotInterruption" and ("at_seconds" in item) == ("after_line" in item):
        problems.append(
            Problem(
                loc,
                "a SpotInterruption strikes at_seconds into training or after_line (a regex)",
                item,
                'give one of them, e.g. "at_seconds": 5',
            )
        )
    return problems


__all__ = ["ENV_VAR", "KINDS", "Fault", "FaultPlan", "InjectedRefusal", "InjectedServiceError"]
