"""Run the four alignment levels over a project and gather one report."""

from __future__ import annotations

from pathlib import Path

from simulator.alignment.contract_spec import check_contract_spec, check_unused_contracts
from simulator.alignment.project import Project
from simulator.alignment.report import Finding, Report, error, warning
from simulator.alignment.script_ast import analyse_script
from simulator.alignment.script_contract import check_script_contract
from simulator.alignment.script_facts import display_path
from simulator.alignment.spec_dependencies import check_dependencies
from simulator.alignment.spec_sagemaker import check_metric_definitions, check_spec_sagemaker


def validate_project(
    project: Project, *, strict: bool = False, follow_imports: bool = True
) -> Report:
    """Every finding of levels 1–4 (plus project loading problems) for ``project``."""
    report = Report(strict=strict)
    report.extend(project.problems)
    report.steps = [s.step_type for s in project.specs]
    for spec in project.specs:
        report.checked[spec.step_type] = {}

    # Level 1: once per contract (a contract may serve several specs).
    for contract in project.contracts:
        users = [s.step_type for s in project.specs if s.script_contract == contract]
        label = ", ".join(users) if users else contract.entry_point
        script, matches = project.find_script(contract)
        if script is None:
            searched = ", ".join(display_path(d) for d in project.script_dirs)
            report.extend(
                [
                    error(
                        1,
                        label,
                        "script.missing",
                        f"entry point {contract.entry_point} not found (searched {searched})",
                        "put the script in one of those folders or pass --scripts DIR",
                    )
                ]
            )
            continue
        if len({m.resolve() for m in matches}) > 1:
            report.extend(
                [
                    error(
                        1,
                        label,
                        "script.ambiguous",
                        f"entry point {contract.entry_point} found in several folders: "
                        + ", ".join(display_path(m) for m in matches),
                        "pass --scripts DIR to say which one the contract describes",
                    )
                ]
            )
            continue
        try:
            facts = analyse_script(script, contract.job_type, follow_imports=follow_imports)
            findings = check_script_contract(contract, script, step=label, facts=facts)
            for spec in project.specs:
                definitions = project.metric_definitions.get(spec.step_type)
                if spec.script_contract == contract and definitions is not None:
                    findings += check_metric_definitions(spec, definitions, facts)
        except Exception as exc:  # noqa: BLE001 - one odd script must not abort the whole run
            findings = [_not_analysed(label, script, exc)]
        report.extend(findings)
        for step in users or [label]:
            report.checked.setdefault(step, {})[1] = display_path(script)

    # Levels 2 and 4: per spec.
    for spec in project.specs:
        report.extend(check_contract_spec(spec))
        definitions = project.metric_definitions.get(spec.step_type)
        names = [d.get("Name", "") for d in definitions] if definitions is not None else None
        report.extend(check_spec_sagemaker(spec, metric_names=names))
        contract = spec.script_contract
        report.checked[spec.step_type][2] = (
            f"contract {contract.entry_point}" if contract else "no contract (runs no script)"
        )
        report.checked[spec.step_type][4] = f"{len(spec.outputs)} property path(s)"
    report.extend(check_unused_contracts(project.contracts, project.specs))

    # Level 3: the registered specs as each other's producers.
    findings, wiring = check_dependencies(project.specs)
    report.extend(findings)
    report.wiring = wiring
    for spec in project.specs:
        report.checked[spec.step_type][3] = f"{len(spec.dependencies)} dependenc(ies)"

    report.findings.sort(key=lambda f: (f.level, f.step, f.severity.value != "error"))
    return report


def _not_analysed(step: str, script: Path, exc: Exception) -> Finding:
    """The static analysis itself failed (e.g. an expression nested too deep to walk)."""
    return warning(
        1,
        step,
        "script.not_analysed",
        f"level 1 not checked: analysing {display_path(script)} failed "
        f"({type(exc).__name__}: {exc})",
        "the script may be fine; simplify the construct (or pass --no-follow-imports if it "
        "is in an imported module) and report the script to smsim's maintainers",
    )
