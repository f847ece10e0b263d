"""SageMaker Pipelines' API, locally: pipelines, executions, their steps.

``PipelineService(backend)`` serves the pipeline operations of the endpoint's backend
with boto3's request and response shapes (both validated against botocore's model).
``StartPipelineExecution`` returns at once, like the service; the execution runs in a
background thread (:mod:`simulator.pipeline.run.executor`). Every execution is recorded in
the workspace as it runs::

    <workspace>/pipelines/<name>/definition.json                 the pipeline's current one
    <workspace>/pipelines/<name>/pipeline.json                   DescribePipeline's members
    <workspace>/pipelines/<name>/executions/<id>/execution.json   DescribePipelineExecution
    <workspace>/pipelines/<name>/executions/<id>/steps.json       ListPipelineExecutionSteps
    <workspace>/pipelines/<name>/executions/<id>/steps/<step>/    arguments.json, describe.json
    <workspace>/pipelines/<name>/executions/<id>/property_files/<step>/<name>.json
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any, TypeVar

from simulator.errors import (
    Problem,
    ResourceNotFound,
    SmsimError,
    UnsupportedFeature,
    ValidationError,
)
from simulator.faults import FaultPlan
from simulator.pipeline.run.cache import check_cache_config
from simulator.pipeline.run.callback import CallbackRegistry
from simulator.pipeline.run.definition import (
    SUPPORTED_STEP_TYPES,
    PipelineDefinition,
    did_you_mean,
)
from simulator.pipeline.run.executor import PipelineExecutor
from simulator.pipeline.run.expressions import to_string
from simulator.pipeline.run.records import (
    DEFAULT_PARALLELISM,
    ExecutionRecord,
    PipelineRecord,
    load_executions,
    load_pipelines,
    new_execution_id,
    utcnow,
    write_execution,
    write_json,
)
from simulator.pipeline.run.responses import describe_execution, page, select
from simulator.pipeline.run.retry import check_retry_policies
from simulator.pipeline.run.validate import validate_definition
from simulator.shapes import validate_request, validate_response

_T = TypeVar("_T")


class PipelineService:
    """The pipeline operations of SageMaker, for one endpoint's backend."""

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
                count += 1
            pipeline.executions.sort(key=lambda r: r.creation_time)
        return count

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

    # ------------------------------------------------------------------ pipelines

    def create_pipeline(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))  # boto3 fills it too
        validate_request("CreatePipeline", request)
        name = request["PipelineName"]
        text = self._definition_text(request)
        self._check_definition(text)
        with self._lock:
            taken = next((p for p in self._pipelines if p.lower() == name.lower()), None)
            if taken is not None:
                # The service's code and words (the SDK's Pipeline.upsert() relies on both:
                # a ValidationException saying "already exists" makes it update instead).
                raise ValidationError(
                    "Pipeline names must be unique within an AWS account and region. Pipeline "
                    f"with name ({taken}) already exists; use update_pipeline"
                )
            arn = f"arn:aws:sagemaker:{self._region}:{self._account}:pipeline/{name.lower()}"
            pipeline = PipelineRecord.create(name, arn, request, text)
            self._pipelines[name] = pipeline
        self._save(pipeline)
        self.sm.tags.add(arn, request.get("Tags", []))
        return self._respond("CreatePipeline", {"PipelineArn": arn})

    def update_pipeline(self, **request: Any) -> dict[str, Any]:
        validate_request("UpdatePipeline", request)
        pipeline = self._pipeline(request["PipelineName"])
        if "PipelineDefinition" in request or "PipelineDefinitionS3Location" in request:
            text = self._definition_text(request)
            self._check_definition(text)
            pipeline.definition_text = text
        for key, attr in (
            ("RoleArn", "role_arn"),
            ("PipelineDisplayName", "display_name"),
            ("PipelineDescription", "description"),
            ("ParallelismConfiguration", "parallelism"),
        ):
            if key in request:
                setattr(pipeline, attr, request[key])
        pipeline.version_id += 1
        pipeline.last_modified_time = utcnow()
        self._save(pipeline)
        return self._respond(
            "UpdatePipeline",
            {"PipelineArn": pipeline.arn, "PipelineVersionId": pipeline.version_id},
        )

    def describe_pipeline(self, **request: Any) -> dict[str, Any]:
        validate_request("DescribePipeline", request)
        p = self._pipeline(request["PipelineName"])
        resp: dict[str, Any] = {
            "PipelineArn": p.arn,
            "PipelineName": p.name,
            "PipelineDisplayName": p.display_name,
            "PipelineDefinition": p.definition_text,
            "RoleArn": p.role_arn,
            "PipelineStatus": "Active",
            "CreationTime": p.creation_time,
            "LastModifiedTime": p.last_modified_time,
        }
        if p.description:
            resp["PipelineDescription"] = p.description
        if p.last_run_time:
            resp["LastRunTime"] = p.last_run_time
        if p.parallelism:
            resp["ParallelismConfiguration"] = p.parallelism
        return self._respond("DescribePipeline", resp)

    def delete_pipeline(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("DeletePipeline", request)
        with self._lock:
            p = self._pipeline(request["PipelineName"])
            del self._pipelines[p.name]
        root = self._pipeline_dir(p.name)
        if root is not None:
            (root / "pipeline.json").unlink(missing_ok=True)  # its executions stay recorded
        return self._respond("DeletePipeline", {"PipelineArn": p.arn})

    def list_pipelines(self, **request: Any) -> dict[str, Any]:
        validate_request("ListPipelines", request)
        prefix = request.get("PipelineNamePrefix", "")
        items = select(
            [p for p in self._pipelines.values() if p.name.startswith(prefix)],
            request,
            created=lambda p: p.creation_time,
            sort_by={"Name": lambda p: p.name},
        )
        summaries = []
        for p in items:
            s: dict[str, Any] = {
                "PipelineArn": p.arn,
                "PipelineName": p.name,
                "PipelineDisplayName": p.display_name,
                "RoleArn": p.role_arn,
                "CreationTime": p.creation_time,
                "LastModifiedTime": p.last_modified_time,
            }
            if p.description:
                s["PipelineDescription"] = p.description
            if p.last_run_time:
                s["LastExecutionTime"] = p.last_run_time
            summaries.append(s)
        return self._respond("ListPipelines", page(summaries, request, "PipelineSummaries"))

    # ------------------------------------------------------------------ executions

    def start_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("StartPipelineExecution", request)
        pipeline = self._pipeline(request["PipelineName"])
        definition = PipelineDefinition.parse(pipeline.definition_text)
        _refuse_unsupported(definition)
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
        summaries = []
        for r in records:
            with r.lock:
                s: dict[str, Any] = {
                    "PipelineExecutionArn": r.execution_arn,
                    "StartTime": r.creation_time,
                    "PipelineExecutionStatus": r.status,
                    "PipelineExecutionDisplayName": r.display_name,
                }
                if r.description:
                    s["PipelineExecutionDescription"] = r.description
                if r.failure_reason:
                    s["PipelineExecutionFailureReason"] = r.failure_reason[:3072]
            summaries.append(s)
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

    # ------------------------------------------------------------------ internals

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

    def _definition_text(self, request: dict[str, Any]) -> str:
        if "PipelineDefinition" in request:
            return request["PipelineDefinition"]
        loc = request.get("PipelineDefinitionS3Location")
        if loc:
            kwargs = {"Bucket": loc["Bucket"], "Key": loc["ObjectKey"]}
            if "VersionId" in loc:
                kwargs["VersionId"] = loc["VersionId"]
            return self.sm.s3.get_object(**kwargs)["Body"].read().decode("utf-8")
        raise ValidationError(
            "CreatePipeline request",
            [
                Problem(
                    "PipelineDefinition",
                    "missing",
                    fix="pass PipelineDefinition (Pipeline.definition()) or "
                    "PipelineDefinitionS3Location",
                )
            ],
        )

    def _check_definition(self, text: str) -> None:
        # SageMaker validates a definition when the pipeline is created; smsim also refuses
        # step types it cannot run, before anything runs.
        report = validate_definition(text)
        if report.definition is not None:
            _refuse_unsupported(report.definition)
            problems = []
            for step in report.definition.steps.values():
                raw = _raw_step(report.definition.document, step.location)
                problems += check_cache_config(step.location, step.name, raw.get("CacheConfig"))
                problems += check_retry_policies(step.location, step.name, raw.get("RetryPolicies"))
            if problems:
                raise ValidationError("pipeline definition", problems)
        report.raise_for_problems()

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


def _refuse_unsupported(definition: PipelineDefinition) -> None:
    unsupported = definition.unsupported_steps()
    if unsupported:
        listed = ", ".join(f"{s.name} ({s.type})" for s in unsupported)
        raise UnsupportedFeature(
            f"smsim cannot run these steps: {listed}; it runs step types "
            f"{', '.join(SUPPORTED_STEP_TYPES)}. Nothing was run."
        )


def _raw_step(document: dict[str, Any], location: str) -> dict[str, Any]:
    """The step object at ``location`` ("Steps[2].Arguments.IfSteps[0]") of the document."""
    node: Any = document
    for part in location.replace("[", ".[").split("."):
        if not part:
            continue
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part, {})
    return node if isinstance(node, dict) else {}


def _parallelism(request: dict[str, Any], pipeline: PipelineRecord) -> int:
    config = request.get("ParallelismConfiguration") or pipeline.parallelism or {}
    return int(config.get("MaxParallelExecutionSteps", DEFAULT_PARALLELISM))


__all__ = ["PipelineService"]
