"""LocalSageMaker: a facade shaped like boto3's SageMaker client, backed by local runs.

    with LocalSageMaker(workspace=".smsim") as sm:
        sm.create_training_job(**request)        # returns at once, like the service
        sm.wait_for_training_job(name)           # the final DescribeTrainingJob

Design:
* ``create_*`` validates the request, records the job InProgress and returns
  ``{"…Arn"}`` at once; the job runs in a background thread (as the service runs
  it asynchronously). ``wait_for_*`` blocks until it ends.
* While the context is open, the embedded moto (``aws.py``) serves S3 and
  SageMaker; every boto3 client in this process sees it. Our jobs are also
  created in moto's SageMaker backend, and its objects are overwritten with our
  description at every state change, so ``boto3.client("sagemaker")
  .describe_training_job`` shows the real status and metrics (``moto_mirror.py``).
* Operations smsim does not implement fall through to moto's SageMaker
  (``sm.client``): ``create_model``, ``create_model_package``, …
* Pipeline operations go to ``simulator.pipeline.run.service.PipelineService``.
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from simulator.aws import DEFAULT_REGION, EmbeddedAws
from simulator.errors import Problem, ResourceInUse, ResourceNotFound, SmsimError, ValidationError
from simulator.hosts.launcher import LineSink, console_sink
from simulator.images import ImageMap
from simulator.inference import runtime_hook
from simulator.jobs.processing import run as processing
from simulator.jobs.records import JobRecord, from_json_times, job_dir, load_descriptions
from simulator.jobs.runner import RunContext
from simulator.jobs.training import checks as training_checks
from simulator.jobs.training import description as training_description
from simulator.jobs.training import run as training
from simulator.jobs.transform import checks as transform_checks
from simulator.jobs.transform import description as transform_description
from simulator.jobs.transform import run as transform
from simulator.moto_mirror import MotoMirror

# Endpoints (#15; interim, until the endpoint helper's router lands): served by
# simulator.inference.endpoints, InvokeEndpoint of any sagemaker-runtime client included.
_ENDPOINT_OPS = (
    "create_endpoint",
    "describe_endpoint",
    "update_endpoint",
    "delete_endpoint",
    "list_endpoints",
    "wait_for_endpoint",
    "invoke_endpoint",
)
_PIPELINE_OPS = (
    "create_pipeline",
    "update_pipeline",
    "describe_pipeline",
    "delete_pipeline",
    "list_pipelines",
    "start_pipeline_execution",
    "describe_pipeline_execution",
    "list_pipeline_executions",
    "list_pipeline_execution_steps",
    "stop_pipeline_execution",
    "wait_for_pipeline_execution",
    "describe_pipeline_definition_for_execution",
    "list_pipeline_parameters_for_execution",
)


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
    ) -> None:
        self.workspace = Path(workspace).expanduser().resolve()
        self.region = region
        self._aws = EmbeddedAws(region)
        self._mirror = MotoMirror(self._aws)
        self.account_id = self._aws.account_id
        self.images = ImageMap.load(images, self.workspace)
        self.log_sink = log_sink or console_sink()
        self.stop_grace_seconds = stop_grace_seconds
        self.checkpoint_sync_seconds = checkpoint_sync_seconds
        self._records: dict[tuple[str, str], JobRecord] = {}
        self._lock = threading.Lock()
        self._pipelines: Any = None
        self._endpoints: Any = None
        self._client: Any = None
        self._s3: Any = None
        self._started = False
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> LocalSageMaker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> LocalSageMaker:
        if self._started:
            return self
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._aws.start()
        try:
            self._client = self._aws.client("sagemaker")
            self._s3 = self._aws.client("s3")
            self._mirror.install_hooks(self)
            runtime_hook.install(self)
        except BaseException:
            self._aws.stop()  # or no LocalSageMaker could start again in this process
            raise
        self._started = True
        return self

    def close(self) -> None:
        """Stop running jobs (SIGTERM → grace → SIGKILL), then the embedded AWS."""
        if not self._started:
            return
        with self._lock:
            # From here on no job starts (a pipeline thread may still try): one created
            # after the stops below would run on after the embedded AWS is gone.
            self._closing = True
            records = list(self._records.values())
        try:
            for record in records:
                record.request_stop()
            try:
                self._join(records, self.stop_grace_seconds + 30)
            except BaseException:
                # Interrupted while waiting (a second Ctrl-C): no grace period left. Kill the
                # scripts (each in its own session, so the signal did not reach them), or
                # they would outlive this process, and let their runs record the stop.
                for record in records:
                    record.kill()
                self._join(records, 10)
                raise
        finally:
            if self._endpoints is not None:
                self._endpoints.close()  # endpoints die with the simulator
                self._endpoints = None
            runtime_hook.remove()
            self._mirror.remove_hooks()
            self._aws.stop()
            self._started = False
            self._closing = False

    @staticmethod
    def _join(records: list[JobRecord], timeout: float) -> None:
        # The run's `done`, not Thread.join: in Python 3.11 a join interrupted by Ctrl-C
        # marks the thread as ended while it still runs, so a second join returns at once.
        for record in records:
            record.done.wait(timeout)

    # -- clients -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """boto3 SageMaker client on the embedded moto."""
        self._require_started()
        return self._client

    @property
    def s3(self) -> Any:
        """boto3 S3 client on the embedded S3."""
        self._require_started()
        return self._s3

    @property
    def endpoint_url(self) -> str:
        return self._aws.endpoint_url

    def aws_env(self) -> dict[str, str]:
        """Environment variables pointing an AWS SDK (e.g. a subprocess) at the simulator."""
        return self._aws.env()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in _PIPELINE_OPS:
            return getattr(self.pipelines, name)
        if name in _ENDPOINT_OPS:
            return getattr(self.endpoints, name)
        # Everything else: moto's SageMaker (create_model, create_model_package, …).
        return getattr(self.client, name)

    @property
    def endpoints(self) -> Any:
        """The endpoints of this session (created on first use)."""
        self._require_started()
        if self._endpoints is None:
            from simulator.inference.endpoints import EndpointService

            self._endpoints = EndpointService(self)
        return self._endpoints

    @property
    def pipelines(self) -> Any:
        """The pipeline service (created on first use)."""
        if self._pipelines is None:
            from simulator.pipeline.run.service import PipelineService

            self._pipelines = PipelineService(self)
        return self._pipelines

    # -- training jobs -----------------------------------------------------------------
    def create_training_job(self, **request: Any) -> dict[str, str]:
        """CreateTrainingJob: validate, record InProgress, run in the background."""
        self._require_started()
        request = copy.deepcopy(request)
        training_checks.check_request(request)
        name = request["TrainingJobName"]
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:training-job/{name.lower()}"
        record = self._new_record(
            "training",
            name,
            request,
            training_description.initial_description(request, arn),
            training_checks.validation_view,
        )
        run = training.TrainingRun(record, self._run_context())
        self._start(record, run.run)
        return {"TrainingJobArn": arn}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
        return self._describe("training", TrainingJobName)

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
        self._stop("training", TrainingJobName)
        return {}

    def list_training_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return self._list("training", kwargs)

    def wait_for_training_job(
        self,
        TrainingJobName: str,
        timeout: float | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        """Block until the job ends; returns its final description."""
        return self._wait("training", TrainingJobName, timeout)

    # -- processing jobs ---------------------------------------------------------------
    def create_processing_job(self, **request: Any) -> dict[str, str]:
        """CreateProcessingJob: validate, record InProgress, run in the background."""
        self._require_started()
        request = copy.deepcopy(request)
        processing.check_request(request)
        name = request["ProcessingJobName"]
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:processing-job/{name.lower()}"
        record = self._new_record(
            "processing", name, request, processing.initial_description(request, arn), None
        )
        run = processing.ProcessingRun(record, self._run_context())
        self._start(record, run.run)
        return {"ProcessingJobArn": arn}

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:  # noqa: N803
        return self._describe("processing", ProcessingJobName)

    def stop_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:  # noqa: N803
        self._stop("processing", ProcessingJobName)
        return {}

    def list_processing_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return self._list("processing", kwargs)

    def wait_for_processing_job(
        self,
        ProcessingJobName: str,
        timeout: float | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        """Block until the job ends; returns its final description."""
        return self._wait("processing", ProcessingJobName, timeout)

    # -- transform jobs (#15; a small interim addition until the endpoint's router lands) --
    def create_transform_job(self, **request: Any) -> dict[str, str]:
        """CreateTransformJob: validate, look up the model (CreateModel's, in moto),
        record InProgress, run in the background."""
        self._require_started()
        request = copy.deepcopy(request)
        transform_checks.check_request(request)
        try:
            model = self.client.describe_model(ModelName=request["ModelName"])
        except ClientError as exc:
            raise ValidationError(
                "CreateTransformJob request",
                [
                    Problem(
                        "ModelName",
                        "Could not find model",
                        request["ModelName"],
                        "create it first with CreateModel (a pipeline's ModelStep)",
                    )
                ],
            ) from exc
        name = request["TransformJobName"]
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:transform-job/{name.lower()}"
        record = self._new_record(
            "transform",
            name,
            request,
            transform_description.initial_description(request, arn),
            transform_description.public_view,
        )
        run = transform.TransformRun(record, self._run_context(), model)
        self._start(record, run.run)
        return {"TransformJobArn": arn}

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:  # noqa: N803
        name = self._transform_name(TransformJobName)
        return transform_description.public_view(self._describe("transform", name))

    def stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:  # noqa: N803
        self._stop("transform", self._transform_name(TransformJobName))
        return {}

    def _transform_name(self, name: str) -> str:
        # Job ARNs are lower-cased and the SDK describes a step's job by its ARN's last part.
        with self._lock:
            found = [n for k, n in self._records if k == "transform" and n.lower() == name.lower()]
        return name if name in found or not found else found[0]

    def list_transform_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return self._list("transform", kwargs)

    def wait_for_transform_job(
        self,
        TransformJobName: str,
        timeout: float | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        name = self._transform_name(TransformJobName)
        return transform_description.public_view(self._wait("transform", name, timeout))

    # -- internals -----------------------------------------------------------------------
    def _require_started(self) -> None:
        if not self._started:
            raise SmsimError(
                "LocalSageMaker is not started: use `with LocalSageMaker(...) as sm:` "
                "(or call sm.start() and sm.close())"
            )

    def _run_context(self) -> RunContext:
        return RunContext(
            s3=self._s3,
            aws_env=self._aws.env(),
            images=self.images,
            sink=self.log_sink,
            grace_seconds=self.stop_grace_seconds,
            sync_interval=self.checkpoint_sync_seconds,
            cloudwatch=self._cloudwatch_sink,
        )

    def _cloudwatch_sink(self, group: str, stream: str) -> LineSink:
        """Copy a job's log lines into moto's CloudWatch Logs (``/aws/sagemaker/...Jobs``,
        stream ``<job>/algo-1-<epoch>``): where the SDK's ``logs=True`` and any logs
        client look for them. Written in-process: no HTTP round trip per line."""
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account_id][self.region]
        with self._lock:
            if group not in backend.groups:
                backend.create_log_group(group, tags={})
            backend.create_log_stream(group, stream)

        def sink(line: str) -> None:
            event = {"timestamp": int(time.time() * 1000), "message": line}
            with self._lock:  # moto's log streams are not thread-safe
                backend.put_log_events(group, stream, [event])

        return sink

    def _new_record(
        self,
        kind: str,
        name: str,
        request: dict[str, Any],
        describe: dict[str, Any],
        view: Any,
    ) -> JobRecord:
        directory = job_dir(self.workspace, kind, name)
        with self._lock:
            if self._closing:
                raise SmsimError(
                    f"cannot create job {name!r}: this LocalSageMaker is closing (its jobs are "
                    "being stopped); create jobs before leaving its `with` block"
                )
            # Names are unique per account and region, for ever (SageMaker's ResourceInUse);
            # a job kept in this workspace from an earlier session counts too.
            if (kind, name) in self._records or directory.exists():
                label = kind.capitalize()
                raise ResourceInUse(
                    f"{label} job name {name!r} is already in use"
                    + (f" (its workspace dir {directory} exists)" if directory.exists() else "")
                    + "; choose another name"
                )
            record = JobRecord(
                kind,
                name,
                directory,
                request,
                describe,
                validation_view=view,
                on_change=self._mirror.sync,
            )
            directory.mkdir(parents=True)
            self._records[(kind, name)] = record
        try:
            record.write_request()
            self._mirror.create(record)
            record.update()  # validate + persist the initial description, sync moto
        except BaseException:
            # A create that failed leaves no job behind (as the service): no record
            # InProgress for ever, no name taken by a directory.
            with self._lock:
                self._records.pop((kind, name), None)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return record

    def _start(self, record: JobRecord, target: Any) -> None:
        record.thread = threading.Thread(target=target, name=f"smsim-{record.name}", daemon=True)
        record.thread.start()

    def _record(self, kind: str, name: str) -> JobRecord:
        with self._lock:
            record = self._records.get((kind, name))
            names = [] if record else sorted(n for k, n in self._records if k == kind)
        if record is None:
            raise ResourceNotFound(
                f"Could not find {kind} job {name!r} (jobs of this session: {names})"
            )
        return record

    def _describe(self, kind: str, name: str) -> dict[str, Any]:
        """This session's job, else the description an earlier session stored in the
        workspace: names stay taken there (ResourceInUse), so they stay describable too,
        as on the service."""
        try:
            return self._record(kind, name).snapshot()
        except ResourceNotFound:
            stored = job_dir(self.workspace, kind, name) / "describe.json"
            if not stored.is_file():
                raise
            return from_json_times(json.loads(stored.read_text()))

    def _stop(self, kind: str, name: str) -> None:
        self._record(kind, name).request_stop()

    def _wait(self, kind: str, name: str, timeout: float | None) -> dict[str, Any]:
        record = self._record(kind, name)
        if not record.done.wait(timeout):
            raise TimeoutError(f"{kind} job {name!r} still {record.status} after {timeout} s")
        return record.snapshot()

    def _list(self, kind: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        prefix = kind.capitalize()
        with self._lock:  # jobs may be created meanwhile (a pipeline's threads)
            records = [r for (k, _), r in self._records.items() if k == kind]
        items = []
        for record in records:
            d = record.snapshot()
            summary = {
                f"{prefix}JobName": d[f"{prefix}JobName"],
                f"{prefix}JobArn": d[f"{prefix}JobArn"],
                "CreationTime": d["CreationTime"],
                "LastModifiedTime": d["LastModifiedTime"],
                f"{prefix}JobStatus": d[f"{prefix}JobStatus"],
            }
            end = d.get(f"{prefix}EndTime")
            if end is not None:
                summary[f"{prefix}EndTime"] = end
            if kind in ("processing", "transform") and "FailureReason" in d:
                summary["FailureReason"] = d["FailureReason"]
            if kind == "training":
                summary["SecondaryStatus"] = d["SecondaryStatus"]
            items.append(summary)
        status = kwargs.get("StatusEquals")
        if status:
            items = [i for i in items if i[f"{prefix}JobStatus"] == status]
        contains = kwargs.get("NameContains")
        if contains:
            items = [i for i in items if contains in i[f"{prefix}JobName"]]
        reverse = kwargs.get("SortOrder", "Descending") == "Descending"
        items.sort(key=lambda i: i["CreationTime"], reverse=reverse)
        if kwargs.get("MaxResults"):
            items = items[: int(kwargs["MaxResults"])]
        return {f"{prefix}JobSummaries": items}

    def stored_descriptions(self, kind: str = "training") -> dict[str, dict[str, Any]]:
        """Descriptions kept in the workspace (this and earlier sessions), by job name."""
        return load_descriptions(self.workspace, kind)


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (a test helper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
