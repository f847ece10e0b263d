"""The pipeline executions' API: Start/Retry/Stop/Describe/List executions and their steps.

``StartPipelineExecution`` returns at once, like the service; the execution runs in a
background thread (:mod:`simulator.pipeline.run.executor`) and is recorded as it runs.
RetryPipelineExecution and SelectiveExecutionConfig rerun an execution's failed (or chosen)
steps, reusing the outputs of the steps they do not rerun, as SageMaker does.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

from simulator import owner
from simulator.errors import (
    Problem,
    ValidationError,
)
from simulator.pipeline.run.definition import (
    PipelineDefinition,
    did_you_mean,
)
from simulator.pipeline.run.executor import PipelineExecutor
from simulator.pipeline.run.expressions import to_string
from simulator.pipeline.run.records import (
    DEFAULT_PARALLELISM,
    ExecutionRecord,
    PipelineRecord,
    new_execution_id,
)
from simulator.pipeline.run.responses import (
    describe_execution,
    execution_summary,
    page,
    select,
)
from simulator.pipeline.run.store import PipelineStore, refuse_unsupported
from simulator.shapes import validate_request


class ExecutionsAPI(PipelineStore):
    """The operations on pipeline executions and their steps."""

    def stop_all(self) -> None:
        """StopPipelineExecution for every running execution (the server is closing)."""
        with self._lock:
            records = list(self._executions.values())
        for record in records:
            if not record.done.is_set():
                self.stop_pipeline_execution(PipelineExecutionArn=record.execution_arn)

    def join(self, timeout: float) -> None:
        with self._lock:
            records = list(self._executions.values())
        for record in records:
            record.done.wait(timeout)

    def start_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("StartPipelineExecution", request)
        pipeline = self._pipeline(request["PipelineName"])
        definition = PipelineDefinition.parse(pipeline.definition_text)
        refuse_unsupported(definition)
        selective = request.get("SelectiveExecutionConfig")
        source = self._selective_source(pipeline, definition, selective) if selective else None
        parameters = definition.parameter_values(request.get("PipelineParameters", []))
        execution_id = new_execution_id()
        record = ExecutionRecord(
            pipeline_name=pipeline.name,
            pipeline_arn=pipeline.arn,
            execution_id=execution_id,
            execution_arn=f"{pipeline.arn}/execution/{execution_id}",
            definition=definition,
            parameters=parameters,
            display_name=request.get("PipelineExecutionDisplayName") or f"execution-{execution_id}",
            description=request.get("PipelineExecutionDescription"),
            parallelism=_parallelism(request, pipeline),
        )
        if selective and source is not None:
            record.selective_config = selective
            record.selected_steps = {s["StepName"] for s in selective["SelectedSteps"]}
            with source.lock:
                for name, step in source.steps.items():
                    if name not in record.selected_steps and step.status == "Succeeded":
                        record.borrowed[name] = step
                        if name in source.property_files:
                            record.property_files[name] = dict(source.property_files[name])
        record.on_change = self._persist
        with self._lock:
            pipeline.executions.append(record)
            pipeline.last_run_time = record.creation_time
            self._executions[record.execution_arn] = record
        self._persist(record)
        self._save(pipeline)
        self._launch(pipeline, record)
        return self._respond(
            "StartPipelineExecution", {"PipelineExecutionArn": record.execution_arn}
        )

    def retry_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        """RetryPipelineExecution: a Failed execution resumes, same ARN; its succeeded steps
        stay, its failed and not-run steps run."""
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("RetryPipelineExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        pipeline = self._pipeline(record.pipeline_name)
        with record.lock:
            if record.status != "Failed" or not record.done.is_set():
                raise ValidationError(
                    f"Pipeline execution {record.execution_arn} is {record.status}: only a "
                    "Failed execution can be retried"
                )
            for name in [n for n, s in record.steps.items() if s.status != "Succeeded"]:
                del record.steps[name]
            if "ParallelismConfiguration" in request:
                record.parallelism = _parallelism(request, pipeline)
            record.status, record.failure_reason = "Executing", None
            record.stop_requested.clear()
            record.done.clear()
            record.changed()
        self._launch(pipeline, record)
        return self._respond(
            "RetryPipelineExecution", {"PipelineExecutionArn": record.execution_arn}
        )

    def send_pipeline_execution_step_success(self, **request: Any) -> dict[str, Any]:
        """A Callback step's answer: it succeeds with these output parameters."""
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("SendPipelineExecutionStepSuccess", request)
        arn = self.callbacks.answer(
            request["CallbackToken"], outputs=request.get("OutputParameters", [])
        )
        return self._respond("SendPipelineExecutionStepSuccess", {"PipelineExecutionArn": arn})

    def send_pipeline_execution_step_failure(self, **request: Any) -> dict[str, Any]:
        """A Callback step's answer: it fails with this reason."""
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("SendPipelineExecutionStepFailure", request)
        arn = self.callbacks.answer(
            request["CallbackToken"],
            failure=request.get("FailureReason") or "the callback reported a failure",
        )
        return self._respond("SendPipelineExecutionStepFailure", {"PipelineExecutionArn": arn})

    def _launch(self, pipeline: PipelineRecord, record: ExecutionRecord) -> None:
        directory = self.execution_dir(record.execution_arn)
        if directory is not None:
            owner.claim(directory)  # which simulator runs it: a later one ends it if this dies
        executor = PipelineExecutor(
            self.sm,
            record,
            history=lambda: list(pipeline.executions),
            faults=self.faults,
            callbacks=self.callbacks,
        )
        thread = threading.Thread(
            target=executor.run, name=f"smsim-pipeline-{record.execution_id}", daemon=True
        )
        thread.start()

    def _selective_source(
        self, pipeline: PipelineRecord, definition: PipelineDefinition, config: dict[str, Any]
    ) -> ExecutionRecord:
        """The source execution of a SelectiveExecutionConfig, checked as the service does:
        selected steps exist, and every step they need that is not selected succeeded in
        the source."""
        arn = config.get("SourcePipelineExecutionArn")
        source = self._execution(arn) if arn else None
        field = "SelectiveExecutionConfig.SourcePipelineExecutionArn"
        if source is None or source.pipeline_name != pipeline.name:
            raise ValidationError(
                "StartPipelineExecution request",
                [Problem(field, f"not an execution of pipeline {pipeline.name!r}", arn)],
            )
        if not source.done.is_set():
            raise ValidationError(
                "StartPipelineExecution request",
                [
                    Problem(
                        field, "the source execution is still running", arn, "wait for it to end"
                    )
                ],
            )
        selected = [s.get("StepName") for s in config.get("SelectedSteps", [])]
        problems = [
            Problem(
                "SelectiveExecutionConfig.SelectedSteps",
                "not a step of the pipeline",
                name,
                did_you_mean(str(name), list(definition.steps)),
            )
            for name in selected
            if name not in definition.steps
        ]
        for name in selected:
            if name not in definition.steps:
                continue
            for dep in sorted(definition.dependencies(name)):
                ran = source.steps.get(dep)
                if dep in selected or (ran is not None and ran.status == "Succeeded"):
                    continue
                problems.append(
                    Problem(
                        "SelectiveExecutionConfig.SelectedSteps",
                        f"step {name!r} depends on step {dep!r}, which is not selected and "
                        f"did not succeed in the source execution",
                        name,
                        f"select {dep!r} too, or choose a source execution where it succeeded",
                    )
                )
        if problems:
            raise ValidationError("StartPipelineExecution request", problems)
        return source

    def describe_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        validate_request("DescribePipelineExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        return self._respond("DescribePipelineExecution", describe_execution(record))

    def list_pipeline_executions(self, **request: Any) -> dict[str, Any]:
        validate_request("ListPipelineExecutions", request)
        pipeline = self._pipeline(request["PipelineName"])
        records = select(
            list(pipeline.executions),
            request,
            created=lambda r: r.creation_time,
            sort_by={"PipelineExecutionArn": lambda r: r.execution_arn},
        )
        summaries = [execution_summary(r) for r in records]
        return self._respond(
            "ListPipelineExecutions", page(summaries, request, "PipelineExecutionSummaries")
        )

    def list_pipeline_execution_steps(self, **request: Any) -> dict[str, Any]:
        validate_request("ListPipelineExecutionSteps", request)
        if "PipelineExecutionArn" not in request:
            raise ValidationError(
                "ListPipelineExecutionSteps request",
                [
                    Problem(
                        "PipelineExecutionArn", "required by smsim", fix="pass the execution ARN"
                    )
                ],
            )
        record = self._execution(request["PipelineExecutionArn"])
        with record.lock:
            items = [s.to_api() for s in record.steps.values()]
        # SageMaker lists the most recently started step first unless asked otherwise.
        items.sort(
            key=lambda s: s["StartTime"],
            reverse=request.get("SortOrder", "Descending") == "Descending",
        )
        return self._respond(
            "ListPipelineExecutionSteps", page(items, request, "PipelineExecutionSteps")
        )

    def stop_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("StopPipelineExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        with record.lock:
            if record.status == "Executing":
                record.stop_requested.set()
                record.status = "Stopping"
                # Running steps are Stopping until their jobs end (StepStatus enum).
                for step in record.steps.values():
                    if step.status == "Executing":
                        step.status = "Stopping"
                record.changed()
        return self._respond(
            "StopPipelineExecution", {"PipelineExecutionArn": record.execution_arn}
        )

    def describe_pipeline_definition_for_execution(self, **request: Any) -> dict[str, Any]:
        validate_request("DescribePipelineDefinitionForExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        return self._respond(
            "DescribePipelineDefinitionForExecution",
            {
                "PipelineDefinition": json.dumps(record.definition.document),
                "CreationTime": record.creation_time,
            },
        )

    def list_pipeline_parameters_for_execution(self, **request: Any) -> dict[str, Any]:
        validate_request("ListPipelineParametersForExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        # The service reports every value as the string it was given (or defaulted to).
        items = [{"Name": k, "Value": to_string(v)} for k, v in record.parameters.items()]
        return self._respond(
            "ListPipelineParametersForExecution", page(items, request, "PipelineParameters")
        )

    def wait_for_pipeline_execution(
        self,
        PipelineExecutionArn: str,
        timeout: float | None = None,  # noqa: N803 (boto3 style)
    ) -> dict[str, Any]:
        """Block until the execution ends; its description. TimeoutError after ``timeout`` s."""
        record = self._execution(PipelineExecutionArn)
        if not record.done.wait(timeout):
            raise TimeoutError(
                f"pipeline execution {PipelineExecutionArn} still {record.status} after {timeout}s"
            )
        return self.describe_pipeline_execution(PipelineExecutionArn=PipelineExecutionArn)

    def execution_record(self, execution_arn: str) -> ExecutionRecord:
        """The live record of an execution (step descriptions, property files)."""
        return self._execution(execution_arn)

    def execution_dir(self, execution_arn: str) -> Path | None:
        record = self._execution(execution_arn)
        base = self._pipeline_dir(record.pipeline_name)
        return base / "executions" / record.execution_id if base is not None else None


def _parallelism(request: dict[str, Any], pipeline: PipelineRecord) -> int:
    config = request.get("ParallelismConfiguration") or pipeline.parallelism or {}
    return int(config.get("MaxParallelExecutionSteps", DEFAULT_PARALLELISM))
