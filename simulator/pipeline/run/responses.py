"""The pipeline operations' answers built from the records: an execution's description,
its experiment config, and the List* operations' filters, sorting and pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from simulator.pipeline.run.expressions import ExpressionError, evaluate
from simulator.pipeline.run.records import DEFAULT_PARALLELISM, ExecutionRecord
from simulator.shapes import limit, shape

_T = TypeVar("_T")


def describe_execution(r: ExecutionRecord) -> dict[str, Any]:
    """DescribePipelineExecution of ``r`` (call with or without its lock)."""
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
        if r.selective_config:
            resp["SelectiveExecutionConfig"] = r.selective_config
        if r.parallelism != DEFAULT_PARALLELISM:
            resp["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": r.parallelism}
        experiment = _experiment_config(r)
        if experiment:
            resp["PipelineExperimentConfig"] = experiment
    return resp


def execution_summary(r: ExecutionRecord) -> dict[str, Any]:
    """ListPipelineExecutions' PipelineExecutionSummary: the description projected onto
    botocore's summary shape, which names two members differently."""
    desc = describe_execution(r)
    desc["StartTime"] = desc["CreationTime"]
    if "FailureReason" in desc:
        # A String3072 in the summary (botocore's model); the description's is not capped.
        desc["PipelineExecutionFailureReason"] = desc["FailureReason"][: limit("String3072")]
    return project(desc, "PipelineExecutionSummary")


def pipeline_summary(description: dict[str, Any]) -> dict[str, Any]:
    """ListPipelines' PipelineSummary: the DescribePipeline answer projected onto
    botocore's summary shape (its last run is LastExecutionTime there)."""
    summary = dict(description)
    if "LastRunTime" in summary:
        summary["LastExecutionTime"] = summary["LastRunTime"]
    return project(summary, "PipelineSummary")


def project(description: dict[str, Any], summary_shape: str) -> dict[str, Any]:
    """The members of botocore's ``summary_shape`` that ``description`` has."""
    members = shape(summary_shape).members
    return {k: v for k, v in description.items() if k in members}


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


def select(
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


def page(
    items: list[dict[str, Any]], request: dict[str, Any], key: str, default_size: int = 100
) -> dict[str, Any]:
    """A List* response's page of ``items`` under ``key`` (NextToken: the next offset)."""
    start = int(request.get("NextToken") or 0)
    size = int(request.get("MaxResults") or default_size)
    page = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value))
