"""`smsim demo` for people: the result of :func:`simulator.demo.run_demo`, rendered.

``print_result`` fits an 80-column terminal: job names shortened to their tail, the
run's S3 prefix written once as ``<run>``, the failed step's log tail under the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from simulator.cli.output import console
from simulator.cli.pipeline_progress import engine_note, step_table
from simulator.demo_steps import metric_values

# Metrics of evaluation.json worth one line in the report (all are in --json).
_HEADLINE_METRICS = ("auroc", "average_precision", "f1", "accuracy")


def print_result(result: dict[str, Any]) -> None:
    status = result["pipeline_execution_status"]
    colour = "green" if status == "Succeeded" else "red"
    console.print()
    rows = [
        (
            s["name"],
            s["type"],
            s["status"],
            s["duration_seconds"],
            engine_note(
                {
                    "AttemptCount": s.get("attempts", 1),
                    "CacheHitResult": {"SourcePipelineExecutionArn": s["cache_hit_source"]}
                    if s.get("cache_hit_source")
                    else None,
                }
            )
            + (s["key_output"] or ""),
        )
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
    transform = result.get("transform")
    if transform and transform.get("auroc") is not None:
        same = transform.get("evaluation_auroc")
        agree = (
            "the same as evaluate.py's"
            if same is not None and abs(same - transform["auroc"]) < 1e-6
            else f"evaluate.py's: {same}"
        )
        console.print(
            f"Batch transform ({transform['step']}): {transform['records']} test rows scored, "
            f"AUROC {transform['auroc']:.3f}, {agree}"
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
