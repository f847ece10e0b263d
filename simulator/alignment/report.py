"""One report for the four alignment levels: findings a user acts on.

Each finding says which level found it, for which step, where (``file:line``
for script findings, the spec or contract field otherwise), what is wrong and
what to change. ``--strict`` turns warnings into errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

LEVEL_NAMES: dict[int, str] = {
    0: "project",
    1: "script ↔ contract",
    2: "contract ↔ spec",
    3: "spec ↔ dependencies",
    4: "spec ↔ SageMaker",
}


class Severity(StrEnum):
    """How bad a finding is: errors fail validation; warnings do only with --strict."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One misalignment: level, severity, step, rule id, message, fix and location."""

    level: int
    severity: Severity
    step: str
    rule: str
    message: str
    fix: str = ""
    location: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["level_name"] = LEVEL_NAMES.get(self.level, "")
        return data

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"[L{self.level} {self.severity.value}] {self.step}: {where}{self.message}{fix}"


def error(
    level: int, step: str, rule: str, message: str, fix: str = "", location: str = ""
) -> Finding:
    """An error finding."""
    return Finding(level, Severity.ERROR, step, rule, message, fix, location)


def warning(
    level: int, step: str, rule: str, message: str, fix: str = "", location: str = ""
) -> Finding:
    """A warning finding."""
    return Finding(level, Severity.WARNING, step, rule, message, fix, location)


@dataclass
class Report:
    """Everything one ``smsim validate`` run found, plus what it checked."""

    findings: list[Finding] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    # What each level checked per step, e.g. {"PyTorchTraining": {1: "train.py", ...}}.
    checked: dict[str, dict[int, str]] = field(default_factory=dict)
    # Level-3 wiring shown to the user: step → dependency → chosen producer and candidates.
    wiring: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    strict: bool = False

    def extend(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    def effective(self, finding: Finding) -> Severity:
        """A finding's severity after ``--strict``."""
        return Severity.ERROR if self.strict else finding.severity

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if self.effective(f) is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if self.effective(f) is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        findings = []
        for f in self.findings:
            item = f.to_dict()
            item["severity"] = self.effective(f).value
            findings.append(item)
        return {
            "ok": self.ok,
            "strict": self.strict,
            "error_count": len(self.errors),
            "warning_count": len(self.warnings),
            "steps": self.steps,
            "checked": {s: {str(k): v for k, v in lv.items()} for s, lv in self.checked.items()},
            "wiring": self.wiring,
            "findings": findings,
        }
