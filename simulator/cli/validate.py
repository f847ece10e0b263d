"""`smsim validate [PATH]`: scripts, contracts, specs and SageMaker agree, before deploy.

Without PATH it validates smsim's own steps (the default spec registry, their
contracts, the scripts in ``dockers/pytorch_bsm``); with PATH, a user's project
laid out like ours (see :mod:`simulator.alignment.project`). Four levels:
script ↔ contract, contract ↔ spec, spec ↔ dependencies, spec ↔ SageMaker.

Exit 0 when clean, 1 on any error (any warning too with ``--strict``), 2 when
the check could not run (no such project, a registry that does not load).

The report for people fits an 80-column terminal: a narrow summary table, the
level-3 wiring as an indented list, and each finding as a short block
(severity, level, step, ``file:line``; what is wrong; what to change) that
wraps at word boundaries instead of being folded into table cells.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from simulator.cli.options import json_option
from simulator.cli.output import EXIT_FAILED, EXIT_OK, console, emit_json, fail, print_indented

if TYPE_CHECKING:  # the alignment package loads botocore and pydantic: only when run
    from simulator.alignment import Finding, Report


def register(main: click.Group) -> None:
    """Add this module's commands to `main`."""
    main.add_command(validate)


@click.command()
@click.argument(
    "path", required=False, type=click.Path(file_okay=False, path_type=Path), metavar="[PATH]"
)
@json_option("One JSON document for tools.")
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
        from simulator.alignment import (
            ProjectError,
            builtin_project,
            load_project,
            validate_project,
        )
    except Exception as exc:  # noqa: BLE001 - a built-in spec or contract that fails to import
        _unusable(f"{type(exc).__name__}: {exc}", as_json)
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
        print_report(project.name, report)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


def _unusable(message: str, as_json: bool) -> NoReturn:
    fail(message, as_json, prefix="smsim validate could not run:", document={"ok": False})


def print_report(name: str, report: Report) -> None:
    """The report for people: summary, wiring, findings, one closing line."""
    _print_summary(name, report)
    if any(report.wiring.values()):  # source steps have nothing to wire
        _print_wiring(report)
    if report.findings:
        _print_findings(report)
    n_err, n_warn = len(report.errors), len(report.warnings)
    counts = f"{_count(n_err, 'error')}, {_count(n_warn, 'warning')}"
    steps = _count(len(report.steps), "step")
    if report.ok:
        mark = "[green]✓[/green]" if not n_warn else "[yellow]✓[/yellow]"
        console.print(f"{mark} {steps} aligned: {counts}")
    else:
        console.print(f"[red]✗[/red] {steps} checked: {counts}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------- summary


def _print_summary(name: str, report: Report) -> None:
    from simulator.alignment.report import LEVEL_NAMES

    console.print(f"[bold]Alignment of {escape(name)}[/bold]")
    if not report.steps:
        console.print("[yellow]no step specification found[/yellow] (see the findings below)")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Step", style="bold", no_wrap=True)
    for level in (1, 2, 3, 4):
        table.add_column(f"L{level}", no_wrap=True)
    for step in report.steps:
        table.add_row(escape(step), *(_cell(report, step, level) for level in (1, 2, 3, 4)))
    console.print(table)
    legend = "  ".join(f"L{level} {LEVEL_NAMES[level]}" for level in (1, 2))
    legend += "\n" + "  ".join(f"L{level} {LEVEL_NAMES[level]}" for level in (3, 4))
    console.print(f"[dim]{legend}\n✓ aligned  ✗ errors  ! warnings  – nothing to check[/dim]")


def _cell(report: Report, step: str, level: int) -> str:
    findings = [f for f in report.findings if f.level == level and step in f.step.split(", ")]
    errors = sum(1 for f in findings if _is_error(report, f))
    warnings = len(findings) - errors
    parts = []
    if errors:
        parts.append(f"[red]✗ {errors}[/red]")
    if warnings:
        parts.append(f"[yellow]! {warnings}[/yellow]")
    if parts:
        return " ".join(parts)
    if level not in report.checked.get(step, {}):
        return "[dim]–[/dim]"
    return "[green]✓[/green]"


def _is_error(report: Report, finding: Finding) -> bool:
    return report.effective(finding).value == "error"


# ---------------------------------------------------------------- level-3 wiring


def _print_wiring(report: Report) -> None:
    console.print()
    console.print("[bold]Dependency wiring[/bold] (level 3: dependency ← producer, score)")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_column(overflow="fold")
    for step, deps in report.wiring.items():
        if not deps:
            continue
        grid.add_row(f"[bold]{escape(step)}[/bold]", "", "")
        for dep, entry in deps.items():
            grid.add_row(f"  {escape(dep)}", *_wiring_cells(entry))
    console.print(grid)


def _wiring_cells(entry: dict[str, Any]) -> list[str]:
    if entry.get("supplied_by"):
        return ["[dim]← the job request (HyperParameters)[/dim]", ""]
    chosen = entry.get("chosen")
    if chosen is not None:
        return [
            f"← {escape(chosen['step'])}.{escape(chosen['output'])}",
            f"[green]{chosen['score']:.2f}[/green]" + _shortfall(chosen["breakdown"]),
        ]
    best = entry["candidates"][0] if entry.get("candidates") else None
    hint = f"; best {best['step']}.{best['output']} {best['score']:.2f}" if best else ""
    if entry.get("required"):
        return [f"[red]✗ no producer scores ≥ threshold{escape(hint)}[/red]", ""]
    return [f"[dim]optional, unwired{escape(hint)}[/dim]", ""]


def _shortfall(breakdown: dict[str, float]) -> str:
    """The score components below their full weight (``type 0.15/0.25``); all full: none."""
    from simulator.pipeline.build.resolver import WEIGHTS

    short = [
        f"{name} {value:.2f}/{WEIGHTS[name]:.2f}"
        for name, value in breakdown.items()
        if name in WEIGHTS and value < WEIGHTS[name] - 1e-9
    ]
    return f" [dim]({escape(', '.join(short))})[/dim]" if short else ""


# ---------------------------------------------------------------- findings


def _print_findings(report: Report) -> None:
    console.print()
    console.print("[bold]Findings[/bold]")
    for f in report.findings:
        error = _is_error(report, f)
        head = Text()
        head.append("✗ error" if error else "! warning", style="bold red" if error else "yellow")
        head.append(f"  L{f.level}  ")
        head.append(f.step, style="bold")
        if f.location:
            head.append(f"  {f.location}", style="cyan")
        console.print(head)
        print_indented(Text(f.message))
        if f.fix:
            fix = Text("fix: ", style="green")
            fix.append(f.fix)
            print_indented(fix)
