"""smsim's exceptions: one small hierarchy, each message naming what to fix.

The names of the service-shaped errors follow SageMaker's own error codes
(``ValidationException``, ``ResourceInUse``, ``ResourceNotFound``) so that a
user who knows the service reads them without a glossary.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass
class ValidationError(SmsimError):
    """SageMaker's ValidationException: the input does not fit the API model."""

    what: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.what}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ResourceInUse(SmsimError):
    """SageMaker's ResourceInUse: a name that must be unique is taken."""


class ResourceNotFound(SmsimError):
    """SageMaker's ResourceNotFound: no such job, pipeline or execution."""


class UnsupportedFeature(SmsimError):
    """The request asks for something SageMaker does but smsim does not (yet)."""


class PropertyPathError(SmsimError):
    """A property path that does not exist in the SageMaker API model, or cannot resolve."""
