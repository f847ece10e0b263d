"""One processing job, from a CreateProcessingJob request to a complete DescribeProcessingJob.

SageMaker's rules followed:
* each ProcessingInput's S3 data is staged at its LocalPath (``/opt/ml/processing/...``,
  mapped to the host dir); S3Prefix semantics as for training channels; Gzip
  compression decompressed on the way in;
* ``/opt/ml/config/processingjobconfig.json`` and ``resourceconfig.json`` are written;
* the container runs ContainerEntrypoint + ContainerArguments (``python``/``python3``
  as the image's interpreter) with the host tree as ``/opt/ml`` (the host launcher's
  namespace or fallback mode, ``hosts/local.py``);
* each output's LocalPath contents are uploaded directly under S3Output.S3Uri at
  the end (EndOfJob) or as files settle (Continuous) — also when the job fails;
* ``/opt/ml/output/message`` becomes ExitMessage; a non-zero exit → Failed with
  ExitMessage (that file, else the failure file or exit code + stderr tail)
  and FailureReason ``AlgorithmError: …``.
"""

from __future__ import annotations

import copy
import gzip
import os
import shutil
from pathlib import Path
from typing import Any

from simulator.errors import Problem, SmsimError, UnsupportedFeature, ValidationError
from simulator.hosts import requirements
from simulator.hosts.layout import (
    base_env,
    clip,
    container_argv,
    failure_reason,
    map_container_path,
    write_processing_config,
)
from simulator.jobs.records import JobRecord, now
from simulator.jobs.runner import JobRun, RunContext
from simulator.s3 import (
    DirSync,
    S3Error,
    download_prefix,
    finish_all,
    parse_s3_uri,
    s3_uri_problems,
)
from simulator.shapes import validate_request

PROCESSING_ROOT = "/opt/ml/processing"


def check_request(request: dict[str, Any]) -> None:
    """Validate a CreateProcessingJob request; raise ValidationError / UnsupportedFeature."""
    validate_request("CreateProcessingJob", request)
    problems: list[Problem] = []
    local_paths: dict[str, str] = {}
    for i, item in enumerate(request.get("ProcessingInputs", [])):
        where = f"ProcessingInputs[{i}]"
        s3 = item.get("S3Input")
        if s3 is None:
            raise UnsupportedFeature(
                f"{where} ({item.get('InputName')}): only S3Input is supported "
                "(DatasetDefinition needs Athena/Redshift)"
            )
        problems += s3_uri_problems(s3.get("S3Uri"), f"{where}.S3Input.S3Uri")
        problems += _local_path_problems(
            s3.get("LocalPath"), f"{where}.S3Input.LocalPath", local_paths
        )
        if s3.get("S3DataType") != "S3Prefix":
            raise UnsupportedFeature(
                f"{where}.S3Input.S3DataType {s3.get('S3DataType')!r} is not supported; "
                "use 'S3Prefix'"
            )
        if s3.get("S3InputMode", "File") != "File":
            raise UnsupportedFeature(
                f"{where}.S3Input.S3InputMode 'Pipe' is not supported; use 'File'"
            )
        dist = s3.get("S3DataDistributionType", "FullyReplicated")
        if dist != "FullyReplicated":
            raise UnsupportedFeature(
                f"{where}.S3Input.S3DataDistributionType {dist!r} is not supported; "
                "use 'FullyReplicated'"
            )
    names = [i.get("InputName") for i in request.get("ProcessingInputs", [])]
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    names += [o.get("OutputName") for o in outputs]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem(
                "ProcessingInputs/Outputs",
                "duplicate input/output name",
                dup,
                "give every input and output a unique name",
            )
        )
    for i, item in enumerate(outputs):
        where = f"ProcessingOutputConfig.Outputs[{i}]"
        s3 = item.get("S3Output")
        if s3 is None:
            raise UnsupportedFeature(
                f"{where} ({item.get('OutputName')}): only S3Output is supported "
                "(not FeatureStoreOutput)"
            )
        problems += s3_uri_problems(s3.get("S3Uri"), f"{where}.S3Output.S3Uri")
        local = s3.get("LocalPath")
        if not isinstance(local, str) or not local.startswith("/"):
            problems.append(
                Problem(
                    f"{where}.S3Output.LocalPath",
                    "must be an absolute path",
                    local,
                    f"use e.g. {PROCESSING_ROOT}/output/{item.get('OutputName')}",
                )
            )
        elif map_container_path(local, Path("/")) is None:
            # The service takes any absolute path here; without a container smsim can
            # only give the job directories under /opt/ml (its host dir).
            raise UnsupportedFeature(
                f"{where}.S3Output.LocalPath {local!r} is outside /opt/ml: smsim maps only "
                f"/opt/ml paths to the job's host dir; use e.g. {PROCESSING_ROOT}/output/"
                f"{item.get('OutputName')}"
            )
    cluster = request["ProcessingResources"]["ClusterConfig"]
    if int(cluster.get("InstanceCount", 1)) != 1:
        raise UnsupportedFeature(
            f"ProcessingResources.ClusterConfig.InstanceCount is {cluster.get('InstanceCount')}: "
            "smsim runs one instance (algo-1) per job; set it to 1"
        )
    if not request["AppSpecification"].get("ContainerEntrypoint"):
        raise UnsupportedFeature(
            "AppSpecification.ContainerEntrypoint is missing: smsim cannot run an image's built-in "
            "entry point; give e.g. ['python3', '/opt/ml/processing/input/code/script.py']"
        )
    if problems:
        raise ValidationError("CreateProcessingJob request", problems)


