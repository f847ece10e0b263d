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

from simulator import owner
from simulator.pipeline.run.definition import PipelineDefinition
from simulator.pipeline.run.orphans import end_orphaned

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
class PipelineRecord:
    """One pipeline: what DescribePipeline reports, and its executions."""

    name: str
    arn: str
    definition_text: str
    role_arn: str
    display_name: str
    description: str | None = None
    parallelism: dict[str, Any] | None = None
    creation_time: dt.datetime = field(default_factory=utcnow)
    last_modified_time: dt.datetime = field(default_factory=utcnow)
    last_run_time: dt.datetime | None = None
    version_id: int = 1
    executions: list[ExecutionRecord] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, arn: str, request: dict[str, Any], text: str) -> PipelineRecord:
        t = utcnow()
        return cls(
            name=name,
            arn=arn,
            definition_text=text,
            role_arn=request["RoleArn"],
            display_name=request.get("PipelineDisplayName") or name,
            description=request.get("PipelineDescription"),
            parallelism=request.get("ParallelismConfiguration"),
            creation_time=t,
            last_modified_time=t,
        )

    def to_json(self) -> dict[str, Any]:
        """pipeline.json: DescribePipeline's members, the definition as its text was sent
        (definition.json beside it is the same document, for reading)."""
        return {member: getattr(self, name) for name, member in _PIPELINE_MEMBERS.items()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PipelineRecord:
        """The record a pipeline.json holds (:meth:`to_json`)."""
        values = {n: doc[m] for n, m in _PIPELINE_MEMBERS.items() if doc.get(m) is not None}
        values["version_id"] = int(values.get("version_id", 1))
        return cls(**values)


# PipelineRecord's fields → the DescribePipeline members pipeline.json keeps them under.
_PIPELINE_MEMBERS = {
    "definition_text": "PipelineDefinition",
    "name": "PipelineName",
    "arn": "PipelineArn",
    "role_arn": "RoleArn",
    "display_name": "PipelineDisplayName",
    "description": "PipelineDescription",
    "parallelism": "ParallelismConfiguration",
    "creation_time": "CreationTime",
    "last_modified_time": "LastModifiedTime",
    "last_run_time": "LastRunTime",
    "version_id": "PipelineVersionId",
}


def load_pipelines(root: Path) -> list[PipelineRecord]:
    """The pipelines recorded under ``<workspace>/pipelines`` (deleted ones have no
    pipeline.json)."""
    out = []
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            doc = read_json(directory / "pipeline.json")
        except (OSError, ValueError):
            continue
        if "PipelineDefinition" not in doc:
            continue
        out.append(PipelineRecord.from_json(doc))
    return out


def load_executions(
    root: Path, pipeline_name: str, job: Callable[[str, str], Any]
) -> list[ExecutionRecord]:
    """The executions recorded under ``root`` (``…/executions``), ended: one a server was
    running when it died is recorded Failed. ``job(kind, name)`` finds a step's job."""
    out = []
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            desc = read_json(directory / "execution.json")
            steps = read_json(directory / "steps.json")["PipelineExecutionSteps"]
            parameters = json.loads((directory / "parameters.json").read_text())
            definition = PipelineDefinition.parse(
                (directory / "definition.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError, KeyError):
            continue
        record = ExecutionRecord(
            pipeline_name=pipeline_name,
            pipeline_arn=desc["PipelineArn"],
            execution_id=directory.name,
            execution_arn=desc["PipelineExecutionArn"],
            definition=definition,
            parameters=parameters,
            display_name=desc.get("PipelineExecutionDisplayName"),
            description=desc.get("PipelineExecutionDescription"),
            status=desc["PipelineExecutionStatus"],
            failure_reason=desc.get("FailureReason"),
            creation_time=desc["CreationTime"],
            last_modified_time=desc["LastModifiedTime"],
            parallelism=int(
                (desc.get("ParallelismConfiguration") or {}).get(
                    "MaxParallelExecutionSteps", DEFAULT_PARALLELISM
                )
            ),
            selective_config=desc.get("SelectiveExecutionConfig"),
        )
        for item in steps:
            name = item["StepName"]
            step_type = definition.steps[name].type if name in definition.steps else "Unknown"
            step = StepRecord.from_api(item, step_type)
            found = step.job_arn()
            if found is not None:
                step.job = job(found[0], found[1].rsplit("/", 1)[-1])
            own = directory / "steps" / name / "describe.json"
            if own.is_file():
                step.own_description = read_json(own)
            cache = directory / "steps" / name / "cache.json"
            if cache.is_file():
                step.cache_key = read_json(cache).get("CacheKey")
            for doc in sorted((directory / "property_files" / name).glob("*.json")):
                record.property_files.setdefault(name, {})[doc.stem] = read_json(doc)
            record.steps[name] = step
        if record.status in ("Executing", "Stopping"):
            if owner.runner_alive(directory):
                record.foreign = True  # another live simulator runs it: left alone
            else:
                end_orphaned(record)
        record.done.set()
        out.append(record)
    return out


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
    # A Training/Processing step's job record: the one owner of the job's description,
    # which the step refers to rather than copies.
    job: Any = None
    # A Model/RegisterModel step's Describe* response (moto's, taken once).
    own_description: dict[str, Any] | None = None
    job_name: str | None = None
    display_name: str | None = None
    step_description: str | None = None
    arguments: Any = None  # the evaluated Arguments sent to SageMaker
    outputs: dict[str, Any] | None = None  # a Lambda/Callback step's OutputParameters
    attempts: int = 1  # AttemptCount: 1 + the retries its RetryPolicies granted
    cache_key: str | None = None  # digest of its cache-key attributes (caching on)
    cache_source: str | None = None  # CacheHitResult.SourcePipelineExecutionArn

    @property
    def description(self) -> dict[str, Any] | None:
        """What the step's properties resolve against: its job's description, now."""
        if self.job is not None:
            return self.job.snapshot()  # type: ignore[no-any-return]
        return self.own_description

    @description.setter
    def description(self, value: dict[str, Any] | None) -> None:
        self.own_description = value

    @classmethod
    def from_api(cls, item: dict[str, Any], step_type: str) -> StepRecord:
        """A step of a recorded execution, from its ListPipelineExecutionSteps item."""
        return cls(
            name=item["StepName"],
            type=step_type,
            status=item["StepStatus"],
            start_time=item["StartTime"],
            end_time=item.get("EndTime"),
            failure_reason=item.get("FailureReason"),
            metadata=item.get("Metadata", {}),
            display_name=item.get("StepDisplayName"),
            step_description=item.get("StepDescription"),
            attempts=int(item.get("AttemptCount", 1)),
            outputs=_outputs_from_metadata(item.get("Metadata", {})),
            cache_source=(item.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn"),
        )

    def job_arn(self) -> tuple[str, str] | None:
        """(kind, ARN) of the step's job, from its Metadata."""
        for key, kind in (
            ("TrainingJob", "training"),
            ("ProcessingJob", "processing"),
            ("TransformJob", "transform"),  # #15
        ):
            arn = (self.metadata.get(key) or {}).get("Arn")
            if arn:
                return kind, str(arn)
        return None

    def to_api(self) -> dict[str, Any]:
        """An item of ListPipelineExecutionSteps' PipelineExecutionSteps."""
        item: dict[str, Any] = {
            "StepName": self.name,
            "StartTime": self.start_time,
            "StepStatus": self.status,
            "AttemptCount": self.attempts,
            "Metadata": self.metadata,
        }
        if self.cache_source is not None:
            item["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source}
        if self.display_name:
            item["StepDisplayName"] = self.display_name
        if self.step_description:
            item["StepDescription"] = self.step_description
        if self.end_time is not None:
            item["EndTime"] = self.end_time
        if self.failure_reason:
            item["FailureReason"] = self.failure_reason
        return item


def _outputs_from_metadata(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """A recorded Lambda/Callback step's OutputParameters (values as listed: strings)."""
    for key in ("Lambda", "Callback"):
        params = (metadata.get(key) or {}).get("OutputParameters")
        if params is not None:
            return {p["Name"]: p["Value"] for p in params}
    return None


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
    # SelectiveExecutionConfig as given; the steps it selects (None: every step runs) and
    # the source execution's records of the others, which later steps read.
    selective_config: dict[str, Any] | None = None
    selected_steps: set[str] | None = None
    borrowed: dict[str, StepRecord] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    on_change: Callable[[ExecutionRecord], None] | None = field(default=None, repr=False)
    written: dict[str, Any] = field(default_factory=dict, repr=False)  # path → what it holds
    foreign: bool = False  # loaded while another live simulator runs it (simulator.owner)
    ended_on_load: bool = False  # loaded Executing, its simulator gone: ended Failed here

    def changed(self) -> None:
        self.last_modified_time = utcnow()
        if self.on_change is not None:
            self.on_change(self)


def write_execution(root: Path, record: ExecutionRecord, description: dict[str, Any]) -> None:
    """Record an execution under ``root`` as it runs (call with ``record.lock`` held)::

    execution.json  DescribePipelineExecution    steps.json  ListPipelineExecutionSteps
    parameters.json the values used               definition.json  the definition it ran
    steps/<step>/arguments.json                   steps/<step>/describe.json  (Model steps)
    property_files/<step>/<name>.json

    A job step's description is its job's (``<workspace>/jobs/<name>/describe.json``),
    found by the ARN in the step's Metadata: it is not copied here.
    """
    write_json(root / "execution.json", description)
    write_json(root / "parameters.json", record.parameters)
    if not (root / "definition.json").exists():
        write_json(root / "definition.json", record.definition.document)
    write_json(
        root / "steps.json",
        {"PipelineExecutionSteps": [s.to_api() for s in record.steps.values()]},
    )
    for step in record.steps.values():
        base = root / "steps" / step.name
        _write_once(record, base / "arguments.json", step.arguments)
        _write_once(record, base / "describe.json", step.own_description)
        if step.cache_key is not None:
            _write_once(record, base / "cache.json", {"CacheKey": step.cache_key}, step.cache_key)
    for step_name, files in record.property_files.items():
        for name, doc in files.items():
            _write_once(record, root / "property_files" / step_name / f"{name}.json", doc)


def _write_once(record: ExecutionRecord, path: Path, obj: Any, identity: Any = None) -> None:
    """Write a step's file when its object changed: a 40-step execution changes ~200 times,
    and rewriting every step's files each time was most of the engine's overhead."""
    if obj is None:
        return
    key = id(obj) if identity is None else identity
    if record.written.get(str(path)) != key:
        write_json(path, obj)
        record.written[str(path)] = key


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


def read_json(path: Path) -> Any:
    """A JSON file written by :func:`write_json`, *Time members back as datetimes."""
    from simulator.jobs.records import from_json_times

    return from_json_times(json.loads(path.read_text(encoding="utf-8")))
