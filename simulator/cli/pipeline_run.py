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
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding

from simulator.cli.interrupt import Interruptible
from simulator.cli.options import json_option, verbose_option
from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    console,
    emit_json,
    err_console,
    fail,
)
from simulator.cli.pipeline_progress import (
    STEP_COLOURS,
    compact_table,
    engine_note,
    follow_execution,
    step_table,
)
from simulator.errors import SmsimError, ValidationError
from simulator.pipeline.run.validate import DefinitionReport, validate_definition
from simulator.pipeline.watch import step_duration

_DEFINITION_FIX = "pass the JSON file Pipeline.definition() or `smsim pipeline export` wrote"


def register(group: click.Group) -> None:
    """Add `validate` and `run` to the `pipeline` group."""
    group.add_command(validate_cmd)
    group.add_command(run_cmd)


# ---------------------------------------------------------------------- validate


@click.command("validate")
@click.argument("definition", type=click.Path(dir_okay=False))
@json_option()
def validate_cmd(definition: str, as_json: bool) -> None:
    """Check a pipeline definition (Pipeline.definition() JSON) before running or deploying it."""
    text = _read(definition, as_json)
    report = validate_definition(text)
    if report.definition is None and _unreadable_document(report):
        # Not a JSON object at all: nothing to validate (a usage error, like a missing file).
        fail(f"{definition}: {report.problems[0].message}; {_DEFINITION_FIX}", as_json)
    if as_json:
        emit_json({"definition": definition, **report.to_dict()})
    else:
        _print_report(definition, report)
    raise SystemExit(EXIT_OK if report.ok else EXIT_FAILED)


def _unreadable_document(report: DefinitionReport) -> bool:
    """True when the file is not a JSON object (the problem sits at the document root)."""
    return len(report.problems) == 1 and report.problems[0].path == ""


def _print_report(path: str, report: DefinitionReport) -> None:
    if report.steps:
        table = compact_table(f"{path}: {len(report.steps)} steps")
        table.add_column("step", no_wrap=True)
        table.add_column("type", no_wrap=True)
        table.add_column("runs after", min_width=20)
        table.add_column("when", no_wrap=True)
        for s in report.steps:
            # A branch step also waits for its condition: the "when" column says so.
            after = [d for d in s["depends_on"] if d != s["condition"]]
            when = ""
            if s["condition"]:
                when = f"{s['condition']} {'true' if s['branch'] == 'IfSteps' else 'false'}"
            table.add_row(s["name"], s["type"], "\n".join(after) or "-", when)
        console.print(table)
    for note in report.ignored:
        console.print(f"[yellow]{path}: {note}[/yellow]", highlight=False)
    if report.ok:
        console.print(f"[green]{path}: valid[/green]", highlight=False)
        return
    console.print(f"[red]{path}: {len(report.problems)} problem(s)[/red]", highlight=False)
    _print_problems(report, console)