def _local_path_problems(path: Any, where: str, seen: dict[str, str]) -> list[Problem]:
    """SageMaker's rule for an input's LocalPath: absolute, beginning with /opt/ml/processing/
    (botocore's documentation of ProcessingS3Input.LocalPath), used by one input only."""
    norm = os.path.normpath(path) if isinstance(path, str) else ""
    if not norm.startswith(PROCESSING_ROOT + "/"):
        return [
            Problem(
                where,
                f"must be an absolute path beginning with {PROCESSING_ROOT}/",
                path,
                f"use e.g. {PROCESSING_ROOT}/input/data",
            )
        ]
    if norm in seen:
        return [
            Problem(
                where,
                f"LocalPath already used by {seen[norm]}",
                path,
                "give each input its own path",
            )
        ]
    seen[norm] = where
    return []


def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    t = now()
    desc: dict[str, Any] = {
        "ProcessingJobName": request["ProcessingJobName"],
        "ProcessingResources": copy.deepcopy(request["ProcessingResources"]),
        "AppSpecification": copy.deepcopy(request["AppSpecification"]),
        "RoleArn": request["RoleArn"],
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "InProgress",
        "CreationTime": t,
        "LastModifiedTime": t,
        "StoppingCondition": copy.deepcopy(
            request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        ),
    }
    inputs = copy.deepcopy(request.get("ProcessingInputs", []))
    for item in inputs:
        # The service echoes the defaults it applied.
        s3 = item.get("S3Input", {})
        s3.setdefault("S3InputMode", "File")
        s3.setdefault("S3DataDistributionType", "FullyReplicated")
        s3.setdefault("S3CompressionType", "None")
        item.setdefault("AppManaged", False)
    if inputs:
        desc["ProcessingInputs"] = inputs
    if "ProcessingOutputConfig" in request:
        out = copy.deepcopy(request["ProcessingOutputConfig"])
        for item in out.get("Outputs", []):
            item.get("S3Output", {}).setdefault("S3UploadMode", "EndOfJob")
            item.setdefault("AppManaged", False)
        desc["ProcessingOutputConfig"] = out
    for key in ("Environment", "NetworkConfig", "ExperimentConfig"):
        if key in request:
            desc[key] = copy.deepcopy(request[key])
    return desc


