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

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from simulator.errors import (
    Problem,
    ResourceNotFound,
    SmsimError,
    UnsupportedFeature,
    ValidationError,
)
from simulator.pipeline.run.definition import SUPPORTED_STEP_TYPES, PipelineDefinition
from simulator.pipeline.run.executor import PipelineExecutor
from simulator.pipeline.run.expressions import ExpressionError, evaluate, to_string
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
        items = _select(
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
        return self._respond("ListPipelines", _page(summaries, request, "PipelineSummaries"))

    # ------------------------------------------------------------------ executions

    def start_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        validate_request("StartPipelineExecution", request)
        if "SelectiveExecutionConfig" in request:
            raise UnsupportedFeature(
                "SelectiveExecutionConfig: smsim runs whole executions; remove it"
            )
        pipeline = self._pipeline(request["PipelineName"])
        definition = PipelineDefinition.parse(pipeline.definition_text)
        _refuse_unsupported(definition)
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
        record.on_change = self._persist
        with self._lock:
            pipeline.executions.append(record)
            pipeline.last_run_time = record.creation_time
            self._executions[record.execution_arn] = record
        self._persist(record)
        self._save(pipeline)
        executor = PipelineExecutor(self.sm, record)
        thread = threading.Thread(
            target=executor.run, name=f"smsim-pipeline-{execution_id}", daemon=True
        )
        thread.start()
        return self._respond(
            "StartPipelineExecution", {"PipelineExecutionArn": record.execution_arn}
        )

    def describe_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        validate_request("DescribePipelineExecution", request)
        record = self._execution(request["PipelineExecutionArn"])
        return self._respond("DescribePipelineExecution", self._describe(record))

    def list_pipeline_executions(self, **request: Any) -> dict[str, Any]:
        validate_request("ListPipelineExecutions", request)
        pipeline = self._pipeline(request["PipelineName"])
        records = _select(
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
            "ListPipelineExecutions", _page(summaries, request, "PipelineExecutionSummaries")
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
            "ListPipelineExecutionSteps", _page(items, request, "PipelineExecutionSteps")
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
            "ListPipelineParametersForExecution", _page(items, request, "PipelineParameters")
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
        report.raise_for_problems()

    def _describe(self, r: ExecutionRecord) -> dict[str, Any]:
        with r.lock:
            resp: dict[str, Any] = {
                "PipelineArn": r.pipeline_arn,
                "PipelineExecutionArn": r.execution_arn,
                "PipelineExecutionDisplayName": r.display_name,
                "PipelineExecutionStatus": r.status,
                "CreationTime": r.creation_time,
                "LastModifiedTime": r.last_modified_time,
            }
            if r.description:
                resp["PipelineExecutionDescription"] = r.description
            if r.failure_reason:
                resp["FailureReason"] = r.failure_reason
            if r.parallelism != DEFAULT_PARALLELISM:
                resp["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": r.parallelism}
            experiment = _experiment_config(r)
            if experiment:
                resp["PipelineExperimentConfig"] = experiment
        return resp

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
                    base / "executions" / record.execution_id, record, self._describe(record)
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


def _parallelism(request: dict[str, Any], pipeline: PipelineRecord) -> int:
    config = request.get("ParallelismConfiguration") or pipeline.parallelism or {}
    return int(config.get("MaxParallelExecutionSteps", DEFAULT_PARALLELISM))


def _experiment_config(r: ExecutionRecord) -> dict[str, str] | None:
    config = r.definition.document.get("PipelineExperimentConfig")
    if not isinstance(config, dict):
        return None

    class _Ctx:
        def parameter(self, name: str) -> Any:
            return r.parameters[name]

        def execution_variable(self, name: str) -> Any:
            return {
                "PipelineExecutionId": r.execution_id,
                "PipelineExecutionArn": r.execution_arn,
                "PipelineName": r.pipeline_name,
                "PipelineArn": r.pipeline_arn,
            }[name]

        def step_property(self, step: str, path: str) -> Any:
            raise ExpressionError("PipelineExperimentConfig cannot read step properties")

        def property_file(self, step: str, name: str) -> Any:
            raise ExpressionError("PipelineExperimentConfig cannot read property files")

        def read_json(self, s3_uri: str) -> Any:
            raise ExpressionError("PipelineExperimentConfig cannot read S3")

    try:
        value = evaluate(config, _Ctx())
    except (ExpressionError, KeyError):
        return None
    return {k: v for k, v in value.items() if k in ("ExperimentName", "TrialName") and v}


def _select(
    items: list[_T],
    request: dict[str, Any],
    *,
    created: Callable[[_T], dt.datetime],
    sort_by: dict[str, Callable[[_T], Any]],
) -> list[_T]:
    """The List* operations' CreatedAfter/CreatedBefore filter and SortBy/SortOrder
    (creation time, newest first, unless asked otherwise)."""
    if "CreatedAfter" in request:
        items = [i for i in items if created(i) > _aware(request["CreatedAfter"])]
    if "CreatedBefore" in request:
        items = [i for i in items if created(i) < _aware(request["CreatedBefore"])]
    key = sort_by.get(request.get("SortBy", ""), created)
    return sorted(items, key=key, reverse=request.get("SortOrder", "Descending") == "Descending")


def _page(items: list[dict[str, Any]], request: dict[str, Any], key: str) -> dict[str, Any]:
    start = int(request.get("NextToken") or 0)
    size = int(request.get("MaxResults") or 100)
    page = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value))


__all__ = ["PipelineService"]
