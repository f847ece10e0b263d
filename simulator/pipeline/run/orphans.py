"""Executions whose simulator died: a later simulator opening the workspace ends them (#17).

Kept apart from :mod:`simulator.pipeline.run.records` (which calls it on load) to keep
that module small; it needs only the record's members.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from simulator import owner

RUNNING_STEP = ("Starting", "Executing", "Stopping")


def end_orphaned(record: Any) -> None:
    """Failed, with its running steps: the simulator running ``record`` (an
    ExecutionRecord) died, and its processes with it."""
    t = dt.datetime.now(dt.UTC)
    record.status, record.failure_reason = "Failed", owner.RUNNER_GONE
    record.last_modified_time = t
    for step in record.steps.values():
        if step.status in RUNNING_STEP:
            step.status, step.failure_reason, step.end_time = "Failed", owner.RUNNER_GONE, t
    record.ended_on_load = True
