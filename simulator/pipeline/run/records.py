"""The state of pipeline executions: what the Describe/List operations report.

An :class:`ExecutionRecord` is shared by the executor thread that advances it and the
service that answers ``DescribePipelineExecution`` and ``ListPipelineExecutionSteps``
from it (under its lock); each step's run is a :class:`StepRecord`. Names and ids follow
the service's forms: 12-character execution ids, ``pipelines-<id>-<step>-<random>`` jobs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.pipeline.run.definition import PipelineDefinition

DEFAULT_PARALLELISM = 50  # SageMaker's default MaxParallelExecutionSteps


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_execution_id() -> str:
    """12 lowercase alphanumerics, the form of SageMaker's pipeline execution ids."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def job_name(execution_id: str, step_name: str, max_len: int = 63, prefix: str = "") -> str:
    """``pipelines-<execution id>-<step>-<random>``, the service's job naming, cut to fit
    the 63-character job/model name pattern ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``. With a
    ``prefix`` (a job name kept in the definition by the SDK's ``PipelineDefinitionConfig(
    use_custom_job_prefix=True)``) the name is ``<prefix>-<random>``."""
    suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
    if prefix:
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", prefix).strip("-")
        return f"{base[: max_len - len(suffix) - 1].strip('-')}-{suffix}"
    head = f"pipelines-{execution_id}-"
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", step_name).strip("-")
    room = max_len - len(head) - len(suffix) - 1
    base = base[:room].strip("-")
    return f"{head}{base}-{suffix}" if base else f"{head}{suffix}"


@dataclass
class StepRecord:
    """One step's run: what ListPipelineExecutionSteps reports, plus its job description."""

    name: str
    type: str
    status: str = "Starting"
    start_time: dt.datetime = field(default_factory=utcnow)
    end_time: dt.datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    description: dict[str, Any] | None = None  # the job's Describe* response
    job_name: str | None = None
    display_name: str | None = None
    step_description: str | None = None
    arguments: Any = None  # the evaluated Arguments sent to SageMaker

    def to_api(self) -> dict[str, Any]:
        """An item of ListPipelineExecutionSteps' PipelineExecutionSteps."""
        item: dict[str, Any] = {
            "StepName": self.name,
            "StartTime": self.start_time,
            "StepStatus": self.status,
            "AttemptCount": 1,
            "Metadata": self.metadata,
        }
        if self.display_name:
            item["StepDisplayName"] = self.display_name
        if self.step_description:
            item["StepDescription"] = self.step_description
        if self.end_time is not None:
            item["EndTime"] = self.end_time
        if self.failure_reason:
            item["FailureReason"] = self.failure_reason
        return item


@dataclass
class ExecutionRecord:
    """One pipeline execution's state, shared by the executor thread and the service."""

    pipeline_name: str
    pipeline_arn: str
    execution_id: str
    execution_arn: str
    definition: PipelineDefinition
    parameters: dict[str, Any]
    display_name: str | None = None
    description: str | None = None
    status: str = "Executing"
    failure_reason: str | None = None
    creation_time: dt.datetime = field(default_factory=utcnow)
    last_modified_time: dt.datetime = field(default_factory=utcnow)
    parallelism: int = DEFAULT_PARALLELISM
    steps: dict[str, StepRecord] = field(default_factory=dict)
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # step → name → doc
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    on_change: Callable[[ExecutionRecord], None] | None = field(default=None, repr=False)

    def changed(self) -> None:
        self.last_modified_time = utcnow()
        if self.on_change is not None:
            self.on_change(self)


def write_execution(root: Path, record: ExecutionRecord, description: dict[str, Any]) -> None:
    """Record an execution under ``root`` as it runs (call with ``record.lock`` held)::

    execution.json  DescribePipelineExecution    steps.json  ListPipelineExecutionSteps
    parameters.json the values used               steps/<step>/arguments.json, describe.json
    property_files/<step>/<name>.json
    """
    write_json(root / "execution.json", description)
    write_json(root / "parameters.json", record.parameters)
    write_json(
        root / "steps.json",
        {"PipelineExecutionSteps": [s.to_api() for s in record.steps.values()]},
    )
    for step in record.steps.values():
        if step.arguments is not None:
            write_json(root / "steps" / step.name / "arguments.json", step.arguments)
        if step.description is not None:
            write_json(root / "steps" / step.name / "describe.json", step.description)
    for step_name, files in record.property_files.items():
        for name, doc in files.items():
            write_json(root / "property_files" / step_name / f"{name}.json", doc)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON atomically: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")
    tmp.replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