class ProcessingRun(JobRun):
    """Executes one recorded processing job (call ``run`` in a thread)."""

    log_group = "/aws/sagemaker/ProcessingJobs"

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        super().__init__(record, ctx)
        self.syncs: list[tuple[Path, Any, DirSync | None]] = []

    def _crash(self, reason: str) -> None:
        self._end("Failed", failure=reason)

    def _run(self) -> None:
        rec = self.record
        rec.update(ProcessingStartTime=now())
        if rec.stop_event.is_set():
            return self._end("Stopped")
        app = self.request["AppSpecification"]
        try:
            arn = rec.snapshot()["ProcessingJobArn"]
            write_processing_config(self.layout, self.request, arn)
            self._stage_inputs()
            self._prepare_outputs()
            interpreter = self.ctx.images.interpreter(app.get("ImageUri"))
            self._check_requirements(interpreter, app.get("ImageUri"))
        except (S3Error, SmsimError, OSError) as exc:
            return self._end("Failed", failure=f"ClientError: {exc}")
        argv = container_argv(
            app["ContainerEntrypoint"], app.get("ContainerArguments", []), interpreter
        )
        env = base_env(self.ctx.aws_env, interpreter, None, self.host)
        # Documented as platform-provided for processing scripts (simulator/alignment/platform.py).
        env["PROCESSING_JOB_NAME"] = self.name
        env.update({k: str(v) for k, v in self.request.get("Environment", {}).items()})
        for _, _, sync in self.syncs:
            if sync is not None:
                sync.start()
        (self.layout.root / "processing").mkdir(parents=True, exist_ok=True)
        result = self.execute(argv, self.view.root / "processing", env)
        if result.stop_reason == "MaxRuntimeExceeded":
            limit = self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
            return self._end("Stopped", exit_message=f"MaxRuntimeInSeconds ({limit}) exceeded")
        if result.stop_reason:
            return self._end("Stopped")
        if result.exit_code != 0:
            message = self._exit_message() or failure_reason(
                self.layout, result.exit_code, result.stderr_tail, argv
            )
            return self._end(
                "Failed",
                failure="AlgorithmError: See job logs for more information "
                f"(exit code {result.exit_code})",
                exit_message=message,
            )
        self._end("Completed", exit_message=self._exit_message())

    def _check_requirements(self, interpreter: str, image: str | None) -> None:
        """A FrameworkProcessor's runproc.sh pip-installs the requirements.txt of its
        sourcedir.tar.gz; smsim checks the image's interpreter has them (offline)."""
        scratch = self.record.dir / "requirements"
        for archive, path in requirements.staged_sourcedir_requirements(self.layout.root, scratch):
            result = requirements.check(path, interpreter)
            inside = self.view.root / archive.relative_to(self.layout.root)
            where = f"the requirements.txt of {inside}"
            if not result.ok:
                raise SmsimError(
                    requirements.failure_message(
                        where, interpreter, image, self.ctx.images.source, result.detail
                    )
                )
            self.log(f"{where}: {result.detail}")

    def _exit_message(self) -> str | None:
        """The container's /opt/ml/output/message (SageMaker's ExitMessage, up to 1 KB)."""
        path = self.layout.output_dir / "message"
        if path.is_file():
            text = path.read_text(errors="replace").strip()
            return text[:1024] or None
        return None

    def _stage_inputs(self) -> None:
        for item in self.request.get("ProcessingInputs", []):
            s3 = item["S3Input"]
            dest = self.layout.host_path(s3["LocalPath"], f"{item['InputName']}.S3Input.LocalPath")
            files = download_prefix(self.ctx.s3, parse_s3_uri(s3["S3Uri"]), dest)
            if s3.get("S3CompressionType", "None") == "Gzip":
                # The service takes Gzip only with S3InputMode Pipe (botocore's doc of
                # S3CompressionType), which smsim does not simulate: the files are
                # decompressed in place instead, and the user is told.
                self.log(
                    f"warning: {item['InputName']}: S3CompressionType 'Gzip' is accepted by "
                    "SageMaker only with S3InputMode 'Pipe'; files decompressed in File mode"
                )
                files = [_gunzip(f) for f in files]
            self.log(f"input {item['InputName']!r}: {len(files)} file(s) at {s3['LocalPath']}")

    def _prepare_outputs(self) -> None:
        for item in self.request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            s3 = item["S3Output"]
            local = self.layout.host_path(
                s3["LocalPath"], f"{item['OutputName']}.S3Output.LocalPath"
            )
            local.mkdir(parents=True, exist_ok=True)
            uri = parse_s3_uri(s3["S3Uri"])
            continuous = s3.get("S3UploadMode", "EndOfJob") == "Continuous"
            sync = DirSync(self.ctx.s3, local, uri, self.ctx.sync_interval) if continuous else None
            self.syncs.append((local, uri, sync))

    def _upload_outputs(self) -> None:
        # EndOfJob outputs get a one-off sync: finish() of a sync never started uploads all.
        finish_all([sync or DirSync(self.ctx.s3, local, uri) for local, uri, sync in self.syncs])
        for local, uri, _ in self.syncs:
            self.log(f"uploaded {local.relative_to(self.layout.root)} → {uri}")

    def _end(
        self, status: str, failure: str | None = None, exit_message: str | None = None
    ) -> None:
        try:
            # Outputs are uploaded even when the job failed or was stopped.
            self._upload_outputs()
        except Exception as exc:  # noqa: BLE001
            self.log(f"output upload failed: {exc}")
            if status == "Completed":
                status, failure = "Failed", f"ClientError: uploading outputs failed: {exc}"
        fields: dict[str, Any] = {"ProcessingJobStatus": status, "ProcessingEndTime": now()}
        if failure:
            fields["FailureReason"] = clip(failure)
            self.log("failed: " + failure.splitlines()[0])
        if exit_message:
            fields["ExitMessage"] = clip(exit_message)
        self.record.update(**fields)


def _gunzip(path: Path) -> Path:
    """S3CompressionType Gzip: SageMaker decompresses each object on the way in."""
    target = path.with_suffix("") if path.suffix == ".gz" else path.with_name(path.name + ".out")
    with gzip.open(path, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    path.unlink()
    if target.name.endswith(".out"):
        target = target.rename(path)
    return target
