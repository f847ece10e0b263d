"""The state the pipeline API keeps, and where it records it in the workspace.

``PipelineStore`` holds an endpoint's pipelines and executions (in memory, and under
``<workspace>/pipelines/`` so that a later server finds them again; see
:mod:`simulator.pipeline.run.service` for the layout) and the look-ups both halves of the API
share: a pipeline by name or ARN, an execution by ARN (SageMaker matches either case-blind),
and a response validated against botocore's model before it is returned.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from simulator.errors import (
    ResourceNotFound,
    SmsimError,
    UnsupportedFeature,
)
from simulator.faults import FaultPlan
from simulator.pipeline.run.callback import CallbackRegistry
from simulator.pipeline.run.definition import (
    SUPPORTED_STEP_TYPES,
    PipelineDefinition,
)
from simulator.pipeline.run.records import (
    ExecutionRecord,
    PipelineRecord,
    load_executions,
    load_pipelines,
    write_execution,
    write_json,
)
from simulator.pipeline.run.responses import describe_execution
from simulator.shapes import validate_response


class PipelineStore:
    """Pipelines and executions of one endpoint's backend, and their records on disk."""

    def __init__(self, sm: Any) -> None:
        self.sm = sm
        self._pipelines: dict[str, PipelineRecord] = {}
        self._executions: dict[str, ExecutionRecord] = {}
        self._lock = threading.RLock()
        # Service errors to inject into steps (simulator.faults; $SMSIM_FAULTS by default).
        self.faults = FaultPlan.coerce(None)
        self.callbacks = CallbackRegistry()  # tokens of waiting Callback steps

    def load(self) -> int:
        """The pipelines and executions an earlier server recorded; how many executions."""
        root = self._root()
        if root is None:
            return 0
        count = 0
        for pipeline in load_pipelines(root):
            self._pipelines[pipeline.name] = pipeline
            for record in load_executions(
                root / pipeline.name / "executions", pipeline.name, self._job
            ):
                pipeline.executions.append(record)
                self._executions[record.execution_arn] = record
                if record.ended_on_load:
                    self._persist(record)  # its Failed end, on disk for every later session
                count += 1
            pipeline.executions.sort(key=lambda r: r.creation_time)
        return count

    @property
    def _region(self) -> str:
        return getattr(self.sm, "region", "us-east-1")

    @property
    def _account(self) -> str:
        return getattr(self.sm, "account_id", "123456789012")

    def _pipeline(self, name_or_arn: str) -> PipelineRecord:
        with self._lock:
            if name_or_arn in self._pipelines:
                return self._pipelines[name_or_arn]
            for p in self._pipelines.values():
                if p.arn == name_or_arn.lower() or p.name.lower() == name_or_arn.lower():
                    return p
        raise ResourceNotFound(
            f"pipeline {name_or_arn!r} does not exist; existing: "
            f"{', '.join(self._pipelines) or 'none'}"
        )

    def _execution(self, arn: str) -> ExecutionRecord:
        with self._lock:
            record = self._executions.get(arn)
            if record is None:
                record = next(
                    (r for a, r in self._executions.items() if a.lower() == arn.lower()), None
                )
        if record is None:
            raise ResourceNotFound(f"pipeline execution {arn!r} does not exist")
        return record

    def _root(self) -> Path | None:
        workspace = getattr(self.sm, "workspace", None)
        return Path(workspace) / "pipelines" if workspace is not None else None

    def _pipeline_dir(self, name: str) -> Path | None:
        root = self._root()
        return root / name if root is not None else None

    def _save(self, pipeline: PipelineRecord) -> None:
        base = self._pipeline_dir(pipeline.name)
        if base is not None:
            write_json(base / "definition.json", json.loads(pipeline.definition_text))
            write_json(base / "pipeline.json", pipeline.to_json())

    def _job(self, kind: str, name: str) -> Any:
        """The record of a recorded step's job (None when it is gone from the workspace)."""
        try:
            return self.sm.job_record(kind, name)
        except SmsimError:
            return None

    def _persist(self, record: ExecutionRecord) -> None:
        base = self._pipeline_dir(record.pipeline_name)
        if base is not None:
            with record.lock:
                write_execution(
                    base / "executions" / record.execution_id, record, describe_execution(record)
                )

    @staticmethod
    def _respond(operation: str, response: dict[str, Any]) -> dict[str, Any]:
        validate_response(operation, response)
        return response


def refuse_unsupported(definition: PipelineDefinition) -> None:
    unsupported = definition.unsupported_steps()
    if unsupported:
        listed = ", ".join(f"{s.name} ({s.type})" for s in unsupported)
        raise UnsupportedFeature(
            f"smsim cannot run these steps: {listed}; it runs step types "
            f"{', '.join(SUPPORTED_STEP_TYPES)}. Nothing was run."
        )
