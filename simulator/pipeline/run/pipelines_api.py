"""The pipeline records' API: Create/Update/Describe/Delete/ListPipelines.

SageMaker validates a pipeline's definition when it is created or updated, not when it runs:
a definition that names an unknown step, property or parameter is refused by CreatePipeline.
smsim does the same (:mod:`simulator.pipeline.run.validate`), and also refuses, before anything
runs, step types it cannot run and malformed CacheConfig or RetryPolicies.
"""

from __future__ import annotations

import uuid
from typing import Any

from simulator.errors import (
    Problem,
    ValidationError,
)
from simulator.pipeline.run.cache import check_cache_config
from simulator.pipeline.run.records import (
    PipelineRecord,
    utcnow,
)
from simulator.pipeline.run.responses import page, pipeline_summary, select
from simulator.pipeline.run.retry import check_retry_policies
from simulator.pipeline.run.store import PipelineStore, refuse_unsupported
from simulator.pipeline.run.validate import validate_definition
from simulator.shapes import validate_request


class PipelinesAPI(PipelineStore):
    """The operations on pipeline records."""

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
        return self._respond("DescribePipeline", _description(p))

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
        summaries = [pipeline_summary(_description(p)) for p in items]
        return self._respond("ListPipelines", page(summaries, request, "PipelineSummaries"))

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
            refuse_unsupported(report.definition)
            problems = []
            for step in report.definition.steps.values():
                raw = _raw_step(report.definition.document, step.location)
                problems += check_cache_config(step.location, step.name, raw.get("CacheConfig"))
                problems += check_retry_policies(step.location, step.name, raw.get("RetryPolicies"))
            if problems:
                raise ValidationError("pipeline definition", problems)
        report.raise_for_problems()


def _raw_step(document: dict[str, Any], location: str) -> dict[str, Any]:
    """The step object at ``location`` ("Steps[2].Arguments.IfSteps[0]") of the document."""
    node: Any = document
    for part in location.replace("[", ".[").split("."):
        if not part:
            continue
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part, {})
    return node if isinstance(node, dict) else {}


def _description(p: PipelineRecord) -> dict[str, Any]:
    """DescribePipeline of ``p`` (ListPipelines projects its summaries from it): the
    recorded members that are set (the service omits unset ones)."""
    resp = {k: v for k, v in p.to_json().items() if v and k != "PipelineVersionId"}
    resp["PipelineStatus"] = "Active"
    return resp
