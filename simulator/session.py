"""LocalSageMaker: a boto3 SageMaker client on smsim's endpoint, plus ``wait_for_*``.

    with LocalSageMaker(workspace=".smsim") as sm:
        sm.create_training_job(**request)        # returns at once, like the service
        sm.wait_for_training_job(name)           # the final DescribeTrainingJob

Design:
* Starting it starts an :class:`~simulator.endpoint.Endpoint` in this process (smsim's
  SageMaker router in front of moto) and exports ``AWS_ENDPOINT_URL`` and dummy
  credentials, so every boto3 client of the process — the SageMaker SDK's included —
  and every job subprocess reach the same simulator.
* Its SageMaker methods are a botocore client on that endpoint: ``create_*`` returns
  ``{"…Arn"}`` at once (the job runs in a background thread, as the service runs it
  asynchronously), errors are botocore ``ClientError``s with the service's codes,
  catchable with ``sm.exceptions.ResourceInUse`` like a boto3 client's. They are also
  smsim's own error classes (``simulator.errors.ResourceInUse``, ``ValidationError``).
  Operations smsim does not serve (``create_model``, …) reach moto through the same
  endpoint.
* ``backend="ray"`` (with ``ray_address=``, optionally ``ray_resources=``) runs training
  and processing hosts on a Ray cluster (``hosts/ray_launcher.py``, #19); the default
  ``"local"`` runs them as this machine's processes and needs nothing of Ray.
* ``wait_for_*`` block until a job or pipeline execution ends (no polling: the
  records' events) and return its final description.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.aws import CLIENT_CONFIG, DEFAULT_REGION
from simulator.endpoint import Endpoint, local_channels
from simulator.endpoint.jobs import wait_until_done
from simulator.errors import SmsimError, service_error
from simulator.faults import FaultPlan
from simulator.hosts.launcher import LineSink
from simulator.images import ImageMap
from simulator.jobs.records import load_descriptions

# Validation is the endpoint's (botocore's shapes + the service's rules, with field-and-fix
# messages), as on the service: the client sends what it is given.
_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(parameter_validation=False))


def _job_waiter(kind: str) -> Callable[..., dict[str, Any]]:
    """``wait_for_<kind>_job(name, timeout=None)``: one waiter for each job kind."""

    def wait(self: LocalSageMaker, name: str, timeout: float | None = None) -> dict[str, Any]:
        return self._wait(kind, name, timeout)

    wait.__name__ = f"wait_for_{kind}_job"
    wait.__qualname__ = f"LocalSageMaker.{wait.__name__}"
    wait.__doc__ = (
        f"Block until the {kind} job ``name`` ends; its final Describe{kind.capitalize()}Job"
        " response (TimeoutError after ``timeout`` seconds)."
    )
    return wait


class LocalSageMaker:
    """SageMaker training and processing jobs (and pipelines), run locally."""

    def __init__(
        self,
        workspace: str | Path = ".smsim",
        region: str = DEFAULT_REGION,
        images: str | Path | Mapping[str, str] | None = None,
        *,
        log_sink: LineSink | None = None,
        stop_grace_seconds: float = 120.0,
        checkpoint_sync_seconds: float = 2.0,
        container_mode: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        s3_endpoint: str | None = None,
        faults: Any = None,
        backend: str = "local",
        ray_address: str | None = None,
        ray_resources: Any = None,
    ) -> None:
        self.endpoint = Endpoint(
            workspace,
            region=region,
            host=host,
            port=port,
            s3_endpoint=s3_endpoint,
            images=images,
            log_sink=log_sink,
            stop_grace_seconds=stop_grace_seconds,
            checkpoint_sync_seconds=checkpoint_sync_seconds,
            container_mode=container_mode,
            backend=backend,
            ray_address=ray_address,
            ray_resources=ray_resources,
        )
        # Service errors to inject (simulator.faults: a list, a FaultPlan, a JSON file's path;
        # $SMSIM_FAULTS when None).
        self.endpoint.backend.pipelines.faults = FaultPlan.coerce(faults)
        self.workspace = self.endpoint.workspace
        self.region = region
        self.account_id = self.endpoint.aws.account_id
        self._client: Any = None  # set while started

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> LocalSageMaker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> LocalSageMaker:
        if self._started:
            return self
        self.endpoint.start()
        try:
            self._client = _client(self.endpoint)
        except BaseException:
            self.endpoint.close()  # or no LocalSageMaker could start again in this process
            raise
        return self

    def close(self) -> None:
        """Stop running jobs (SIGTERM → grace → SIGKILL), then the endpoint."""
        try:
            self.endpoint.close()  # a no-op when it is not started
        finally:
            self._client = None  # started means: a client on the started endpoint

    @property
    def images(self) -> ImageMap:
        """Image URI → interpreter map of the jobs created from now on."""
        return self.endpoint.backend.images

    @images.setter
    def images(self, images: ImageMap) -> None:
        self.endpoint.backend.images = images

    # -- clients -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """boto3 SageMaker client on the endpoint (smsim's operations and moto's)."""
        self._require_started()
        return self._client

    @property
    def exceptions(self) -> Any:
        """The client's modeled exceptions (``sm.exceptions.ResourceInUse``, …)."""
        return self.client.exceptions

    @property
    def s3(self) -> Any:
        """boto3 S3 client on the S3 the jobs use."""
        self._require_started()
        return self.endpoint.backend.s3

    @property
    def endpoint_url(self) -> str:
        return self.endpoint.url

    def aws_env(self) -> dict[str, str]:
        """Environment variables pointing an AWS SDK (e.g. a subprocess) at the simulator."""
        return self.endpoint.env()

    @property
    def pipelines(self) -> Any:
        """The pipeline service (its execution records, for the CLI's reports)."""
        return self.endpoint.backend.pipelines

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.client, name)  # AttributeError for an unknown operation
        if not callable(method) or name in ("can_paginate", "get_paginator", "get_waiter"):
            return method
        return functools.partial(_call, method)

    # -- waiting -------------------------------------------------------------------------
    wait_for_training_job = _job_waiter("training")
    wait_for_processing_job = _job_waiter("processing")
    wait_for_transform_job = _job_waiter("transform")

    def wait_for_endpoint(
        self,
        EndpointName: str,  # noqa: N803
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Block until the endpoint is InService or Failed; its description (#15)."""
        self._require_started()
        self._translated(self.endpoint.backend.endpoints.wait_for_endpoint, EndpointName, timeout)
        return self.describe_endpoint(EndpointName=EndpointName)

    def wait_for_pipeline_execution(
        self,
        PipelineExecutionArn: str,  # noqa: N803
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Block until the execution ends; its description (TimeoutError after timeout)."""
        self._require_started()
        record = self._translated(self.pipelines.execution_record, PipelineExecutionArn)
        if not record.done.wait(timeout):
            raise TimeoutError(
                f"pipeline execution {PipelineExecutionArn} still {record.status} after {timeout}s"
            )
        return self.describe_pipeline_execution(PipelineExecutionArn=PipelineExecutionArn)

    def wait_for_hyper_parameter_tuning_job(
        self,
        HyperParameterTuningJobName: str,  # noqa: N803
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Block until the tuning job ends; its final description (#16)."""
        self._require_started()
        tuning = self.endpoint.backend.tuning
        self._translated(
            tuning.wait_for_hyper_parameter_tuning_job, HyperParameterTuningJobName, timeout
        )
        return self.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=HyperParameterTuningJobName
        )

    def stored_descriptions(self, kind: str = "training") -> dict[str, dict[str, Any]]:
        """Descriptions kept in the workspace (this and earlier sessions), by job name."""
        return load_descriptions(self.workspace, kind)

    # -- internals -----------------------------------------------------------------------
    def _wait(self, kind: str, name: str, timeout: float | None) -> dict[str, Any]:
        self._require_started()
        record = self._translated(self.endpoint.backend.jobs.get, kind, name)
        if record.foreign:  # run by another simulator on the workspace: follow its record
            wait_until_done(record, timeout)
        if not record.done.wait(timeout):
            raise TimeoutError(f"{kind} job {name!r} still {record.status} after {timeout} s")
        label = kind.capitalize()
        return getattr(self, f"describe_{kind}_job")(**{f"{label}JobName": record.name})

    def _translated(self, call: Any, *args: Any) -> Any:
        """An in-process look-up, its error raised as the endpoint would answer it."""
        try:
            return call(*args)
        except SmsimError as exc:
            from simulator.errors import service_code

            response = {"Error": {"Code": service_code(exc), "Message": str(exc)}}
            raise service_error(ClientError(response, "Wait"), ClientError) from None  # type: ignore[arg-type]

    @property
    def _started(self) -> bool:
        return self._client is not None

    def _require_started(self) -> None:
        if not self._started:
            raise SmsimError(
                "LocalSageMaker is not started: use `with LocalSageMaker(...) as sm:` "
                "(or call sm.start() and sm.close())"
            )


def _client(endpoint: Endpoint) -> Any:
    client = endpoint.aws.client("sagemaker", _CLIENT_CONFIG)
    local_channels.register(client)  # the SDK local mode's file:// channels
    return client


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """A client call, its ResponseMetadata dropped (not part of the API shape), its
    ClientError raised as a class that is both the client's and smsim's."""
    try:
        response = method(*args, **kwargs)
    except ClientError as exc:
        modeled = type(exc)
        raise service_error(exc, modeled) from None
    if isinstance(response, dict):
        response.pop("ResponseMetadata", None)
    return response
