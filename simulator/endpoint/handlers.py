"""The SageMaker operations smsim answers itself; each is thin: validate the request
against botocore's input shape, ask the backend (records own state, runners own
execution), validate the answer against botocore's output shape.

A handler raises :class:`Forward` when the request is not about one of smsim's
resources (tags of a model, say): the router hands it to moto unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from simulator.endpoint.backend import SageMakerBackend
from simulator.endpoint.tags import is_arn_of
from simulator.jobs.tuning.operations import TUNING_OPERATIONS
from simulator.pipeline.run.responses import page
from simulator.shapes import validate_request, validate_response

Handler = Callable[[dict[str, Any]], dict[str, Any]]
# Resource types (the ARN's `<type>/…`) whose tags smsim keeps.
_OWN_RESOURCES = ("training-job", "processing-job", "transform-job", "pipeline")
_PIPELINE_OPS = (
    "CreatePipeline",
    "UpdatePipeline",
    "DescribePipeline",
    "DeletePipeline",
    "ListPipelines",
    "StartPipelineExecution",
    "DescribePipelineExecution",
    "ListPipelineExecutions",
    "ListPipelineExecutionSteps",
    "StopPipelineExecution",
    "DescribePipelineDefinitionForExecution",
    "ListPipelineParametersForExecution",
    "RetryPipelineExecution",
    "SendPipelineExecutionStepSuccess",
    "SendPipelineExecutionStepFailure",
)


class Forward(Exception):  # noqa: N818 - a signal to the router, not an error
    """Not smsim's to answer: hand the request to moto."""


def build(backend: SageMakerBackend) -> dict[str, Handler]:
    """Operation name → handler, for every operation smsim serves."""
    table: dict[str, Handler] = {}
    for label, kind in (("Training", "training"), ("Processing", "processing")):
        _job_operations(table, backend, label, kind)
    _job_operations(table, backend, "Transform", "transform")  # batch transform (#15)
    _endpoints(table, backend)
    for operation in _PIPELINE_OPS:
        table[operation] = _pipeline(operation, backend)
    for operation in TUNING_OPERATIONS.values():  # hyperparameter tuning (#16)
        table[operation] = _tuning(operation, backend)
    table["AddTags"] = _add_tags(backend)
    table["ListTags"] = _list_tags(backend)
    table["DeleteTags"] = _delete_tags(backend)
    return table


def _endpoints(table: dict[str, Handler], backend: SageMakerBackend) -> None:
    """Real-time endpoints (#15)."""
    endpoints = backend.endpoints
    table["CreateEndpoint"] = lambda params: endpoints.create_endpoint(**params)
    table["UpdateEndpoint"] = lambda params: endpoints.update_endpoint(**params)
    table["DescribeEndpoint"] = _by_name(
        "DescribeEndpoint", "EndpointName", endpoints.describe_endpoint
    )
    table["DeleteEndpoint"] = _by_name("DeleteEndpoint", "EndpointName", endpoints.delete_endpoint)
    table["ListEndpoints"] = lambda params: endpoints.list_endpoints(**params)


def _job_operations(
    table: dict[str, Handler], backend: SageMakerBackend, label: str, kind: str
) -> None:
    """Create/Describe/Stop/List of one job kind (``label``: the operations' noun)."""
    name_key = f"{label}JobName"
    # Validation of a Create* request is the job kind's own check (botocore's shape + the
    # service's rules, in the job store), so Create*Job's handler is the backend's
    # operation itself, with nothing to add; a Describe* answer is not checked twice: the
    # record validated it against the output shape when it last changed.
    table[f"Create{label}Job"] = functools.partial(backend.create_job, kind)
    table[f"Describe{label}Job"] = _by_name(
        f"Describe{label}Job", name_key, lambda n: backend.describe_job(kind, n)
    )
    table[f"Stop{label}Job"] = _by_name(
        f"Stop{label}Job", name_key, lambda n: backend.stop_job(kind, n)
    )
    table[f"List{label}Jobs"] = _list(f"List{label}Jobs", kind, backend)


def _by_name(operation: str, key: str, call: Callable[[str], dict[str, Any]]) -> Handler:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        validate_request(operation, params)
        return call(params[key])

    return handle


def _list(operation: str, kind: str, backend: SageMakerBackend) -> Handler:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        response = backend.jobs.list(operation, kind, params)
        validate_response(operation, response)
        return response

    return handle


def _pipeline(operation: str, backend: SageMakerBackend) -> Handler:
    method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")

    def handle(params: dict[str, Any]) -> dict[str, Any]:
        # The pipeline service validates both ways itself.
        return getattr(backend.pipelines, method)(**params)

    return handle


def _tuning(operation: str, backend: SageMakerBackend) -> Handler:
    method = next(m for m, op in TUNING_OPERATIONS.items() if op == operation)

    def handle(params: dict[str, Any]) -> dict[str, Any]:
        # The tuning service validates requests and responses against botocore itself.
        return getattr(backend.tuning, method)(**params)

    return handle


def _own(operation: str, params: dict[str, Any]) -> str:
    """The request's ResourceArn once it is valid, if it is smsim's (else moto answers)."""
    validate_request(operation, params)
    arn = str(params.get("ResourceArn", ""))
    if not is_arn_of(arn, _OWN_RESOURCES):
        raise Forward
    return arn


def _add_tags(backend: SageMakerBackend) -> Handler:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        arn = _own("AddTags", params)
        backend.tags.add(arn, params["Tags"])
        return {"Tags": backend.tags.list(arn)}

    return handle


def _list_tags(backend: SageMakerBackend) -> Handler:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        arn = _own("ListTags", params)
        return page(backend.tags.list(arn), params, "Tags", default_size=50)

    return handle


def _delete_tags(backend: SageMakerBackend) -> Handler:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        arn = _own("DeleteTags", params)
        backend.tags.delete(arn, params["TagKeys"])
        return {}

    return handle
