"""`smsim demo`: the BSM pipeline end to end, offline, in a few minutes on a laptop CPU.

What it does, in order, all inside one workspace:

1. synthesize raw BSM data (``simulator.datasets``) and upload it to the embedded S3;
2. assemble the ``bsm`` DAG (specs + contracts + config → a SageMaker pipeline
   definition) and upload the step code where the definition says it is;
3. ``CreatePipeline`` + ``StartPipelineExecution`` on the local SageMaker, with
   live progress while the steps run as real subprocesses;
4. print a step table and every spec output resolved through its property path
   against the step's Describe* response — the values SageMaker would give a
   downstream ``Get`` — then where the logs, artifacts and descriptions are.
"""

from __future__ import annotations

import json
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

# Metrics of evaluation.json worth one line in the report (all are in --json).
_HEADLINE_METRICS = ("auroc", "average_precision", "f1", "accuracy")
_TERMINAL = ("Succeeded", "Failed", "Stopped", "CompletedWithFailures")
_STEP_COLOURS = {"Succeeded": "green", "Failed": "red", "Stopped": "yellow", "Executing": "cyan"}


def register(main: click.Group) -> None:
    """Add `smsim demo` to `main`."""
    main.add_command(demo)


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".smsim/demo"),
    show_default=True,
    help="Where data, jobs, logs, artifacts and descriptions are kept.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=50),
    default=2000,
    show_default=True,
    help="Rows of synthetic BSM data.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Training epochs (the MaxEpochs pipeline parameter).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Test AUROC the model must reach to be registered (default: config's 0.6).",
)
@click.option(
    "--model-class",
    default="multimodal_cnn",
    show_default=True,
    help="train.py model_class hyperparameter.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Data seed.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=1800,
    show_default=True,
    help="Seconds to wait for the execution before stopping it.",
)
@click.option("--verbose", is_flag=True, help="Stream the jobs' logs to stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def demo(
    workspace: Path,
    rows: int,
    epochs: int,
    threshold: float | None,
    model_class: str,
    seed: int,
    timeout: float,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run the BSM pipeline (preprocess → train → evaluate → gate → model + registry) locally."""
    try:
        result = run_demo(
            workspace,
            rows=rows,
            epochs=epochs,
            threshold=threshold,
            model_class=model_class,
            seed=seed,
            timeout=timeout,
            verbose=verbose,
            progress=not as_json,
        )
    except SmsimError as exc:
        if as_json:
            emit_json({"error": str(exc)})
        else:
            err_console.print(f"[red]error:[/] {exc}")
        raise SystemExit(EXIT_UNUSABLE) from None
    if as_json:
        emit_json(result)
    else:
        _print_result(result)
    raise SystemExit(EXIT_OK if result["pipeline_execution_status"] == "Succeeded" else EXIT_FAILED)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def run_demo(
    workspace: Path,
    *,
    rows: int = 2000,
    epochs: int = 3,
    threshold: float | None = None,
    model_class: str = "multimodal_cnn",
    seed: int = 0,
    timeout: float = 1800,
    verbose: bool = False,
    progress: bool = True,
    source_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the demo pipeline and return its summary (what ``--json`` prints).

    ``source_dir`` replaces dockers/pytorch_bsm as the step code (default: it).
    """
    from simulator.datasets import write_dataset
    from simulator.pipeline.assembly import assemble, iter_steps, upload_code
    from simulator.pipeline.config import make_config
    from simulator.pipeline.dags import BSM
    from simulator.session import LocalSageMaker

    workspace = Path(workspace).expanduser().resolve()
    overrides: dict[str, Any] = {
        "hyperparameters": {"max_epochs": epochs, "model_class": model_class, "lr": 0.01}
    }
    if threshold is not None:
        overrides["auroc_threshold"] = threshold
    config = make_config(overrides, what="demo options")
    say = _Narrator(progress)

    with LocalSageMaker(workspace=workspace, log_sink=None if verbose else _quiet) as sm:
        say.step(f"Workspace {workspace}")
        data = write_dataset(workspace / "data", rows, seed=seed, split=False)
        sm.s3.create_bucket(Bucket=config.bucket)
        raw_file = Path(data["files"]["raw"])
        raw_key = config.raw_data_uri.removeprefix(f"s3://{config.bucket}/") + raw_file.name
        sm.s3.upload_file(str(raw_file), config.bucket, raw_key)
        say.step(f"Synthesized {rows} BSM orders -> s3://{config.bucket}/{raw_key}")

        source = Path(source_dir) if source_dir else None
        assembled = assemble(BSM, config, source_dir=source)
        code = upload_code(sm.s3, assembled.code, source)
        n_steps = sum(1 for _ in iter_steps(assembled.definition))
        say.step(
            f"Assembled DAG {BSM.name!r} into a pipeline definition of {n_steps} steps; "
            f"uploaded the step code ({len(code)} objects). Wiring by the resolver:"
        )
        for line in _wiring_lines(assembled):
            say.line(line)
        definition_path = workspace / "pipeline_definition.json"
        definition_path.write_text(assembled.to_json() + "\n")

        _create_or_update(sm, config, assembled.to_json())
        params = [{"Name": "MaxEpochs", "Value": str(epochs)}]
        params.append({"Name": BSM.gate.threshold_parameter, "Value": str(config.auroc_threshold)})
        started = sm.start_pipeline_execution(
            PipelineName=config.pipeline_name,
            PipelineExecutionDisplayName=f"demo-{int(time.time())}",
            PipelineParameters=params,
        )
        arn = started["PipelineExecutionArn"]
        say.step(f"Started execution {arn.rsplit('/', 1)[-1]} of pipeline {config.pipeline_name}")

        execution = _follow(sm, arn, timeout, say)
        steps = sorted(_list_steps(sm, arn), key=lambda s: s.get("StartTime") or 0)
        descriptions = {s["StepName"]: _describe_step(sm, s) for s in steps}
        types = {s["Name"]: s["Type"] for s in iter_steps(assembled.definition)}
        evaluation = _evaluation_report(sm, descriptions.get(BSM.gate.source_step), BSM.gate)

        result = {
            "pipeline_name": config.pipeline_name,
            "pipeline_execution_arn": arn,
            "pipeline_execution_status": execution["PipelineExecutionStatus"],
            "failure_reason": execution.get("FailureReason"),
            "parameters": {p["Name"]: p["Value"] for p in params},
            "steps": [
                _step_summary(
                    s,
                    descriptions.get(s["StepName"]),
                    workspace,
                    types[s["StepName"]],
                    _processing_key_output(sm, s, descriptions.get(s["StepName"]), evaluation),
                )
                for s in steps
            ],
            "wiring": _wiring(assembled),
            "outputs": _resolved_outputs(assembled, descriptions),
            "evaluation": evaluation,
            "auroc_threshold": config.auroc_threshold,
            "workspace": str(workspace),
            "definition_path": str(definition_path),
            "execution_dir": _execution_dir(sm, arn),
            "data": {"rows": rows, "raw_uri": f"s3://{config.bucket}/{raw_key}"},
        }
    return result


def _wiring(assembled: Any) -> list[dict[str, Any]]:
    """What the dependency resolver wired: step.dependency <- upstream.output (score)."""
    wiring = []
    for step, resolutions in assembled.resolutions.items():
        for res in resolutions:
            if res.chosen is not None:
                wiring.append(
                    {
                        "step": step,
                        "dependency": res.dependency.logical_name,
                        "from_step": res.chosen.step_name,
                        "from_output": res.chosen.output.logical_name,
                        "score": round(res.chosen.score.total, 3),
                    }
                )
    return wiring


def _wiring_lines(assembled: Any) -> list[str]:
    return [
        f"   [dim]{w['step']}.{w['dependency']} <- {w['from_step']}.{w['from_output']} "
        f"({w['score']:.2f})[/]"
        for w in _wiring(assembled)
    ]


def _quiet(line: str) -> None:
    """Log sink of the demo: job logs stay in the workspace's log files only."""


class _Narrator:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def step(self, text: str) -> None:
        if self.enabled:
            err_console.print(f"[bold blue]::[/] {text}")

    def line(self, text: str) -> None:
        if self.enabled:
            err_console.print(text)


def _create_or_update(sm: Any, config: Any, definition: str) -> None:
    request = {
        "PipelineName": config.pipeline_name,
        "PipelineDefinition": definition,
        "RoleArn": config.role_arn,
        "PipelineDescription": "BSM demo pipeline assembled by smsim from step specs",
    }
    try:
        sm.create_pipeline(**request)
    except SmsimError:
        request.pop("PipelineDescription")
        sm.update_pipeline(**request)


def _follow(sm: Any, arn: str, timeout: float, say: _Narrator) -> dict[str, Any]:
    """Poll the execution, printing each step's transitions, until it ends."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    stop_sent = False
    status_ctx = err_console.status("running…") if say.enabled else None
    if status_ctx is not None:
        status_ctx.start()
    try:
        while True:
            execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            for step in reversed(_list_steps(sm, arn)):  # oldest first
                name, status = step["StepName"], step["StepStatus"]
                if seen.get(name) != status:
                    seen[name] = status
                    say.line(_transition(step))
            running = [n for n, s in seen.items() if s in ("Starting", "Executing")]
            if status_ctx is not None:
                status_ctx.update(f"running: {', '.join(running) or 'scheduling'}")
            if execution["PipelineExecutionStatus"] in _TERMINAL:
                return execution
            if time.monotonic() > deadline and not stop_sent:
                say.line(f"[yellow]timeout after {timeout:.0f}s: stopping the execution[/]")
                sm.stop_pipeline_execution(PipelineExecutionArn=arn)
                stop_sent = True
            time.sleep(0.5)
    finally:
        if status_ctx is not None:
            status_ctx.stop()


def _transition(step: dict[str, Any]) -> str:
    status = step["StepStatus"]
    colour = _STEP_COLOURS.get(status, "white")
    text = f"   [{colour}]{status:<9}[/] {step['StepName']}"
    duration = _duration(step)
    if status in ("Succeeded", "Failed", "Stopped") and duration is not None:
        text += f" [dim]({duration:.1f}s)[/]"
    outcome = (step.get("Metadata") or {}).get("Condition", {}).get("Outcome")
    if outcome:
        text += f" [dim]outcome {outcome}[/]"
    if step.get("FailureReason"):
        text += f"\n             [red]{_first_line(step['FailureReason'])}[/]"
    return text


def _list_steps(sm: Any, arn: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"PipelineExecutionArn": arn}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_pipeline_execution_steps(**kwargs)
        items += page.get("PipelineExecutionSteps", [])
        token = page.get("NextToken")
        if not token:
            return items


def _describe_step(sm: Any, step: dict[str, Any]) -> dict[str, Any] | None:
    """The Describe* response behind a step (its property paths resolve against it).

    Step metadata carries ARNs, which SageMaker lowercases, while names keep their
    case; so the name is found by listing and matching the ARN, as with boto3.
    """
    meta = step.get("Metadata") or {}
    try:
        if "TrainingJob" in meta:
            name = _name_of(sm.list_training_jobs, "TrainingJob", meta["TrainingJob"]["Arn"])
            return sm.describe_training_job(TrainingJobName=name) if name else None
        if "ProcessingJob" in meta:
            name = _name_of(sm.list_processing_jobs, "ProcessingJob", meta["ProcessingJob"]["Arn"])
            return sm.describe_processing_job(ProcessingJobName=name) if name else None
        if "Model" in meta:
            name = _name_of(sm.list_models, "Model", meta["Model"]["Arn"])
            return sm.describe_model(ModelName=name) if name else None
        if "RegisterModel" in meta:
            return sm.describe_model_package(ModelPackageName=meta["RegisterModel"]["Arn"])
    except Exception:  # a step without a describable resource has no property values
        return None
    return None


def _name_of(list_call: Any, kind: str, arn: str) -> str | None:
    """Name of the resource whose ``<kind>Arn`` is ``arn`` (compared case-insensitively)."""
    items_key = {"Model": "Models"}.get(kind, f"{kind}Summaries")
    token = None
    while True:
        page = list_call(**({"NextToken": token} if token else {}))
        for item in page.get(items_key, []):
            if item.get(f"{kind}Arn", "").lower() == arn.lower():
                return item.get(f"{kind}Name")
        token = page.get("NextToken")
        if not token:
            return None


def _evaluation_report(sm: Any, description: dict[str, Any] | None, gate: Any) -> Any:
    """evaluation.json of the evaluation step (what the Condition step compared)."""
    if not description:
        return None
    for out in description.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if out.get("OutputName") == gate.output_name:
            uri = out["S3Output"]["S3Uri"].rstrip("/") + "/" + gate.file_path
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            try:
                return json.loads(sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except Exception:
                return None
    return None


def _execution_dir(sm: Any, arn: str) -> str | None:
    try:
        path = sm.pipelines.execution_dir(arn)
    except Exception:
        return None
    return str(path) if path else None


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def _step_summary(
    step: dict[str, Any],
    description: dict[str, Any] | None,
    workspace: Path,
    step_type: str,
    key_output: str | None = None,
) -> dict[str, Any]:
    return {
        "name": step["StepName"],
        "type": step_type,
        "status": step["StepStatus"],
        "duration_seconds": _duration(step),
        "key_output": key_output or _key_output(step, description),
        "failure_reason": step.get("FailureReason"),
        "metadata": step.get("Metadata") or {},
        "log": _log_path(workspace, description),
    }


def _log_path(workspace: Path, description: dict[str, Any] | None) -> str | None:
    """The job's combined log in the workspace (processing or training), if it exists."""
    from simulator.workspace import job_dir

    if not description:
        return None
    for key, kind in (("ProcessingJobName", "processing"), ("TrainingJobName", "training")):
        if key in description:
            logs = job_dir(workspace, kind, description[key]) / "logs"
            found = sorted(logs.glob("*.log")) if logs.is_dir() else []
            main = [p for p in found if not p.name.endswith(".stderr.log")] or found
            return str(main[0]) if main else None
    return None


def _processing_key_output(
    sm: Any, step: dict[str, Any], description: dict[str, Any] | None, evaluation: Any
) -> str | None:
    """What a successful processing step wrote: the first level under each output."""
    if step.get("StepStatus") != "Succeeded" or not description:
        return None
    if "ProcessingJob" not in (step.get("Metadata") or {}):
        return None
    auroc = _test_metrics(evaluation).get("auroc")
    parts = []
    for out in description.get("ProcessingOutputConfig", {}).get("Outputs", []):
        bucket, _, key = out["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        prefix = key.rstrip("/") + "/"
        try:
            page = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        except Exception:
            continue
        names = [p["Prefix"][len(prefix) :] for p in page.get("CommonPrefixes", [])]
        names += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        if "evaluation.json" in names and auroc is not None:
            names = [f"evaluation.json (test AUROC {auroc:.3f})"]
        parts.append(f"{out['OutputName']}: {' '.join(sorted(names)[:4]) or '(empty)'}")
    return "; ".join(parts) or None


def _key_output(step: dict[str, Any], description: dict[str, Any] | None) -> str:
    """One short line saying what the step produced (full values are in ``outputs``)."""
    meta = step.get("Metadata") or {}
    if step.get("FailureReason"):
        # "<job name> failed: <reason>": the job name is in the metadata already.
        return _first_line(re.sub(r"^\S+ failed: ", "", step["FailureReason"]))
    if "Condition" in meta:
        return f"outcome {meta['Condition'].get('Outcome')}"
    if "Fail" in meta:
        return meta["Fail"].get("ErrorMessage", "")
    if not description:
        return ""
    if "TrainingJob" in meta:
        metrics = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
        artifact = description.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        text = artifact.rsplit("/", 1)[-1]
        if "val:auroc" in metrics:
            text = f"val AUROC {metrics['val:auroc']:.3f}, {text}"
        return text
    if "ProcessingJob" in meta:
        outs = description.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return ", ".join(o["OutputName"] for o in outs) + (" -> S3" if outs else "")
    if "Model" in meta:
        return description.get("ModelName", "")
    if "RegisterModel" in meta:
        return (
            f"{description.get('ModelPackageGroupName', 'package')} "
            f"v{description.get('ModelPackageVersion', '?')} "
            f"({description.get('ModelApprovalStatus', '')})"
        )
    return ""


def _resolved_outputs(assembled: Any, descriptions: dict[str, Any]) -> dict[str, Any]:
    """Every spec output of every step that ran, resolved through its property path."""
    from simulator.properties import resolve_property_path

    out: dict[str, Any] = {}
    for step_name, spec in assembled.specs.items():
        description = descriptions.get(step_name)
        if not description:
            continue
        values: dict[str, Any] = {}
        for output in spec.outputs.values():
            try:
                value = resolve_property_path(
                    description, output.property_path, step_name=step_name
                )
                values[output.logical_name] = {
                    "property_path": output.property_path,
                    "value": value,
                }
            except SmsimError as exc:
                values[output.logical_name] = {
                    "property_path": output.property_path,
                    "error": str(exc),
                }
        out[step_name] = values
    return out


def _duration(step: dict[str, Any]) -> float | None:
    start, end = step.get("StartTime"), step.get("EndTime")
    if start is None or end is None:
        return None
    try:
        return max(0.0, (end - start).total_seconds())
    except TypeError:
        return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 160 else line[:157] + "..."


# ---------------------------------------------------------------------------
# Human output
# ---------------------------------------------------------------------------


def _print_result(result: dict[str, Any]) -> None:
    status = result["pipeline_execution_status"]
    colour = "green" if status == "Succeeded" else "red"
    console.print()
    table = Table(title="Steps", title_justify="left", header_style="bold")
    table.add_column("Step", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    table.add_column("Key output", overflow="fold")
    for step in result["steps"]:
        s_colour = _STEP_COLOURS.get(step["status"], "white")
        duration = step["duration_seconds"]
        table.add_row(
            step["name"],
            step["type"],
            f"[{s_colour}]{step['status']}[/]",
            f"{duration:.1f}s" if duration is not None else "",
            step["key_output"],
        )
    console.print(table)

    metrics = _test_metrics(result.get("evaluation"))
    if metrics:
        headline = [m for m in _HEADLINE_METRICS if m in metrics] or list(metrics)
        shown = ", ".join(f"{name} {metrics[name]:.3f}" for name in headline)
        console.print(
            f"Test metrics (evaluation.json): {shown}\n"
            f"[dim]Gate: register the model when test AUROC >= {result['auroc_threshold']}[/]"
        )

    run_prefix = _run_prefix(result)
    console.print("\n[bold]Spec outputs[/], resolved through their property paths:")
    if run_prefix:
        console.print(f"[dim]  (<run> = {run_prefix})[/]")
    for step_name, values in result["outputs"].items():
        console.print(f"  [cyan]{step_name}[/]")
        for name, entry in values.items():
            if "value" in entry:
                value = entry["value"]
                text = _compact(value) if isinstance(value, list | dict) else str(value)
                if run_prefix:
                    text = text.replace(run_prefix, "<run>")
                console.print(f"    {name} = {text}", highlight=False, markup=False, soft_wrap=True)
            else:
                console.print(f"    {name}: [red]{entry.get('error', '')}[/]")
            console.print(
                f"      {entry['property_path']}", style="dim", highlight=False, markup=False
            )

    for step in result["steps"]:
        if step["status"] == "Failed" and step.get("log"):
            console.print(f"\n[red]{step['name']} failed[/]; last lines of {step['log']}:")
            for line in _tail(Path(step["log"]), 12):
                console.print("  " + line, style="dim", markup=False, highlight=False)
    console.print(f"\nPipeline execution [bold {colour}]{status}[/]", end="")
    if result.get("failure_reason"):
        console.print(f": {result['failure_reason']}")
    else:
        console.print()
    console.print(f"[dim]Definition:        {result['definition_path']}[/]")
    if result.get("execution_dir"):
        console.print(f"[dim]Execution records: {result['execution_dir']}[/]")
    console.print(f"[dim]Jobs and logs:     {result['workspace']}[/]")


def _test_metrics(evaluation: Any) -> dict[str, float]:
    metrics = evaluation.get("metrics", {}) if isinstance(evaluation, dict) else {}
    return {
        name: float(m["value"])
        for name, m in metrics.items()
        if isinstance(m, dict) and isinstance(m.get("value"), int | float)
    }


def _run_prefix(result: dict[str, Any]) -> str | None:
    """``s3://<bucket>/<prefix>/<execution id>``: the common head of this run's S3 URIs."""
    execution_id = result["pipeline_execution_arn"].rsplit("/", 1)[-1]
    for values in result["outputs"].values():
        for entry in values.values():
            value = entry.get("value")
            if isinstance(value, str) and f"/{execution_id}/" in value:
                return value.split(f"/{execution_id}/")[0] + f"/{execution_id}"
    return None


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _compact(value: Any) -> str:
    # FinalMetricDataList: show "name=value" pairs rather than the raw list of dicts.
    if isinstance(value, list) and all(isinstance(v, dict) and "MetricName" in v for v in value):
        return ", ".join(f"{v['MetricName']}={v['Value']:.4g}" for v in value)
    return json.dumps(value, default=str)
