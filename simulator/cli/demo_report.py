"""What `smsim demo` reports: the step summaries and what it prints for people.

Each step's summary (status, duration, key output, log) and every spec output resolved
through its property path form the result ``run_demo`` returns (``--json`` prints it);
``print_result`` renders that result to fit
an 80-column terminal: job names shortened to their tail, the run's S3 prefix written
once as ``<run>``, the failed step's log tail shown under the table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.markup import escape

from simulator.cli.output import console
from simulator.cli.pipeline_progress import first_line, step_duration, step_table
from simulator.errors import SmsimError

# Metrics of evaluation.json worth one line in the report (all are in --json).
_HEADLINE_METRICS = ("auroc", "average_precision", "f1", "accuracy")


def step_summary(
    step: dict[str, Any],
    description: dict[str, Any] | None,
    workspace: Path,
    step_type: str,
    processing_output: str | None = None,
) -> dict[str, Any]:
    """One step of the demo's result: status, duration, what it produced, its log."""
    return {
        "name": step["StepName"],
        "type": step_type,
        "status": step["StepStatus"],
        "duration_seconds": step_duration(step),
        "key_output": processing_output or key_output(step, description),
        "failure_reason": step.get("FailureReason"),
        "metadata": step.get("Metadata") or {},
        "log": log_path(workspace, description),
    }


def log_path(workspace: Path, description: dict[str, Any] | None) -> str | None:
    """The job's combined log in the workspace (processing or training), if it exists."""
    from simulator.jobs.records import job_dir

    if not description:
        return None
    for key, kind in (("ProcessingJobName", "processing"), ("TrainingJobName", "training")):
        if key in description:
            logs = job_dir(workspace, kind, description[key]) / "logs"
            found = sorted(logs.glob("*.log")) if logs.is_dir() else []
            main = [p for p in found if not p.name.endswith(".stderr.log")] or found
            return str(main[0]) if main else None
    return None


def processing_key_output(
    sm: Any, step: dict[str, Any], description: dict[str, Any] | None, evaluation: Any
) -> str | None:
    """What a successful processing step wrote: the first level under each output."""
    if step.get("StepStatus") != "Succeeded" or not description:
        return None
    if "ProcessingJob" not in (step.get("Metadata") or {}):
        return None
    auroc = metric_values(evaluation).get("auroc")
    outputs = description.get("ProcessingOutputConfig", {}).get("Outputs", [])
    parts = []
    for out in outputs:
        bucket, _, key = out["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        prefix = key.rstrip("/") + "/"
        try:
            page = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        except Exception:
            continue
        names = [p["Prefix"][len(prefix) :] for p in page.get("CommonPrefixes", [])]
        names += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        # Short enough for an 80-column table: the metric the gate reads, else the
        # names of a lone output's few entries, else a count (full URIs are in "outputs").
        if "evaluation.json" in names and auroc is not None:
            text = f"test AUROC {auroc:.3f}"
        elif len(names) <= 3 and len(outputs) == 1:
            text = " ".join(sorted(names)) or "(empty)"
        else:
            text = f"{len(names)} files"
        parts.append(f"{out['OutputName']}: {text}" if len(outputs) > 1 else text)
    return "; ".join(parts) or None


def key_output(step: dict[str, Any], description: dict[str, Any] | None) -> str:
    """One short line saying what the step produced (full values are in ``outputs``)."""
    meta = step.get("Metadata") or {}
    if step.get("FailureReason"):
        # "<job name> failed: <reason>": the job name is in the metadata already.
        return first_line(re.sub(r"^\S+ failed: ", "", step["FailureReason"]))
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


def resolved_outputs(assembled: Any, descriptions: dict[str, Any]) -> dict[str, Any]:
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


def print_result(result: dict[str, Any]) -> None:
    status = result["pipeline_execution_status"]
    colour = "green" if status == "Succeeded" else "red"
    console.print()
    rows = [
        (s["name"], s["type"], s["status"], s["duration_seconds"], s["key_output"])
        for s in result["steps"]
    ]
    execution_id = result["pipeline_execution_arn"].rsplit("/", 1)[-1]
    table = step_table("Steps", rows, execution_id=execution_id, last_column="Key output")
    console.print(table, highlight=False)

    metrics = metric_values(result.get("evaluation"))
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
                console.print(f"    {name}: [red]{escape(entry.get('error', ''))}[/]")
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
        console.print(f": {result['failure_reason']}", markup=False, highlight=False)
    else:
        console.print()
    console.print(f"[dim]Definition:        {result['definition_path']}[/]")
    if result.get("execution_dir"):
        console.print(f"[dim]Execution records: {result['execution_dir']}[/]")
    console.print(f"[dim]Jobs and logs:     {result['workspace']}[/]")


def metric_values(evaluation: Any) -> dict[str, float]:
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
