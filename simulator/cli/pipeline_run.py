"""`smsim pipeline validate` and `smsim pipeline run`: SDK-written definitions, as they are.

    smsim pipeline validate definition.json
    smsim pipeline run definition.json --parameter Epochs=1 \
        --upload data/=s3://sim-bucket/raw/bsm/ --upload code/preprocess.py=s3://…/preprocess.py

``run`` starts the embedded AWS, uploads what ``--upload`` names, creates the pipeline
and starts an execution through the same ``sm.create_pipeline`` /
``sm.start_pipeline_execution`` a program would call, shows step progress as it runs,
and prints a step table (or one JSON document with ``--json``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    console,
    emit_json,
    err_console,
)
from simulator.errors import SmsimError
from simulator.pipeline.validate import DefinitionReport, validate_definition

_STATUS_STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Stopped": "yellow",
    "Executing": "cyan",
    "Starting": "cyan",
}


def register(group: click.Group) -> None:
    """Add `validate` and `run` to the `pipeline` group."""
    group.add_command(validate_cmd)
    group.add_command(run_cmd)


# ---------------------------------------------------------------------- validate


@click.command("validate")
@click.argument("definition", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def validate_cmd(definition: str, as_json: bool) -> None:
    """Check a pipeline definition (Pipeline.definition() JSON) before running or deploying it."""
    text = _read(definition, as_json)
    report = validate_definition(text)
    if as_json:
        emit_json({"definition": definition, **report.to_dict()})
    else:
        _print_report(definition, report)
    raise SystemExit(EXIT_OK if report.ok else EXIT_FAILED)


def _print_report(path: str, report: DefinitionReport) -> None:
    if report.steps:
        table = Table(title=f"{path}: {len(report.steps)} steps")
        for col in ("step", "type", "depends on", "branch"):
            table.add_column(col)
        for s in report.steps:
            branch = f"{s['condition']}.{s['branch']}" if s["condition"] else ""
            table.add_row(s["name"], s["type"], ", ".join(s["depends_on"]) or "-", branch)
        console.print(table)
    if report.ok:
        console.print(f"[green]{path}: valid[/green]")
        return
    console.print(f"[red]{path}: {len(report.problems)} problem(s)[/red]")
    for p in report.problems:
        where = f"step {p.step}" if p.step else "pipeline"
        fix = f" [yellow]→ {p.fix}[/yellow]" if p.fix else ""
        console.print(f"  [bold]{where}[/bold] {p.path}: {p.message}{fix}", highlight=False)
    if report.unsupported:
        console.print(f"  steps smsim cannot run: {', '.join(report.unsupported)}")


# ---------------------------------------------------------------------- run


@click.command("run")
@click.argument("definition", type=click.Path(dir_okay=False))
@click.option(
    "--parameter",
    "-p",
    "parameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="A pipeline parameter value (repeatable).",
)
@click.option(
    "--upload",
    "uploads",
    multiple=True,
    metavar="LOCAL=S3URI",
    help="Upload a file or directory to the embedded S3 first (repeatable). "
    "A URI ending in '/' receives a file under its own name; a directory uploaded to a "
    "URI ending in .tar.gz is packed into that archive (a sourcedir.tar.gz).",
)
@click.option("--workspace", default=".smsim", show_default=True, help="Workspace directory.")
@click.option("--images", default=None, help="JSON file mapping image URIs to interpreters.")
@click.option("--name", "pipeline_name", default=None, help="Pipeline name (default: file stem).")
@click.option(
    "--role",
    default="arn:aws:iam::123456789012:role/SmsimPipelineRole",
    show_default=True,
    help="RoleArn given to CreatePipeline.",
)
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def run_cmd(
    definition: str,
    parameters: tuple[str, ...],
    uploads: tuple[str, ...],
    workspace: str,
    images: str | None,
    pipeline_name: str | None,
    role: str,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Run a pipeline definition locally, its steps' real scripts included."""
    from simulator.session import LocalSageMaker

    text = _read(definition, as_json)
    params = [_split_pair(p, "--parameter", "NAME=VALUE") for p in parameters]
    pairs = [_split_pair(u, "--upload", "LOCAL=S3URI") for u in uploads]
    for local, uri in pairs:
        if not Path(local).exists():
            _unusable(f"--upload {local}={uri}: no such file or directory {local!r}", as_json)
        if not uri.startswith("s3://"):
            _unusable(f"--upload {local}={uri}: {uri!r} is not an s3:// URI", as_json)
    name = pipeline_name or _pipeline_name(definition)
    try:
        with LocalSageMaker(workspace=workspace, images=images) as sm:
            for local, uri in pairs:
                _upload(sm.s3, Path(local), uri)
            sm.create_pipeline(PipelineName=name, PipelineDefinition=text, RoleArn=role)
            arn = sm.start_pipeline_execution(
                PipelineName=name,
                PipelineParameters=[{"Name": k, "Value": v} for k, v in params],
            )["PipelineExecutionArn"]
            desc = _follow(sm, arn, timeout, quiet=as_json)
            steps = sm.list_pipeline_execution_steps(
                PipelineExecutionArn=arn, SortOrder="Ascending"
            )["PipelineExecutionSteps"]
            types = sm.pipelines.execution_record(arn).definition.step_types
            exec_dir = sm.pipelines.execution_dir(arn)
    except SmsimError as exc:
        _unusable(str(exc), as_json)
    status = desc["PipelineExecutionStatus"]
    if as_json:
        emit_json(
            {
                "pipeline_name": name,
                "pipeline_execution_arn": arn,
                "pipeline_execution_status": status,
                "failure_reason": desc.get("FailureReason"),
                "workspace": str(exec_dir) if exec_dir else None,
                "steps": [_step_json(s, types) for s in steps],
            }
        )
    else:
        _print_steps(steps, types, desc, exec_dir)
    raise SystemExit(EXIT_OK if status == "Succeeded" else EXIT_FAILED)


