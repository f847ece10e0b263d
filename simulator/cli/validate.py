"""`smsim validate [PATH]`: scripts, contracts, specs and SageMaker agree, before deploy.

Without PATH it validates smsim's own steps (the default spec registry, their
contracts, the scripts in ``dockers/pytorch_bsm``); with PATH, a user's project
laid out like ours (see :mod:`simulator.alignment.project`). Four levels:
script ↔ contract, contract ↔ spec, spec ↔ dependencies, spec ↔ SageMaker.

Exit 0 when clean, 1 on any error (any warning too with ``--strict``), 2 when
the check could not run (no such project, a registry that does not load).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from simulator.alignment import (
    ProjectError,
    Report,
    Severity,
    builtin_project,
    load_project,
    validate_project,
)
from simulator.alignment.report import LEVEL_NAMES
from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    console,
    emit_json,
    err_console,
)


def register(main: click.Group) -> None:
    """Add this module's commands to `main`."""
    main.add_command(validate)


@click.command()
@click.argument(
    "path", required=False, type=click.Path(file_okay=False, path_type=Path), metavar="[PATH]"
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document for tools.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--scripts",
    "scripts_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder holding the entry-point scripts (default: PATH/dockers/*/, scripts/, src/, PATH).",
)
@click.option(
    "--no-follow-imports",
    is_flag=True,
    help="Analyse only each entry script, not the local modules it imports.",
)
def validate(
    path: Path | None,
    as_json: bool,
    strict: bool,
    scripts_dir: Path | None,
    no_follow_imports: bool,
) -> None:
    """Check that scripts, contracts, specs and SageMaker property paths agree.

    \b
    Levels: 1 script ↔ contract (static analysis, file:line), 2 contract ↔ spec,
    3 spec ↔ dependencies (resolver scores), 4 spec ↔ SageMaker (property paths,
    metric definitions).

    \b
    Without PATH: smsim's own steps (the default spec registry, dockers/pytorch_bsm).
    With PATH: every ScriptContract / StepSpecification defined at module level in
    PATH/contracts/*.py and PATH/specs/*.py; scripts found by entry point under
    PATH/dockers/*/, PATH/scripts/, PATH/src/ or PATH (or --scripts DIR).

    Exit 0 clean, 1 errors (warnings too with --strict), 2 could not run.
    """
    try:
        project = (
            load_project(path, scripts_dir) if path is not None else builtin_project(scripts_dir)
        )
        report = validate_project(project, strict=strict, follow_imports=not no_follow_imports)
    except ProjectError as exc:
        _unusable(str(exc), as_json)
    except Exception as exc:  # noqa: BLE001 - e.g. a built-in spec that fails to import
        _unusable(f"{type(exc).__name__}: {exc}", as_json)
    if as_json:
        data = report.to_dict()
        data["project"] = project.name
        emit_json(data)
    else:
        _print_report(project.name, report)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


def _unusable(message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": False, "error": message})
    else:
        err_console.print(f"[red]smsim validate could not run:[/red] {escape(message)}")
    sys.exit(EXIT_UNUSABLE)


def _print_report(name: str, report: Report) -> None:
    summary = Table(title=f"Alignment of {escape(name)}", title_justify="left")
    summary.add_column("Step", style="bold")
    for level in (1, 2, 3, 4):
        summary.add_column(f"L{level} {LEVEL_NAMES[level]}")
    for step in report.steps:
        summary.add_row(escape(step), *(_cell(report, step, level) for level in (1, 2, 3, 4)))
    console.print(summary)

    if report.wiring:
        wiring = Table(title="Dependency wiring (level 3)", title_justify="left")
        for column in ("Step", "Dependency", "Producer", "Score"):
            wiring.add_column(column, overflow="fold")
        for step, deps in report.wiring.items():
            for dep, entry in deps.items():
                wiring.add_row(escape(step), escape(dep), *_wiring_cells(entry))
        console.print(wiring)

    if report.findings:
        table = Table(title="Findings", title_justify="left", show_lines=True)
        for column in ("Level", "Step", "Where", "What", "Fix"):
            table.add_column(column, overflow="fold")
        for f in report.findings:
            severity = report.effective(f)
            colour = "red" if severity is Severity.ERROR else "yellow"
            table.add_row(
                f"[{colour}]L{f.level} {severity.value}[/{colour}]",
                escape(f.step),
                escape(f.location),
                escape(f.message),
                escape(f.fix),
            )
        console.print(table)

    n_err, n_warn = len(report.errors), len(report.warnings)
    steps = len(report.steps)
    if report.ok:
        mark = "[green]✓[/green]" if not n_warn else "[yellow]✓[/yellow]"
        console.print(f"{mark} {steps} step(s) aligned: {n_err} errors, {n_warn} warnings")
    else:
        console.print(f"[red]✗[/red] {steps} step(s) checked: {n_err} errors, {n_warn} warnings")


def _cell(report: Report, step: str, level: int) -> str:
    findings = [f for f in report.findings if f.level == level and step in f.step.split(", ")]
    errors = sum(1 for f in findings if report.effective(f) is Severity.ERROR)
    warnings = len(findings) - errors
    if errors:
        return f"[red]✗ {errors} err[/red]" + (
            f" [yellow]{warnings} warn[/yellow]" if warnings else ""
        )
    if warnings:
        return f"[yellow]! {warnings} warn[/yellow]"
    if level not in report.checked.get(step, {}):
        return "[dim]–[/dim]"
    return "[green]✓[/green]"


def _wiring_cells(entry: dict) -> list[str]:
    if entry.get("supplied_by"):
        return ["[dim]the job request (HyperParameters)[/dim]", ""]
    chosen = entry.get("chosen")
    if chosen is not None:
        breakdown = " ".join(f"{k} {v:.2f}" for k, v in chosen["breakdown"].items())
        return [
            escape(f"{chosen['step']}.{chosen['output']}"),
            f"[green]{chosen['score']:.2f}[/green] [dim]({escape(breakdown)})[/dim]",
        ]
    best = entry["candidates"][0] if entry.get("candidates") else None
    hint = f" (best: {best['step']}.{best['output']} {best['score']:.2f})" if best else ""
    if entry.get("required"):
        return [f"[red]none ≥ threshold{escape(hint)}[/red]", ""]
    return [f"[dim]optional, unwired{escape(hint)}[/dim]", ""]
