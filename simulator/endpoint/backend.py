"""smsim's SageMaker: the jobs and pipelines of one workspace, behind the endpoint.

:class:`SageMakerBackend` is what the endpoint's handlers call and what a pipeline's
executor sends its steps' requests to (the same code path as a client's requests, in
process). Job state lives in the job records (:mod:`simulator.jobs.records`), pipeline
state in the execution records; the backend only wires them to the run context (S3,
CloudWatch, images, the console sink). SageMaker operations smsim does not run
(CreateModel, CreateModelPackage, …) go to moto through ``moto_client``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.aws import EmbeddedAws
from simulator.endpoint.jobs import JobStore
from simulator.endpoint.tags import TagStore
from simulator.endpoint.telemetry import CloudWatch
from simulator.faults import FaultPlan, InjectedRefusal
from simulator.hosts.launcher import LineSink
from simulator.images import ImageMap
from simulator.inference.endpoints import EndpointService
from simulator.jobs.records import JobRecord
from simulator.jobs.runner import HostSettings, RunContext
from simulator.jobs.transform.description import public_view
from simulator.jobs.transform.run import transform_model
from simulator.jobs.tuning.operations import TUNING_OPERATIONS

# The member of Create*Job's response holding the new job's ARN.
_ARN_MEMBERS = {
    "training": "TrainingJobArn",
    "processing": "ProcessingJobArn",
    "transform": "TransformJobArn",
}


class SageMakerBackend:
    """Jobs, pipelines and tags of one smsim server."""

    def __init__(
        self,
        workspace: Path,
        aws: EmbeddedAws,
        images: ImageMap,
        log_sink: LineSink,
        settings: HostSettings | None = None,
    ) -> None:
        from simulator.pipeline.run.service import PipelineService

        self.workspace = workspace
        self.aws = aws
        self.region = aws.region
        self.account_id = aws.account_id
        self.images = images
        self.log_sink = log_sink
        # How job hosts run: stop grace, sync interval, container mode, local or Ray (#19).
        self.settings = settings or HostSettings()
        self.cloudwatch = CloudWatch(self.account_id, self.region)
        self.jobs = JobStore(workspace, self.region, self.account_id)
        self.tags = TagStore(workspace)
        self.pipelines = PipelineService(self)
        self.tuning = _tuning_service(self)
        self.endpoints = EndpointService(self)  # real-time endpoints (#15)
        self._s3: Any = None
        self._moto: Any = None

    def load(self) -> dict[str, int]:
        """Everything an earlier server recorded in the workspace; counts by kind."""
        return {"jobs": self.jobs.load(), "pipeline executions": self.pipelines.load()}

    def close(self) -> None:
        """Stop running pipeline executions and jobs; each ends Stopped, recorded."""
        self.pipelines.stop_all()
        # Before the jobs: a running tuning job would launch replacements for them.
        self.tuning.close(self.settings.grace_seconds + 30)
        try:
            self.jobs.close(self.settings.grace_seconds)
            self.pipelines.join(self.settings.grace_seconds)
        finally:
            self.endpoints.close()  # endpoints die with the simulator (#15)

    # -- clients ---------------------------------------------------------------------
    @property
    def s3(self) -> Any:
        """boto3 S3 client on the S3 the jobs use (embedded or external)."""
        if self._s3 is None:
            self._s3 = self.aws.client("s3")
        return self._s3

    @property
    def moto_client(self) -> Any:
        """boto3 SageMaker client on the endpoint: what smsim does not serve goes to moto."""
        if self._moto is None:
            self._moto = self.aws.client("sagemaker")
        return self._moto

    # -- the job operations of a client's request and of a pipeline step ------------
    @property
    def faults(self) -> FaultPlan:
        """The faults to inject (simulator.faults): the pipelines' plan is the jobs' too."""
        return self.pipelines.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.pipelines.faults = plan

    def create_job(self, kind: str, request: dict[str, Any]) -> dict[str, str]:
        """Create{Training,Processing,Transform}Job: the new job's ARN under its member."""
        request = dict(request)  # the job keeps its own copy of the caller's request
        self._refuse_at_create(kind, request)
        run_options: dict[str, Any] = {}
        if kind == "transform":
            # The model is CreateModel's, kept by moto: an unknown one is refused at create,
            # and the run serves the one described here (no second client to build, #15).
            run_options["model"] = transform_model(self.moto_client, request)
        # The job kind's own checks (botocore's shape, the service's rules, S3) are the
        # store's, run once there.
        arn = self.jobs.create(kind, request, self.run_context(), run_options=run_options)
        self.tags.add(arn, request.get("Tags", []))
        return {_ARN_MEMBERS[kind]: arn}

    def describe_job(self, kind: str, name: str) -> dict[str, Any]:
        description = self.jobs.describe(kind, name)
        return public_view(description) if kind == "transform" else description

    def stop_job(self, kind: str, name: str) -> dict[str, Any]:
        self.jobs.stop(kind, name)
        return {}

    def job_record(self, kind: str, name: str) -> JobRecord:
        return self.jobs.get(kind, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in TUNING_OPERATIONS:  # a pipeline's Tuning step (#16)
            return getattr(self.tuning, name)
        return getattr(self.moto_client, name)  # create_model, create_model_package, …

    # -- internals -------------------------------------------------------------------
    def _refuse_at_create(self, kind: str, request: dict[str, Any]) -> None:
        """An injected ResourceLimitExceeded/ThrottlingException/InternalFailure planned for
        this job: the Create*Job call is refused with it (simulator.faults)."""
        name = request.get(f"{kind.capitalize()}JobName")
        if not self.faults or not isinstance(name, str):
            return
        for fault in self.faults.for_job(name, ("create",)):
            operation = f"Create{kind.capitalize()}Job"
            raise InjectedRefusal(fault.kind, fault.message, operation)

    def run_context(self) -> RunContext:
        """What a job created now runs with (the images map and fault plan of now)."""
        return RunContext(
            s3=self.s3,
            aws_env=self.aws.env(),
            images=self.images,
            sink=self.log_sink,
            settings=self.settings,
            cloudwatch=self.cloudwatch.log_sink,
            metrics=self.cloudwatch.metric_sink,
            faults=self.faults,
        )


def _tuning_service(backend: SageMakerBackend) -> Any:
    """Hyperparameter tuning (#16): its training jobs are this backend's."""
    from simulator.jobs.tuning import TuningService
    from simulator.jobs.tuning.backend import JobStoreBackend

    return TuningService(
        backend.workspace,
        backend.region,
        backend.account_id,
        JobStoreBackend(backend.jobs, backend.workspace, backend.run_context),
    )