def _follow(sm: Any, arn: str, timeout: float | None, *, quiet: bool) -> dict[str, Any]:
    """Poll the execution, reporting each step's status changes on stderr."""
    seen: dict[str, str] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
        for s in steps["PipelineExecutionSteps"]:
            if seen.get(s["StepName"]) != s["StepStatus"]:
                seen[s["StepName"]] = s["StepStatus"]
                if not quiet:
                    style = _STATUS_STYLE.get(s["StepStatus"], "white")
                    reason = f": {s['FailureReason']}" if s.get("FailureReason") else ""
                    err_console.print(
                        f"[{style}]● {s['StepName']} {s['StepStatus']}{reason}[/{style}]",
                        highlight=False,
                    )
        if desc["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return desc
        if deadline is not None and time.monotonic() > deadline:
            sm.stop_pipeline_execution(PipelineExecutionArn=arn)
            return sm.wait_for_pipeline_execution(arn)
        time.sleep(0.5)


def _step_json(s: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    return {
        "name": s["StepName"],
        "type": types.get(s["StepName"]),
        "status": s["StepStatus"],
        "start_time": s.get("StartTime"),
        "end_time": s.get("EndTime"),
        "failure_reason": s.get("FailureReason"),
        "metadata": s.get("Metadata", {}),
    }


def _print_steps(
    steps: list[dict[str, Any]], types: dict[str, str], desc: dict[str, Any], exec_dir: Any
) -> None:
    table = Table(title=f"execution {desc['PipelineExecutionArn'].rsplit('/', 1)[-1]}")
    for col in ("step", "type", "status", "duration", "detail"):
        table.add_column(col)
    for s in steps:
        end = s.get("EndTime")
        duration = f"{(end - s['StartTime']).total_seconds():.1f}s" if end else "-"
        style = _STATUS_STYLE.get(s["StepStatus"], "white")
        table.add_row(
            s["StepName"],
            types.get(s["StepName"], "?"),
            f"[{style}]{s['StepStatus']}[/{style}]",
            duration,
            s.get("FailureReason") or _detail(s.get("Metadata", {})),
        )
    console.print(table)
    status = desc["PipelineExecutionStatus"]
    style = _STATUS_STYLE.get(status, "white")
    console.print(
        f"[{style}]{status}[/{style}]"
        + (f": {desc['FailureReason']}" if desc.get("FailureReason") else ""),
        highlight=False,
    )
    if exec_dir:
        console.print(f"records: {exec_dir}", highlight=False)


def _detail(metadata: dict[str, Any]) -> str:
    for key, value in metadata.items():
        if "Arn" in value:
            return value["Arn"].rsplit("/", 1)[-1]
        if key == "Condition":
            return f"outcome {value['Outcome']}"
        if key == "Fail":
            return value.get("ErrorMessage", "")
    return ""


def _upload(s3: Any, local: Path, uri: str) -> None:
    """A file to a key (or under a prefix ending in '/'); a directory under a prefix, or
    packed into one archive when the URI ends in .tar.gz (a ``sourcedir.tar.gz``)."""
    import tempfile

    from simulator.s3 import ensure_bucket, pack_tar_gz, parse_s3_uri, upload_dir, upload_file

    target = parse_s3_uri(uri, "--upload")
    ensure_bucket(s3, target.bucket)
    if local.is_dir() and uri.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory() as tmp:
            upload_file(s3, pack_tar_gz(local, Path(tmp) / "sourcedir.tar.gz"), target)
    elif local.is_dir():
        upload_dir(s3, local, target)
    elif uri.endswith("/"):
        upload_file(s3, local, target.join(local.name))
    else:
        upload_file(s3, local, target)


def _split_pair(text: str, option: str, form: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not {form}", param_hint=option)
    return key, value


def _pipeline_name(path: str) -> str:
    # A pipeline name matches [a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}.
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", Path(path).stem).strip("-")
    return stem or "pipeline"


def _read(path: str, as_json: bool) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _unusable(f"cannot read {path}: {exc}", as_json)
    raise AssertionError("unreachable")


def _unusable(message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"error": message})
    else:
        err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise SystemExit(EXIT_UNUSABLE)
