"""Following a pipeline execution from outside, as a boto3 program does.

Polls DescribePipelineExecution and ListPipelineExecutionSteps until the execution
ends, reporting each step status change, and sends StopPipelineExecution once when the
time given is up (the service then stops the running jobs). `smsim pipeline run` and
`smsim demo` render what this reports; nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

POLL_SECONDS = 0.5
# PipelineExecutionStatus values while an execution is still going.
RUNNING_STATUSES = ("Executing", "Stopping")


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


def watch_execution(
    sm: Any,
    arn: str,
    *,
    timeout: float | None = None,
    on_change: Callable[[dict[str, Any]], None] | None = None,
    on_poll: Callable[[dict[str, str]], None] | None = None,
    on_timeout: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll until the execution ends; its final DescribePipelineExecution response.

    ``on_change(step)`` for each step whose status changed since the last poll,
    ``on_poll(statuses)`` after each poll (step name → status), ``on_timeout()`` when
    ``timeout`` seconds have passed and the stop request is sent.
    """
    seen: dict[str, str] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    stop_sent = False
    while True:
        execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        for step in list_steps(sm, arn):
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                if on_change is not None:
                    on_change(step)
        if on_poll is not None:
            on_poll(dict(seen))
        if execution["PipelineExecutionStatus"] not in RUNNING_STATUSES:
            return execution
        if deadline is not None and time.monotonic() > deadline and not stop_sent:
            if on_timeout is not None:
                on_timeout()
            sm.stop_pipeline_execution(PipelineExecutionArn=arn)
            stop_sent = True
        time.sleep(POLL_SECONDS)


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
