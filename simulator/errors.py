"""smsim's exceptions: one small hierarchy, each message naming what to fix.

The names of the service-shaped errors follow SageMaker's own error codes
(``ValidationException``, ``ResourceInUse``, ``ResourceNotFound``) so that a
user who knows the service reads them without a glossary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class SmsimError(Exception):
    """Base class of every error smsim raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what was there, what to do."""

    path: str
    message: str
    value: object = None
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.path or '<root>'}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f"; {self.fix}"
        return text


def objects_in(
    items: list[object], where: str, what: str, problems: list[Problem]
) -> Iterator[tuple[str, dict]]:
    """Each object of a JSON list with its location (``where[i]``); a Problem for the rest.

    The one walk behind every list-of-objects input (faults, RetryPolicies, ...).
    """
    for i, item in enumerate(items):
        loc = f"{where}[{i}]"
        if isinstance(item, dict):
            yield loc, item
        else:
            problems.append(Problem(loc, f"{what} must be an object", item))


class ValidationError(SmsimError):
    """SageMaker's ValidationException: the input does not fit the API model."""

    def __init__(self, what: str, problems: list[Problem] | None = None) -> None:
        self.what = what
        self.problems = list(problems or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.problems:  # a message as the service sent it (see ServiceError)
            return self.what
        lines = [f"{self.what}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ResourceInUse(SmsimError):
    """SageMaker's ResourceInUse: a name that must be unique is taken."""


class ResourceNotFound(SmsimError):
    """SageMaker's ResourceNotFound: no such job, pipeline or execution."""


class RequestedResourceNotFound(ValidationError):
    """An unknown job: the service answers ValidationException "Requested resource not
    found." (not ResourceNotFound) to Describe/Stop of a training or processing job."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__("Requested resource not found.")

    def __str__(self) -> str:
        return f"{self.what} {self.detail}"


class JobAlreadyEnded(ValidationError):
    """Stop*Job of a job that ended: the service's ValidationException (#17)."""


class ResourceLimitExceeded(SmsimError):
    """SageMaker's ResourceLimitExceeded: a quota (e.g. concurrent jobs) is reached."""


class UnsupportedFeature(SmsimError):
    """The request asks for something SageMaker does but smsim does not (yet)."""


class PropertyPathError(SmsimError):
    """A property path that does not exist in the SageMaker API model, or cannot resolve."""


# The error code the service sends for each of smsim's errors (its JSON `__type`).
SERVICE_CODES: dict[type[SmsimError], str] = {
    ResourceInUse: "ResourceInUse",
    ResourceNotFound: "ResourceNotFound",
    ResourceLimitExceeded: "ResourceLimitExceeded",
}


def service_code(exc: SmsimError) -> str:
    """SageMaker's error code for ``exc``: ValidationException unless it names a resource."""
    code = getattr(exc, "service_code", None)  # an injected fault's own (simulator.faults)
    if isinstance(code, str):
        return code
    for cls, code in SERVICE_CODES.items():
        if isinstance(exc, cls):
            return code
    return "ValidationException"


# The header naming smsim's own class of an error (the service's code alone cannot say
# UnsupportedFeature from ValidationError; botocore keeps response headers in the error).
CLASS_HEADER = "x-smsim-error"
# The header listing a ValidationError's problems (JSON), so a client gets them as objects.
PROBLEMS_HEADER = "x-smsim-problems"


def problems_header(exc: SmsimError) -> str:
    """A ValidationError's problems as the PROBLEMS_HEADER value (ASCII JSON); else ""."""
    import json

    problems = getattr(exc, "problems", None)
    if not problems:
        return ""
    return json.dumps(
        [{"path": p.path, "message": p.message, "value": p.value, "fix": p.fix} for p in problems],
        default=repr,
    )


def service_error(client_error: Exception, modeled: type[Exception]) -> Exception:
    """``client_error`` (a botocore ClientError) re-raised as one class that is both the
    client's modeled exception (``sm.exceptions.ResourceInUse``, or ClientError) and the
    smsim error it came from, so ``except ClientError`` and ``except SmsimError`` (or the
    precise ``UnsupportedFeature``) both catch what ``LocalSageMaker`` raises."""
    response = client_error.response  # type: ignore[attr-defined]
    code = response.get("Error", {}).get("Code", "")
    named = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(CLASS_HEADER, "")
    ours = _BRIDGEABLE.get(named) or next(
        (c for c, k in SERVICE_CODES.items() if k == code), ValidationError
    )
    key = (modeled, ours)
    cls = _BRIDGES.get(key)
    if cls is None:
        members = {"__module__": modeled.__module__, "__str__": _client_error_text}
        cls = type(modeled.__name__, (modeled, ours), members)
        _BRIDGES[key] = cls
    error = cls(response, client_error.operation_name)  # type: ignore[attr-defined]
    listed = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(PROBLEMS_HEADER)
    if listed and isinstance(error, ValidationError):
        import json

        error.problems = [Problem(**p) for p in json.loads(listed)]
    return error


def _client_error_text(self: Exception) -> str:
    """botocore's wording of a ClientError (the bridge's text, whatever its smsim class)."""
    response = getattr(self, "response", None)
    if response is None:  # while ClientError.__init__ runs
        return ""
    error = response.get("Error", {})
    return (
        f"An error occurred ({error.get('Code', 'Unknown')}) when calling the "
        f"{getattr(self, 'operation_name', '')} operation: {error.get('Message', '')}"
    )


# smsim's classes an endpoint error can come back as (those built from a message alone).
_BRIDGEABLE: dict[str, type[SmsimError]] = {
    c.__name__: c
    for c in (
        SmsimError,
        ValidationError,
        ResourceInUse,
        ResourceNotFound,
        ResourceLimitExceeded,
        UnsupportedFeature,
        PropertyPathError,
    )
}
_BRIDGES: dict[tuple[type[Exception], type[SmsimError]], type[Exception]] = {}
