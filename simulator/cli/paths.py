"""`smsim paths check`: is a property path one SageMaker accepts for a step type?

Two forms:

- ``smsim paths check --step-type Training PATH…``: one block per path (or ``--json``);
  exit 1 when any path is invalid, so a shell script can gate on it.
- ``smsim paths check --jsonl FILE`` (``-`` for stdin): every row is an object
  with ``step_type`` and ``path`` (optional ``output_names``/``metric_names``;
  other fields pass through); one JSON object per row goes to stdout with
  ``valid``, ``errors`` and ``warnings`` added (replacing any already there).
  Exit 0 once every row is checked — an invalid path is data, not a failure;
  exit 2 when the input cannot be read. A row with neither ``step_type`` nor
  ``path`` (a header such as ``{"meta": …}``) is passed through unchanged.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click
from rich.markup import escape
from rich.text import Text

from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    console,
    emit_json,
    err_console,
    print_indented,
)
from simulator.properties import PathCheck, check_property_path
from simulator.shapes import STEP_OPERATIONS, STEP_TYPE_ALIASES

_STEP_TYPES = sorted([*STEP_OPERATIONS, *STEP_TYPE_ALIASES])


def register(main: click.Group) -> None:
    """Add this module's commands to `main`."""
    main.add_command(paths)


@click.group()
def paths() -> None:
    """Property paths (properties.A.B['k'][0]) checked against the SageMaker API model."""


@paths.command("check")
@click.option(
    "--step-type",
    type=click.Choice(_STEP_TYPES),
    help="SageMaker step type whose Describe* response the PATHs walk.",
)
@click.option(
    "--jsonl",
    "jsonl_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Check every row of FILE ({'step_type', 'path', …} per line; '-' for stdin).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (PATH form).")
@click.argument("path_args", metavar="PATH…", nargs=-1)
def check(
    step_type: str | None, jsonl_file: str | None, as_json: bool, path_args: tuple[str, ...]
) -> None:
    """Check PATHs for --step-type, or every row of --jsonl FILE."""
    if jsonl_file is not None:
        if path_args or step_type:
            _unusable("give either --jsonl FILE or --step-type T PATH…, not both")
        sys.exit(_check_jsonl(jsonl_file))
    if not step_type or not path_args:
        _unusable("give --step-type T and at least one PATH (or --jsonl FILE)")
    results = [(p, check_property_path(step_type, p)) for p in path_args]
    if as_json:
        emit_json([{"step_type": step_type, "path": p, **r.to_dict()} for p, r in results])
    else:
        _print_results(step_type, results)
    sys.exit(EXIT_OK if all(r.valid for _, r in results) else EXIT_FAILED)


def _unusable(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    sys.exit(EXIT_UNUSABLE)


def _print_results(step_type: str, results: list[tuple[str, PathCheck]]) -> None:
    """One block per path (a mark and the path, then what is wrong): readable at 80 columns."""
    console.print(f"[bold]Property paths of a {escape(step_type)} step[/bold]")
    for path, result in results:
        head = Text("✓ " if result.valid else "✗ ", style="green" if result.valid else "red")
        head.append(path, style="bold")
        console.print(head)
        notes = [Text(e, style="red") for e in result.errors]
        notes += [Text.assemble(("warning: ", "yellow"), w) for w in result.warnings]
        if result.suggestion:
            notes.append(Text.assemble(("valid instead: ", "green"), result.suggestion))
        for note in notes:
            print_indented(note)


def _read_rows(jsonl_file: str) -> list[dict[str, Any]]:
    """Every object of the file, or exit 2 naming the line that cannot be read."""
    try:
        if jsonl_file == "-":
            text = sys.stdin.read()
        else:
            with open(jsonl_file, encoding="utf-8") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        _unusable(f"cannot read {jsonl_file}: {exc}")
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            _unusable(f"{jsonl_file} line {number}: not JSON ({exc.msg}); fix or remove the line")
        if not isinstance(row, dict):
            _unusable(
                f"{jsonl_file} line {number}: expected an object with 'step_type' and "
                f"'path', got {type(row).__name__}"
            )
        rows.append(row)
    return rows


def _check_jsonl(jsonl_file: str) -> int:
    # Read everything first: unreadable input must not leave half an answer on stdout.
    rows = _read_rows(jsonl_file)
    for row in rows:
        if "step_type" not in row and "path" not in row:
            out = row  # a header/metadata row: nothing to check
        else:
            out = {**row, **_check_row(row).to_dict()}
        sys.stdout.write(json.dumps(out) + "\n")
    return EXIT_OK


def _check_row(row: dict[str, Any]) -> PathCheck:
    problems = [
        f"row field {name!r} must be a non-empty string, got {row.get(name)!r}"
        for name in ("step_type", "path")
        if not isinstance(row.get(name), str) or not row.get(name)
    ]
    for name in ("output_names", "metric_names"):
        value = row.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"row field {name!r} must be a list of strings, got {value!r}")
    if problems:
        return PathCheck(valid=False, errors=problems)
    return check_property_path(
        row["step_type"],
        row["path"],
        output_names=row.get("output_names"),
        metric_names=row.get("metric_names"),
    )
