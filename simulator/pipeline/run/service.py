"""SageMaker Pipelines' API, locally: pipelines, executions, their steps.

``PipelineService(backend)`` serves the pipeline operations of the endpoint's backend
with boto3's request and response shapes (both validated against botocore's model).
``StartPipelineExecution`` returns at once, like the service; the execution runs in a
background thread (:mod:`simulator.pipeline.run.executor`). The operations on pipeline
records are in :mod:`~simulator.pipeline.run.pipelines_api`, those on executions in
:mod:`~simulator.pipeline.run.executions_api`, the state and its records on disk in
:mod:`~simulator.pipeline.run.store`. Every execution is recorded in the workspace as it runs::

    <workspace>/pipelines/<name>/definition.json                 the pipeline's current one
    <workspace>/pipelines/<name>/pipeline.json                   DescribePipeline's members
    <workspace>/pipelines/<name>/executions/<id>/execution.json   DescribePipelineExecution
    <workspace>/pipelines/<name>/executions/<id>/steps.json       ListPipelineExecutionSteps
    <workspace>/pipelines/<name>/executions/<id>/steps/<step>/    arguments.json, describe.json
    <workspace>/pipelines/<name>/executions/<id>/property_files/<step>/<name>.json
"""

from __future__ import annotations

from simulator.pipeline.run.executions_api import ExecutionsAPI
from simulator.pipeline.run.pipelines_api import PipelinesAPI


class PipelineService(PipelinesAPI, ExecutionsAPI):
    """The pipeline operations of SageMaker, for one endpoint's backend."""


__all__ = ["PipelineService"]
