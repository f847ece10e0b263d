"""A step's RetryPolicies, as SageMaker Pipelines applies them (developer guide, "Retry
Policy for Pipeline Steps").

A policy names exception types, ``IntervalSeconds`` before the first retry (default 1),
``BackoffRate`` multiplying it at each retry (default 2.0), and either ``MaxAttempts``
retries (default 5) or ``ExpireAfterMin`` minutes of retrying. A failure is retried only when
its type is named by a policy: a script's error (AlgorithmError) has no type and is never
retried, as on the service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from simulator.errors import Problem, objects_in

STEP_EXCEPTION_TYPES = ("Step.SERVICE_FAULT", "Step.THROTTLING")
JOB_EXCEPTION_TYPES = (
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)
EXCEPTION_TYPES = STEP_EXCEPTION_TYPES + JOB_EXCEPTION_TYPES
# Steps whose RetryPolicies the service reads (others may not carry any).
RETRYABLE_STEP_TYPES = (
    "Processing",
    "Training",
    "Tuning",
    "AutoML",
    "Model",
    "RegisterModel",
    "Transform",
    "Notebook",
)
_DEFAULT_MAX_ATTEMPTS = 5

# Error codes of a refused call, and the exception type each is.
_CODE_TYPES = {
    "ThrottlingException": "Step.THROTTLING",
    "Throttling": "Step.THROTTLING",
    "InternalFailure": "Step.SERVICE_FAULT",
    "ServiceUnavailable": "Step.SERVICE_FAULT",
    "InternalServerError": "Step.SERVICE_FAULT",
    "ResourceLimitExceeded": "SageMaker.RESOURCE_LIMIT",
}
# Prefixes of a failed job's FailureReason, and the exception type each is.
_REASON_TYPES = {
    "CapacityError": "SageMaker.CAPACITY_ERROR",
    "InsufficientCapacityError": "SageMaker.CAPACITY_ERROR",
    "InternalServerError": "SageMaker.JOB_INTERNAL_ERROR",
}


def type_of_client_error(exc: BaseException) -> str | None:
    """The exception type of a refused SageMaker call (botocore ClientError-shaped)."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return _CODE_TYPES.get(code) if isinstance(code, str) else None


def type_of_job_failure(failure_reason: str | None) -> str | None:
    """The exception type of a failed job, from its FailureReason (None: a script error)."""
    for prefix, kind in _REASON_TYPES.items():
        if (failure_reason or "").startswith(prefix):
            return kind
    return None


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: tuple[str, ...]
    interval_seconds: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = _DEFAULT_MAX_ATTEMPTS
    expire_after_min: float | None = None

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> RetryPolicy:
        expire = doc.get("ExpireAfterMin")
        max_attempts = doc.get("MaxAttempts")
        if max_attempts is None and expire is None:
            max_attempts = _DEFAULT_MAX_ATTEMPTS
        return cls(
            tuple(doc.get("ExceptionType") or ()),
            float(doc.get("IntervalSeconds", 1)),
            float(doc.get("BackoffRate", 2.0)),
            int(max_attempts) if max_attempts is not None else None,
            float(expire) if expire is not None else None,
        )


class RetryState:
    """Decides, failure after failure, whether a step runs again and after how long."""

    def __init__(self, policies: list[dict[str, Any]]) -> None:
        self.policies = [RetryPolicy.parse(p) for p in policies]
        self.started = time.monotonic()
        self.retries: dict[int, int] = {}  # policy index → retries it granted

    def delay_before_retry(self, exception_type: str | None) -> float | None:
        """Seconds to wait before the next attempt, or None: the step fails now."""
        if exception_type is None:
            return None
        for i, policy in enumerate(self.policies):
            if exception_type not in policy.exception_types:
                continue
            done = self.retries.get(i, 0)
            if policy.max_attempts is not None and done >= policy.max_attempts:
                return None
            delay = policy.interval_seconds * policy.backoff_rate**done
            if policy.expire_after_min is not None:
                elapsed = time.monotonic() - self.started + delay
                if elapsed > policy.expire_after_min * 60:
                    return None
            self.retries[i] = done + 1
            return delay
        return None


def check_retry_policies(where: str, step_name: str, policies: Any) -> list[Problem]:
    """Problems of one step's RetryPolicies (checked when the pipeline is created)."""
    if policies is None:
        return []
    if not isinstance(policies, list):
        return [Problem(f"{where}.RetryPolicies", "must be a list", policies)]
    problems: list[Problem] = []
    for loc, doc in objects_in(policies, f"{where}.RetryPolicies", "a retry policy", problems):
        types = doc.get("ExceptionType")
        if not isinstance(types, list) or not types:
            problems.append(
                Problem(f"{loc}.ExceptionType", f"step {step_name!r}: a non-empty list", types)
            )
            continue
        for t in types:
            if t not in EXCEPTION_TYPES:
                problems.append(
                    Problem(
                        f"{loc}.ExceptionType",
                        f"step {step_name!r}: unknown exception type",
                        t,
                        f"use {', '.join(EXCEPTION_TYPES)}",
                    )
                )
        if doc.get("MaxAttempts") is not None and doc.get("ExpireAfterMin") is not None:
            problems.append(Problem(loc, "give MaxAttempts or ExpireAfterMin, not both", doc))
        for key, low in (("IntervalSeconds", 1), ("MaxAttempts", 1), ("ExpireAfterMin", 0)):
            value = doc.get(key)
            if value is not None and (not isinstance(value, int | float) or value < low):
                problems.append(Problem(f"{loc}.{key}", f"must be a number ≥ {low}", value))
        rate = doc.get("BackoffRate")
        if rate is not None and (not isinstance(rate, int | float) or rate < 1):
            problems.append(Problem(f"{loc}.BackoffRate", "must be a number ≥ 1", rate))
    return problems


__all__ = [
    "EXCEPTION_TYPES",
    "RetryState",
    "check_retry_policies",
    "type_of_client_error",
    "type_of_job_failure",
]
