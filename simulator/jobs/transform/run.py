"""One batch transform job, from CreateTransformJob to a complete DescribeTransformJob.

SageMaker's rules followed:
* the model is CreateModel's ``PrimaryContainer`` served by one model server
  (``simulator.inference.server``) on the job's host tree; the job's ``Environment``
  is added to the container's, with the variables the service sets for batch
  (``SAGEMAKER_BATCH``, ``SAGEMAKER_MAX_PAYLOAD_IN_MB``, ``SAGEMAKER_BATCH_STRATEGY``,
  ``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS``);
* inputs: every object under an S3Prefix, or the objects a ManifestFile lists
  (``[{"prefix": "s3://…/"}, "rel/key", …]``); Gzip objects are decompressed;
* each object is split and batched (``simulator.inference.batching``), requests go out
  ``MaxConcurrentTransforms`` at a time with ``ContentType`` and ``Accept``, and the
  answers are assembled in record order into ``<S3OutputPath>/<key relative to the
  input prefix>.out``; DataProcessing filters and joins record by record;
* a request the server fails ends the job Failed; its FailureReason has the server's
  status and message and the record that caused it (a failing MultiRecord batch is
  retried record by record to find it). An output object is uploaded only once it is
  complete: a failed object has no ``.out``, never a partial one.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from simulator.errors import Problem, SmsimError, ValidationError
from simulator.hosts.layout import HOST_NAME, clip
from simulator.inference.batching import (
    Batch,
    SplitError,
    assemble,
    batches,
    response_lines,
    split_records,
)
from simulator.inference.dataprocessing import DataProcessing, DataProcessingError
from simulator.inference.server import Invocation, ModelServer, ModelServerError
from simulator.jobs.records import JobRecord, now
from simulator.jobs.runner import JobRun, RunContext
from simulator.jobs.sources import manifest_objects
from simulator.s3 import S3Error, S3Uri, list_keys, parse_s3_uri, upload_file

DEFAULT_INVOCATION_TIMEOUT = 600.0  # ModelClientConfig.InvocationsTimeoutInSeconds default


class RecordError(SmsimError):
    """A record the model server failed (the job's FailureReason)."""


@dataclass(frozen=True)
class _Planned:
    """One input object's records and the requests they go in."""

    uri: S3Uri
    records: list[bytes]
    plan: list[Batch]


class TransformRun(JobRun):
    """Executes one recorded transform job (call ``run`` in a thread)."""

    log_group = "/aws/sagemaker/TransformJobs"
    # Its hosts are model servers this simulator sends requests to: always this machine's
    # (the Ray backend runs training and processing hosts only).
    remote_hosts = False

    def __init__(
        self, record: JobRecord, ctx: RunContext, model: dict[str, Any] | None = None
    ) -> None:
        super().__init__(record, ctx)
        self.model = model
        desc = record.snapshot()
        self.desc = desc
        self.split = desc["TransformInput"]["SplitType"]
        self.content_type = desc["TransformInput"].get("ContentType")
        self.accept = desc["TransformOutput"].get("Accept")
        self.assemble_with = desc["TransformOutput"]["AssembleWith"]
        self.strategy = desc["BatchStrategy"]
        self.max_payload = int(desc["MaxPayloadInMB"])
        self.concurrency = int(desc["MaxConcurrentTransforms"])
        self.processing = DataProcessing.from_request(desc.get("DataProcessing"))
        client = desc.get("ModelClientConfig", {})
        self.timeout = float(client.get("InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT))
        self.server: ModelServer | None = None

    def _crash(self, reason: str) -> None:
        self._end("Failed", reason)

    def _run(self) -> None:
        self.record.update(TransformStartTime=now())
        try:
            if self.model is None:  # CreateTransformJob's DescribeModel, unless resumed
                self.model = transform_model(_sagemaker_client(self.ctx.aws_env), self.request)
            # The server process starts first: its own imports overlap the input listing
            # and the model's download; the first object is read and split while the model
            # loads (its errors come after the server's, as when done one after the other).
            server = self._launch_server()
            objects = self._input_objects()
            server.prepare()
            self.log(f"starting the model server for model {self.desc['ModelName']!r}")
            server.release()
            try:
                first: _Planned | Exception | None = self._plan(objects[0][0]) if objects else None
            except Exception as exc:  # noqa: BLE001 - re-raised once the server is up
                first = exc
            server.wait_ready()
            if isinstance(first, Exception):
                raise first
            out_root = parse_s3_uri(self.desc["TransformOutput"]["S3OutputPath"])
            for index, (uri, relative) in enumerate(objects):
                if self.record.stop_event.is_set():
                    return self._end("Stopped")
                planned = first if index == 0 and first is not None else self._plan(uri)
                self._transform_object(planned, out_root.join(relative + ".out"))
        except RecordError as exc:
            if self.record.stop_event.is_set():
                return self._end("Stopped")  # StopTransformJob while records were sent
            return self._end("Failed", f"AlgorithmError: {exc}")
        except (ModelServerError, SplitError, DataProcessingError) as exc:
            return self._end("Failed", f"AlgorithmError: {exc}")
        except (S3Error, SmsimError, OSError) as exc:
            return self._end("Failed", f"ClientError: {exc}")
        self._end("Completed")

    def _teardown(self) -> None:
        # A transform job is Completed once its output is in S3 (TransformEndTime); its
        # instance is torn down after, off the job's time. The run's ``done`` (which the
        # simulator's close waits for) is set once the server has exited.
        if self.server is not None:
            self.server.stop()

    # -- inputs -----------------------------------------------------------------------
    def _input_objects(self) -> list[tuple[S3Uri, str]]:
        """(object URI, its key relative to the input prefix) of every input object."""
        source = self.desc["TransformInput"]["DataSource"]["S3DataSource"]
        uri = parse_s3_uri(source["S3Uri"])
        if source["S3DataType"] == "ManifestFile":
            return self._manifest_objects(uri)
        keys = [k for k, _ in list_keys(self.ctx.s3, uri) if not k.endswith("/")]
        if not keys:
            raise S3Error(f'No S3 objects found under S3 URL "{uri}" given in TransformInput')
        return [(S3Uri(uri.bucket, k), _relative(uri.key, k)) for k in sorted(keys)]

    def _manifest_objects(self, uri: S3Uri) -> list[tuple[S3Uri, str]]:
        # The manifest format is the channels' (S3DataSource.S3Uri's doc): one parser.
        objects = manifest_objects(self.ctx.s3, uri)
        return [(o.uri, o.relative) for o in objects if o.uri is not None]

    def _read(self, uri: S3Uri) -> bytes:
        data = self.ctx.s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
        if self.desc["TransformInput"]["CompressionType"] == "Gzip":
            data = gzip.decompress(data)
        return bytes(data)

    # -- the server -------------------------------------------------------------------
    def _launch_server(self) -> ModelServer:
        """The model server of the job's model, launched (held until ``release``)."""
        assert self.model is not None
        container = self.model.get("PrimaryContainer") or (self.model.get("Containers") or [{}])[0]
        env = {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(self.max_payload),
            "SAGEMAKER_BATCH_STRATEGY": self.strategy,
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(self.concurrency),
            **{k: str(v) for k, v in self.desc.get("Environment", {}).items()},
        }
        stream = f"{self.prefix}-{int(now().timestamp())}"
        cloudwatch = self.ctx.cloudwatch(self.log_group, stream) if self.ctx.cloudwatch else None

        def sink(line: str) -> None:
            self.ctx.sink(line)
            if cloudwatch is not None:
                cloudwatch(line.split("] ", 1)[-1])

        server = ModelServer(
            self.record.dir / "hosts" / HOST_NAME,
            container,
            s3=self.ctx.s3,
            aws_env=self.ctx.aws_env,
            images=self.ctx.images,
            sink=sink,
            prefix=self.prefix,
            log_dir=self.record.dir / "logs",
            environment=env,
            concurrency=self.concurrency,
            launcher=self.launcher,  # the job's container mode (namespace or fallback)
        )
        self.server = server  # stopped by _teardown even if it fails to start
        server.launch()
        return server

    # -- one object -------------------------------------------------------------------
    def _plan(self, uri: S3Uri) -> _Planned:
        """One input object read, split into records, filtered and batched."""
        records = split_records(self._read(uri), self.split)
        if self.processing.active:
            # Filtered records stay lines: the batch body joins them with their newlines.
            filtered = [
                self.processing.filter_input(r, self.content_type).rstrip(b"\r\n") + b"\n"
                for r in records
            ]
        else:
            filtered = records
        return _Planned(uri, records, list(batches(filtered, self.strategy, self.max_payload)))

    def _transform_object(self, planned: _Planned, target: S3Uri) -> None:
        uri, records, plan = planned.uri, planned.records, planned.plan
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            answers = list(pool.map(lambda b: (b, self._invoke(b, uri)), plan))
        local = self.record.dir / "output" / (target.key.replace("/", "__"))
        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "wb") as out:
            for batch, answer in answers:
                out.write(self._output(batch, answer.body, records, uri))
        upload_file(self.ctx.s3, local, target)  # whole or absent
        self.log(f"{uri}: {len(records)} record(s) in {len(plan)} request(s) → {target}")

    def _invoke(self, batch: Batch, uri: S3Uri) -> Invocation:
        if self.record.stop_event.is_set():
            raise RecordError("the job was stopped")
        assert self.server is not None
        answer = self.server.invoke(
            batch.body, self.content_type, self.accept, timeout=self.timeout
        )
        if answer.ok:
            return answer
        last = batch.first + len(batch.records) - 1
        records = (
            f"record {batch.first}"
            if len(batch.records) == 1
            else (
                f"records {batch.first}-{last}"  # if no record fails alone
            )
        )
        if len(batch.records) > 1:
            # Which record? Each alone, in order, until one fails as the batch did.
            for offset, record in enumerate(batch.records):
                single = self.server.invoke(
                    record, self.content_type, self.accept, timeout=self.timeout
                )
                if not single.ok:
                    records, answer = f"record {batch.first + offset}", single
                    break
        message = answer.body.decode("utf-8", errors="replace").strip().splitlines()
        first = message[0] if message else "(empty body)"
        raise RecordError(
            clip(
                f"the model server answered {answer.status} to {records} of {uri} "
                f"({self._unit()}): {first}. See the job logs for the traceback"
            )
        )

    def _unit(self) -> str:
        return {"Line": "line", "RecordIO": "RecordIO frame", "None": "whole object"}[self.split]

    def _output(self, batch: Batch, body: bytes, records: list[bytes], uri: S3Uri) -> bytes:
        if not self.processing.active:
            return assemble(body, self.assemble_with)
        lines = response_lines(body)
        if len(lines) != len(batch.records):
            raise DataProcessingError(
                f"{uri}: {len(batch.records)} record(s) from line {batch.first} got "
                f"{len(lines)} prediction line(s); to join predictions with records the "
                "model must answer one line per record (and AssembleWith should be Line)"
            )
        joined = [
            self.processing.output(
                records[batch.first - 1 + i], line, self.content_type, self.accept
            )
            for i, line in enumerate(lines)
        ]
        return b"".join(assemble(j, "Line") for j in joined)

    # -- the end ----------------------------------------------------------------------
    def _end(self, status: str, failure: str | None = None) -> None:
        fields: dict[str, Any] = {"TransformJobStatus": status, "TransformEndTime": now()}
        if failure:
            fields["FailureReason"] = clip(failure)
            self.log("failed: " + failure.splitlines()[0])
        self.record.update(**fields)


def transform_model(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """DescribeModel of the job's ModelName (CreateModel's, kept by moto); the service's
    ValidationException "Could not find model" for an unknown one."""
    from botocore.exceptions import ClientError

    name = request.get("ModelName")
    try:
        return dict(client.describe_model(ModelName=name))
    except ClientError as exc:
        raise ValidationError(
            "CreateTransformJob request",
            [
                Problem(
                    "ModelName",
                    "Could not find model",
                    name,
                    "create it first with CreateModel (a pipeline's ModelStep)",
                )
            ],
        ) from exc


def _sagemaker_client(aws_env: dict[str, str]) -> Any:
    """A SageMaker client on the simulator's endpoint (DescribeModel goes on to moto)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=aws_env.get("AWS_SESSION_TOKEN"),
        region_name=aws_env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    return session.client("sagemaker", endpoint_url=aws_env["AWS_ENDPOINT_URL"])


def _relative(prefix: str, key: str) -> str:
    """An object's key relative to the input S3Prefix (its output name before ``.out``)."""
    rest = key[len(prefix) :]
    if not rest:
        return PurePosixPath(key).name  # the prefix is the object itself
    if prefix.endswith("/") or rest.startswith("/"):
        return rest.lstrip("/")
    # The prefix ends inside a name (``in/da`` matching ``in/data.csv``): keep the name.
    return key[len(prefix.rsplit("/", 1)[0]) :].lstrip("/") if "/" in prefix else key
