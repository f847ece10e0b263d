"""`smsim jobs list` and `smsim jobs describe NAME`: the jobs kept in a workspace.

They read ``<workspace>/jobs/*/describe.json`` (training) and
``<workspace>/processing-jobs/*/describe.json`` (processing); no simulator
needs to run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from simulator.cli.output import EXIT_OK, console, emit_json, fail
from simulator.jobs.records import KIND_DIRS, load_descriptions

_STATUS = {"training": "TrainingJobStatus", "processing": "ProcessingJobStatus"}
_COLOURS = {"Completed": "green", "Failed": "red", "Stopped": "yellow", "InProgress": "cyan"}


def collect(workspace: Path) -> list[dict[str, Any]]:
    """One summary per stored job, oldest first."""
    rows = []
    for kind in ("training", "processing"):
        for name, desc in load_descriptions(workspace, kind).items():
            start = desc.get("TrainingStartTime") or desc.get("ProcessingStartTime")
            end = desc.get("TrainingEndTime") or desc.get("ProcessingEndTime")
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "status": desc.get(_STATUS[kind]),
                    "secondary_status": desc.get("SecondaryStatus"),
                    "creation_time": desc.get("CreationTime"),
                    "duration_seconds": (end - start).total_seconds() if start and end else None,
                    "failure_reason": desc.get("FailureReason"),
                    "path": str(workspace / KIND_DIRS[kind] / name),
                }
            )
    rows.sort(key=lambda r: str(r["creation_time"]))
    return rows


def find(workspace: Path, name: str) -> tuple[str, dict[str, Any]] | None:
    """The stored job named ``name``, in any case (names are case-insensitive on the
    service: a pipeline step's Metadata ARN holds the lower-cased name)."""
    for kind in ("training", "processing"):
        stored = load_descriptions(workspace, kind)
        match = stored.get(name) or next(
            (d for n, d in stored.items() if n.lower() == name.lower()), None
        )
        if match is not None:
            return kind, match
    return None


def register(main: click.Group) -> None:
    """Add the `smsim jobs` group to `main`."""

    @main.group("jobs")
    def jobs() -> None:
        """Training and processing jobs kept in a workspace."""

    workspace_option = click.option(
        "--workspace", type=click.Path(path_type=Path), default=Path(".smsim"), show_default=True
    )

    @jobs.command("list")
    @workspace_option
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    def list_jobs(workspace: Path, as_json: bool) -> None:
        """List the jobs of a workspace."""
        if not workspace.is_dir():
            _no_workspace(workspace, as_json)
        rows = collect(workspace)
        if as_json:
            emit_json({"workspace": str(workspace.resolve()), "jobs": rows})
            raise SystemExit(EXIT_OK)
        if not rows:
            console.print(f"no jobs in {workspace.resolve()}")
            raise SystemExit(EXIT_OK)
        table = Table(title=f"Jobs in {workspace.resolve()}")
        for col in ("Name", "Kind", "Status", "Created", "Duration", "Failure reason"):
            table.add_column(col)
        for r in rows:
            colour = _COLOURS.get(r["status"] or "", "white")
            duration = f"{r['duration_seconds']:.1f} s" if r["duration_seconds"] is not None else ""
            reason = (r["failure_reason"] or "").splitlines()[0][:60] if r["failure_reason"] else ""
            table.add_row(
                escape(r["name"]),
                r["kind"],
                f"[{colour}]{r['status']}[/]",
                str(r["creation_time"])[:19],
                duration,
                escape(reason),
            )
        console.print(table)
        raise SystemExit(EXIT_OK)

    @jobs.command("describe")
    @click.argument("name")
    @workspace_option
    @click.option("--json", "as_json", is_flag=True, help="Print the Describe* response as JSON.")
    def describe(name: str, workspace: Path, as_json: bool) -> None:
        """Show one job's stored Describe* response."""
        if not workspace.is_dir():
            _no_workspace(workspace, as_json)
        found = find(workspace, name)
        if found is None:
            known = [r["name"] for r in collect(workspace)]
            message = (
                f"no job {name!r} in {workspace.resolve()}; jobs there: "
                f"{', '.join(known) or 'none'} (`smsim jobs list` shows them)"
            )
            fail(message, as_json)
        kind, desc = found
        if as_json:
            emit_json(desc)
            raise SystemExit(EXIT_OK)
        table = Table(title=f"{kind.capitalize()} job {name}", show_header=False)
        table.add_column("Field", style="bold")
        table.add_column("Value", overflow="fold")
        for key, value in desc.items():
            if isinstance(value, dict | list):
                text = json.dumps(value, indent=1, default=str)
            else:
                text = str(value)
            table.add_row(key, escape(text))
        console.print(table)
        raise SystemExit(EXIT_OK)


def _no_workspace(workspace: Path, as_json: bool) -> None:
    message = (
        f"no workspace at {workspace.resolve()}; give --workspace DIR, the directory "
        "`smsim train` / `smsim pipeline run` / `smsim demo` wrote (default .smsim)"
    )
    fail(message, as_json)