def _print_problems(report: DefinitionReport, out: Console) -> None:
    """Each problem: where (step, path) on one line, then the message and fix indented."""
    for p in report.problems:
        where = f"step {p.step}" if p.step else "pipeline"
        fix = f"\n[yellow]→ {escape(p.fix)}[/yellow]" if p.fix else ""
        out.print(f"  [bold]{where}[/bold], {escape(p.path or '<root>')}", highlight=False)
        # Indented as a block, so long messages wrap under themselves, not at column 0.
        out.print(Padding(f"{escape(p.message)}{fix}", (0, 0, 0, 4), expand=False), highlight=False)
    if report.unsupported:
        out.print(f"  steps smsim cannot run: {', '.join(report.unsupported)}")


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
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop the execution after this many seconds.",
)
@verbose_option()
@json_option()
def run_cmd(
    definition: str,
    parameters: tuple[str, ...],
    uploads: tuple[str, ...],
    workspace: str,
    images: str | None,
    pipeline_name: str | None,
    role: str,
    timeout: float | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run a pipeline definition locally, its steps' real scripts included.

    Job logs are kept in the workspace (--verbose streams them too); step progress
    goes to stderr, the result table (or --json document) to stdout.
    """
    from simulator.session import LocalSageMaker

    text = _read(definition, as_json)
    params = [_split_pair(p, "--parameter", "NAME=VALUE") for p in parameters]
    pairs = [_split_pair(u, "--upload", "LOCAL=S3URI") for u in uploads]
    for local, uri in pairs:
        if not Path(local).exists():
            fail(
                f"--upload {local}={uri}: no file or directory {local!r}; "
                "give an existing local path before the '='",
                as_json,
            )
        if not uri.startswith("s3://"):
            fail(
                f"--upload {local}={uri}: {uri!r} is not an s3:// URI; write "
                "s3://BUCKET/KEY (ending in '/' to upload under that prefix)",
                as_json,
            )
    _check_before_running(definition, text, params, as_json)
    try:
        Path(workspace).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            f"--workspace {workspace}: cannot create it ({exc.strerror}); "
            "pass a directory you can write to",
            as_json,
        )
    name = pipeline_name or _pipeline_name(definition)
    sink = None if verbose else _quiet
    with Interruptible(workspace, as_json):  # Ctrl-C: stop, report, exit 130
        try:
            with LocalSageMaker(workspace=workspace, images=images, log_sink=sink) as sm:
                for local, uri in pairs:
                    _upload(sm.s3, Path(local), uri)
                # An upsert, as the SDK's Pipeline.upsert(): the workspace keeps its pipelines.
                try:
                    sm.create_pipeline(PipelineName=name, PipelineDefinition=text, RoleArn=role)
                except ValidationError as exc:
                    if "already exists" not in str(exc):
                        raise
                    sm.update_pipeline(PipelineName=name, PipelineDefinition=text, RoleArn=role)
                arn = sm.start_pipeline_execution(
                    PipelineName=name,
                    PipelineParameters=[{"Name": k, "Value": v} for k, v in params],
                )["PipelineExecutionArn"]
                desc = follow_execution(sm, arn, timeout=timeout, show=not as_json)
                steps = sm.list_pipeline_execution_steps(
                    PipelineExecutionArn=arn, SortOrder="Ascending"
                )["PipelineExecutionSteps"]
                record = sm.pipelines.execution_record(arn)
                types = record.definition.step_types
                # Job and model names as created (ARNs in the step metadata are lower case).
                names = {n: r.job_name for n, r in record.steps.items() if r.job_name}
                exec_dir = sm.pipelines.execution_dir(arn)
        except SmsimError as exc:
            fail(str(exc), as_json)
    status = desc["PipelineExecutionStatus"]
    if as_json:
        emit_json(
            {
                "pipeline_name": name,
                "pipeline_execution_arn": arn,
                "pipeline_execution_status": status,
                "failure_reason": desc.get("FailureReason"),
                "workspace": str(exec_dir) if exec_dir else None,
                "steps": [_step_json(s, types, names) for s in steps],
            }
        )
    else:
        _print_steps(steps, types, names, desc, exec_dir)
    raise SystemExit(EXIT_OK if status == "Succeeded" else EXIT_FAILED)


def _check_before_running(
    path: str, text: str, params: list[tuple[str, str]], as_json: bool
) -> None:
    """Refuse, before the embedded AWS starts, what CreatePipeline or StartPipelineExecution
    would refuse: a file that is not a definition, a definition with problems (every one
    listed, as `smsim pipeline validate` shows them), bad --parameter names or values."""
    report = validate_definition(text)
    if report.definition is None and _unreadable_document(report):
        fail(f"{path}: {report.problems[0].message}; {_DEFINITION_FIX}", as_json)
    for note in [] if as_json else report.ignored:
        err_console.print(f"[yellow]{escape(path)}: {escape(note)}[/yellow]", highlight=False)
    if not report.ok:
        message = f"{path}: {len(report.problems)} problem(s) in the definition; nothing was run"
        if report.unsupported:
            message += f"; smsim cannot run these steps: {', '.join(report.unsupported)}"
        if as_json:
            emit_json({"error": message, "problems": [p.to_dict() for p in report.problems]})
        else:
            err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
            _print_problems(report, err_console)
        raise SystemExit(EXIT_UNUSABLE)
    assert report.definition is not None
    try:
        report.definition.parameter_values([{"Name": k, "Value": v} for k, v in params])
    except ValidationError as exc:
        lines = []
        for p in exc.problems:
            match = re.match(r"PipelineParameters\[(\d+)\]", p.path)
            where = f"--parameter {'='.join(params[int(match.group(1))])}" if match else path
            got = f" (got {p.value!r})" if p.value is not None else ""
            fix = f"; {p.fix}" if p.fix else ""
            lines.append(f"{where}: {p.message}{got}{fix}")
        if len(lines) > 1:
            lines = [f"{len(lines)} bad --parameter values:"] + [f"  - {x}" for x in lines]
        fail("\n".join(lines), as_json)


def _quiet(line: str) -> None:
    """Log sink without --verbose: job logs stay in the workspace's log files."""


def _step_json(s: dict[str, Any], types: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    return {
        "name": s["StepName"],
        "type": types.get(s["StepName"]),
        "job_name": names.get(s["StepName"]),
        "status": s["StepStatus"],
        "start_time": s.get("StartTime"),
        "end_time": s.get("EndTime"),
        "failure_reason": s.get("FailureReason"),
        "metadata": s.get("Metadata", {}),
        "attempts": s.get("AttemptCount", 1),
        "cache_hit_source": (s.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn"),
    }


def _print_steps(
    steps: list[dict[str, Any]],
    types: dict[str, str],
    names: dict[str, str],
    desc: dict[str, Any],
    exec_dir: Any,
) -> None:
    execution_id = desc["PipelineExecutionArn"].rsplit("/", 1)[-1]
    rows = [
        (
            s["StepName"],
            types.get(s["StepName"], "?"),
            s["StepStatus"],
            step_duration(s),
            engine_note(s)
            + (
                s.get("FailureReason") or names.get(s["StepName"]) or _detail(s.get("Metadata", {}))
            ),
        )
        for s in steps
    ]
    table = step_table(f"execution {execution_id}", rows, execution_id=execution_id)
    console.print(table, highlight=False)
    status = desc["PipelineExecutionStatus"]
    style = STEP_COLOURS.get(status, "white")
    reason = f": {desc['FailureReason']}" if desc.get("FailureReason") else ""
    console.print(
        f"Pipeline execution {execution_id} [{style}]{status}[/{style}]{escape(reason)}",
        highlight=False,
    )
    job_prefix = f"pipelines-{execution_id}-"
    if any(name.startswith(job_prefix) for name in names.values()):
        console.print(f"[dim]…- stands for {job_prefix} in job and model names[/dim]")
    if exec_dir:
        console.print(f"[dim]Records (descriptions, arguments): {exec_dir}[/dim]", highlight=False)


def _detail(metadata: dict[str, Any]) -> str:
    """What a step without a job made (a model package: its ARN's resource part), or its
    outcome."""
    for key, value in metadata.items():
        if "Arn" in value:
            return value["Arn"].split("/", 1)[-1]
        if key == "Condition":
            return f"outcome {value['Outcome']}"
        if key == "Fail":
            return value.get("ErrorMessage", "")
    return ""


def _upload(s3: Any, local: Path, uri: str) -> None:
    """A file to a key (or under a prefix ending in '/'); a directory under a prefix, or
    packed into one archive when the URI ends in .tar.gz (a ``sourcedir.tar.gz``)."""
    from simulator.s3 import ensure_bucket, parse_s3_uri, upload_dir, upload_file, upload_sourcedir

    target = parse_s3_uri(uri, "--upload")
    ensure_bucket(s3, target.bucket)
    if local.is_dir() and uri.endswith((".tar.gz", ".tgz")):
        upload_sourcedir(s3, local, target)
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
    """The file's stem as a PipelineName: runs of other characters become one hyphen, cut
    to botocore's maximum length (the pattern is letters and digits, single hyphens)."""
    from simulator.shapes import limit

    stem = re.sub(r"[^a-zA-Z0-9]+", "-", Path(path).stem).strip("-")
    return stem[: limit("PipelineName")].rstrip("-") or "pipeline"


def _read(path: str, as_json: bool) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file; {_DEFINITION_FIX}", as_json)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        fail(f"{path}: cannot read it ({reason}); {_DEFINITION_FIX}", as_json)
