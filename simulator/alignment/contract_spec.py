"""Level 2: a script contract against the step specification that wires it.

The rules are the foundation's, :meth:`specs.base.StepSpecification.contract_alignment_issues`
(one source of truth): every contract input is a dependency and every contract
output an output (by logical name or alias) — errors; a dependency or a file
output with no contract counterpart — warnings (outputs that are properties of
the job, such as its name or metrics, need none); a contract of the wrong
flavour for the SageMaker step type — an error. This module turns its result
into findings, and adds the project-level rule that a contract no spec uses
is a warning (nothing wires its script into a pipeline).
"""

from __future__ import annotations

from contracts.base import ScriptContract
from simulator.alignment.report import Finding, error, warning
from specs.base import StepSpecification

LEVEL = 2


def check_contract_spec(spec: StepSpecification) -> list[Finding]:
    """Level-2 findings of one spec and its contract."""
    where = _where(spec)
    return [
        (error if issue.is_error else warning)(
            LEVEL, spec.step_type, "contract_spec", issue.message, issue.fix, location=where
        )
        for issue in spec.contract_alignment_issues()
    ]


def check_unused_contracts(
    contracts: list[ScriptContract], specs: list[StepSpecification]
) -> list[Finding]:
    """A contract that no spec references: its script is never wired into a pipeline."""
    used = [s.script_contract for s in specs if s.script_contract is not None]
    return [
        warning(
            LEVEL,
            c.entry_point,
            "contract_spec.unused_contract",
            f"contract of {c.entry_point} is used by no step specification",
            "set it as script_contract of the spec that runs the script, or delete it",
        )
        for c in contracts
        if not any(c == u for u in used)
    ]


def _where(spec: StepSpecification) -> str:
    contract = spec.script_contract
    return f"spec {spec.step_type} / contract {contract.entry_point}" if contract else ""
