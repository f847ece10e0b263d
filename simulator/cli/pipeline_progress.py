"""A pipeline execution shown to people: its progress as it runs, its steps at the end.

`smsim pipeline run` and `smsim demo` both follow an execution as a boto3 program would
(:mod:`simulator.pipeline.watch`), print every step status change on stderr (with its
duration, a condition's outcome, a failure's reason) and show which steps are running;
then both print the same step table, sized for an 80-column terminal.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from simulator.cli.output import err_console
from simulator.pipeline.watch import first_line, step_duration, watch_execution

STEP_COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "Stopped": "yellow",
    "Stopping": "yellow",
    "Executing": "cyan",
    "Starting": "cyan",
}


def follow_execution(
    sm: Any, arn: str, *, timeout: float | None = None, show: bool = True
) -> dict[str, Any]:
    """Watch the execution to its end (:func:`watch_execution`); its final description.
    With ``show``, each step transition goes to stderr as it is seen, under a spinner
    naming the running steps."""
    if not show:
        return watch_execution(sm, arn, timeout=timeout)
    with err_console.status("running…") as spinner:

        def running(statuses: dict[str, str]) -> None:
            names = [n for n, s in statuses.items() if s in ("Starting", "Executing")]
            spinner.update(f"running: {', '.join(names) or 'scheduling'}")

        return watch_execution(
            sm,
            arn,
            timeout=timeout,
            on_change=lambda step: err_console.print(transition_line(step), highlight=False),
            on_poll=running,
            on_timeout=lambda: err_console.print(
                f"[yellow]timeout after {timeout:.0f}s: stopping the execution[/]"
            ),
        )


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
