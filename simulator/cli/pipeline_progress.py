"""A pipeline execution shown to people: its progress as it runs, its steps at the end.

`smsim pipeline run` and `smsim demo` both poll DescribePipelineExecution and
ListPipelineExecutionSteps as a boto3 program would, print every step status change on
stderr (with its duration, a condition's outcome, a failure's reason), show which steps
are running, and send StopPipelineExecution when the time given is up; then both print
the same step table, sized for an 80-column terminal.
"""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from simulator.cli.output import err_console

POLL_SECONDS = 0.5
STEP_COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "Stopped": "yellow",
    "Stopping": "yellow",
    "Executing": "cyan",
    "Starting": "cyan",
}
# PipelineExecutionStatus values while an execution is still going.
_RUNNING = ("Executing", "Stopping")


def follow_execution(
    sm: Any, arn: str, *, timeout: float | None = None, show: bool = True
) -> dict[str, Any]:
    """Poll until the execution ends; its final description. With ``show``, each step
    transition goes to stderr as it is seen. After ``timeout`` seconds the execution is
    stopped (its running jobs too) and followed to its end."""
    seen: dict[str, str] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    stop_sent = False
    spinner = err_console.status("running…") if show else None
    if spinner is not None:
        spinner.start()
    try:
        while True:
            execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            for step in list_steps(sm, arn):
                if seen.get(step["StepName"]) != step["StepStatus"]:
                    seen[step["StepName"]] = step["StepStatus"]
                    if show:
                        err_console.print(transition_line(step), highlight=False)
            if spinner is not None:
                running = [n for n, s in seen.items() if s in ("Starting", "Executing")]
                spinner.update(f"running: {', '.join(running) or 'scheduling'}")
            if execution["PipelineExecutionStatus"] not in _RUNNING:
                return execution
            if deadline is not None and time.monotonic() > deadline and not stop_sent:
                if show:
                    err_console.print(
                        f"[yellow]timeout after {timeout:.0f}s: stopping the execution[/]"
                    )
                sm.stop_pipeline_execution(PipelineExecutionArn=arn)
                stop_sent = True
            time.sleep(POLL_SECONDS)
    finally:
        if spinner is not None:
            spinner.stop()


def list_steps(sm: Any, arn: str) -> list[dict[str, Any]]:
    """Every step of the execution (all pages), the first started first."""
    items: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"PipelineExecutionArn": arn, "SortOrder": "Ascending"}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_pipeline_execution_steps(**kwargs)
        items += page.get("PipelineExecutionSteps", [])
        token = page.get("NextToken")
        if not token:
            return items


def transition_line(step: dict[str, Any]) -> str:
    """``Succeeded PyTorchTraining (28.8s)``, with the outcome or the failure's first line."""
    status = step["StepStatus"]
    colour = STEP_COLOURS.get(status, "white")
    text = f"   [{colour}]{status:<9}[/] {step['StepName']}"
    duration = step_duration(step)
    if status in ("Succeeded", "Failed", "Stopped") and duration is not None:
        text += f" [dim]({duration:.1f}s)[/]"
    outcome = (step.get("Metadata") or {}).get("Condition", {}).get("Outcome")
    if outcome:
        text += f" [dim]outcome {outcome}[/]"
    if step.get("FailureReason"):
        text += f"\n             [red]{first_line(step['FailureReason'])}[/]"
    return text


def step_duration(step: dict[str, Any]) -> float | None:
    """Seconds from StartTime to EndTime, or None while the step runs."""
    start, end = step.get("StartTime"), step.get("EndTime")
    if start is None or end is None:
        return None
    try:
        return max(0.0, (end - start).total_seconds())
    except TypeError:
        return None


def first_line(text: str) -> str:
    """The first line of a (failure) message, cut to 160 characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 160 else line[:157] + "..."


def compact_table(title: str) -> Table:
    """A table with a header rule and no borders: two more columns fit in 80."""
    return Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def step_table(
    title: str,
    steps: list[tuple[str, str, str, float | None, str]],
    *,
    execution_id: str,
    last_column: str = "Detail",
) -> Table:
    """Rows of (step, type, status, seconds, detail). Job and model names, which are
    ``pipelines-<execution id>-<step>-<random>``, are shortened to ``…-<step>-<random>``."""
    table = compact_table(title)
    table.add_column("Step", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    table.add_column(last_column, overflow="fold")
    job_prefix = f"pipelines-{execution_id}-"
    for name, step_type, status, seconds, detail in steps:
        colour = STEP_COLOURS.get(status, "white")
        table.add_row(
            name,
            step_type,
            f"[{colour}]{status}[/]",
            f"{seconds:.1f}s" if seconds is not None else "-",
            escape((detail or "").replace(job_prefix, "…-")),
        )
    return table
