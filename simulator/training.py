"""One training job, from a CreateTrainingJob request to a complete DescribeTrainingJob.

``check_request`` refuses a bad or unsupported request before anything runs;
``initial_description`` is the InProgress description recorded at create;
``TrainingRun.run`` (a background thread) stages the host tree, runs the entry
point, uploads artifacts and moves the record through SageMaker's statuses:

    Starting → Downloading → Training → Uploading → Completed
                                       ↘ Stopping → Stopped | MaxRuntimeExceeded
                                       ↘ Failed
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.container import (
    HostLayout,
    base_env,
    clip,
    container_argv,
    decode_hyperparameters,
    failure_reason,
    training_environment,
    write_training_config,
)
from simulator.errors import Problem, SmsimError, UnsupportedFeature, ValidationError
from simulator.images import ImageMap
from simulator.process import MAX_METRICS, LineSink, MetricParser, run_process
from simulator.s3 import (
    DirSync,
    S3Error,
    S3Uri,
    download_object,
    download_prefix,
    list_keys,
    pack_tar_gz,
    parse_s3_uri,
    s3_uri_problems,
    unpack_tar_gz,
    upload_file,
)
from simulator.shapes import output_shape, validate_request
from simulator.workspace import JobRecord, now

DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"
# Request members that are SageMaker service features with no local effect, echoed in
# the description as given (network isolation, encryption, debugger/profiler configs).
_DESCRIBE_MEMBERS = set(output_shape("DescribeTrainingJob").members)


# -- request checks ----------------------------------------------------------------------
def check_request(request: dict[str, Any]) -> None:
    """Validate a CreateTrainingJob request; raise ValidationError / UnsupportedFeature."""
    validate_request("CreateTrainingJob", _validation_view(request))
    problems: list[Problem] = []
    out = request["OutputDataConfig"]
    problems += s3_uri_problems(out.get("S3OutputPath"), "OutputDataConfig.S3OutputPath")
    if "TensorBoardOutputConfig" in request:
        problems += s3_uri_problems(
            request["TensorBoardOutputConfig"].get("S3OutputPath"),
            "TensorBoardOutputConfig.S3OutputPath",
        )
    if "CheckpointConfig" in request:
        problems += s3_uri_problems(
            request["CheckpointConfig"].get("S3Uri"), "CheckpointConfig.S3Uri"
        )
    algo = request.get("AlgorithmSpecification", {})
    names = [c["ChannelName"] for c in request.get("InputDataConfig", [])]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem("InputDataConfig", "duplicate ChannelName", dup, "name each channel once")
        )
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        where = f"InputDataConfig[{i}]"
        source = channel.get("DataSource", {})
        if "S3DataSource" in source:
            problems += s3_uri_problems(
                source["S3DataSource"].get("S3Uri"), f"{where}.DataSource.S3DataSource.S3Uri"
            )
        elif "FileDataSource" in source:
            uri = source["FileDataSource"].get("FileUri", "")
            local = _file_uri_path(uri)
            if local is None or not local.exists():
                problems.append(
                    Problem(
                        f"{where}.DataSource.FileDataSource.FileUri",
                        "not an existing local path",
                        uri,
                        "use file:///absolute/path/to/dir",
                    )
                )
    for i, metric in enumerate(algo.get("MetricDefinitions", [])):
        try:
            re.compile(metric.get("Regex", ""))
        except re.error as exc:
            problems.append(
                Problem(
                    f"AlgorithmSpecification.MetricDefinitions[{i}].Regex",
                    f"not a valid regular expression ({exc})",
                    metric.get("Regex"),
                    "capture the value in the first group, e.g. 'loss=([0-9\\.]+)'",
                )
            )
    hps = request.get("HyperParameters", {})
    submit = decode_hyperparameters(
        {k: v for k, v in hps.items() if k == "sagemaker_submit_directory"}
    )
    submit_dir = submit.get("sagemaker_submit_directory")
    if isinstance(submit_dir, str) and submit_dir.startswith("s3://"):
        problems += s3_uri_problems(submit_dir, "HyperParameters.sagemaker_submit_directory")
    if problems:
        raise ValidationError("CreateTrainingJob request", problems)
    _check_supported(request, algo)


def _check_supported(request: dict[str, Any], algo: dict[str, Any]) -> None:
    """Refuse, by name, every feature smsim would otherwise silently get wrong."""
    if algo.get("AlgorithmName"):
        raise UnsupportedFeature(
            "AlgorithmSpecification.AlgorithmName: marketplace/built-in algorithms need their "
            "container; give TrainingImage with a script (sagemaker_program) instead"
        )
    if algo.get("TrainingInputMode") == "Pipe":
        raise UnsupportedFeature(
            "AlgorithmSpecification.TrainingInputMode 'Pipe' is not supported: smsim stages "
            "channels as files; use 'File' (or 'FastFile', read as File)"
        )
    res = request.get("ResourceConfig", {})
    if res.get("InstanceGroups"):
        raise UnsupportedFeature(
            "ResourceConfig.InstanceGroups (heterogeneous clusters) is not supported; "
            "use InstanceType and InstanceCount 1"
        )
    if int(res.get("InstanceCount", 1)) != 1:
        raise UnsupportedFeature(
            f"ResourceConfig.InstanceCount is {res.get('InstanceCount')}: smsim runs one "
            "instance (algo-1) per job; set InstanceCount to 1"
        )
    if request["OutputDataConfig"].get("CompressionType") == "NONE":
        raise UnsupportedFeature(
            "OutputDataConfig.CompressionType 'NONE' is not supported; omit it (GZIP)"
        )
    for i, channel in enumerate(request.get("InputDataConfig", [])):
        where = f"InputDataConfig[{i}] ({channel.get('ChannelName')})"
        if channel.get("InputMode") == "Pipe":
            raise UnsupportedFeature(f"{where}.InputMode 'Pipe' is not supported; use 'File'")
        if channel.get("CompressionType", "None") != "None":
            raise UnsupportedFeature(f"{where}.CompressionType: only 'None' is supported")
        if channel.get("ShuffleConfig"):
            raise UnsupportedFeature(f"{where}.ShuffleConfig applies to Pipe mode only; remove it")
        source = channel.get("DataSource", {})
        if "S3DataSource" in source:
            s3 = source["S3DataSource"]
            if s3.get("S3DataType") != "S3Prefix":
                raise UnsupportedFeature(
                    f"{where}.DataSource.S3DataSource.S3DataType {s3.get('S3DataType')!r} is not "
                    "supported; use 'S3Prefix'"
                )
            dist = s3.get("S3DataDistributionType", "FullyReplicated")
            if dist != "FullyReplicated":
                raise UnsupportedFeature(
                    f"{where}.DataSource.S3DataSource.S3DataDistributionType {dist!r} is not "
                    "supported; use 'FullyReplicated'"
                )
        elif "FileDataSource" not in source:
            raise UnsupportedFeature(
                f"{where}.DataSource: only S3DataSource (S3Prefix) and FileDataSource (file://) "
                "are supported"
            )
    entrypoint = algo.get("ContainerEntrypoint")
    hps = decode_hyperparameters(request.get("HyperParameters", {}))
    if not entrypoint and not hps.get("sagemaker_program"):
        raise UnsupportedFeature(
            "no entry point: set the 'sagemaker_program' hyperparameter (with "
            "'sagemaker_submit_directory') or AlgorithmSpecification.ContainerEntrypoint; "
            "smsim cannot run an image's built-in entry point"
        )
    if not entrypoint and not hps.get("sagemaker_submit_directory"):
        raise UnsupportedFeature(
            "'sagemaker_submit_directory' is missing: without a container image smsim has no "
            "code baked into /opt/ml/code; give the source dir (local path or S3 sourcedir.tar.gz)"
        )
    if len(algo.get("MetricDefinitions", [])) > MAX_METRICS:
        raise ValidationError(
            "CreateTrainingJob request",
            [
                Problem(
                    "AlgorithmSpecification.MetricDefinitions", f"more than {MAX_METRICS} metrics"
                )
            ],
        )


def _validation_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as botocore sees it: FileDataSource (the SDK's local-mode channel
    source, absent from the service model) taken out of each channel's DataSource."""
    if not any("FileDataSource" in c.get("DataSource", {}) for c in doc.get("InputDataConfig", [])):
        return doc
    view = copy.deepcopy(doc)
    for channel in view.get("InputDataConfig", []):
        channel.get("DataSource", {}).pop("FileDataSource", None)
    return view


def _file_uri_path(uri: str) -> Path | None:
    if not isinstance(uri, str):
        return None
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    return None


# -- description ----------------------------------------------------------------------------
def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    """The InProgress/Starting description recorded the moment the job is created."""
    t = now()
    out_path = S3Uri(*_split(request["OutputDataConfig"]["S3OutputPath"]))
    name = request["TrainingJobName"]
    desc: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn,
        "ModelArtifacts": {"S3ModelArtifacts": str(out_path.join(name, "output", "model.tar.gz"))},
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "HyperParameters": dict(request.get("HyperParameters", {})),
        "AlgorithmSpecification": copy.deepcopy(request.get("AlgorithmSpecification", {})),
        "RoleArn": request["RoleArn"],
        "OutputDataConfig": {
            "CompressionType": "GZIP",
            "KmsKeyId": "",
            **request["OutputDataConfig"],
        },
        "ResourceConfig": copy.deepcopy(request.get("ResourceConfig", {})),
        "StoppingCondition": copy.deepcopy(
            request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        ),
        "CreationTime": t,
        "LastModifiedTime": t,
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": t, "StatusMessage": "Starting the training job"}
        ],
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
        "EnableInterContainerTrafficEncryption": bool(
            request.get("EnableInterContainerTrafficEncryption", False)
        ),
        "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
    }
    for key, value in request.items():
        if key in _DESCRIBE_MEMBERS and key not in desc:
            desc[key] = copy.deepcopy(value)
    if not desc["AlgorithmSpecification"].get("TrainingInputMode"):
        desc["AlgorithmSpecification"]["TrainingInputMode"] = "File"
    return desc


def describe_validation_view(desc: dict[str, Any]) -> dict[str, Any]:
    """What validate_response checks (see _validation_view)."""
    return _validation_view(desc)


def _split(uri: str) -> tuple[str, str]:
    parsed = parse_s3_uri(uri)
    return parsed.bucket, parsed.key


# -- the run --------------------------------------------------------------------------------
@dataclass
class RunContext:
    """What a job run needs from the facade."""

    s3: Any
    aws_env: dict[str, str]
    images: ImageMap
    sink: LineSink
    grace_seconds: float = 120.0
    sync_interval: float = 2.0
    # (log group, stream) → a sink copying each line to CloudWatch Logs, as the service does.
    cloudwatch: Callable[[str, str], LineSink] | None = None


class TrainingRun:
    """Executes one recorded training job (call ``run`` in a thread)."""

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        self.record = record
        self.ctx = ctx
        self.request = record.request
        self.name = self.request["TrainingJobName"]
        self.layout = HostLayout(record.dir / "hosts" / "algo-1")
        self.prefix = f"{self.name}/algo-1"
        self.hps = decode_hyperparameters(self.request.get("HyperParameters", {}))
        out = parse_s3_uri(self.request["OutputDataConfig"]["S3OutputPath"])
        self.output_prefix = out.join(self.name, "output")
        self.metrics = MetricParser(
            list(self.request.get("AlgorithmSpecification", {}).get("MetricDefinitions", []))
        )
        self.checkpoint_sync: DirSync | None = None
        self.tensorboard_sync: DirSync | None = None
        self.started_at = None

    def log(self, message: str) -> None:
        self.ctx.sink(f"[{self.prefix}] [smsim] {message}")

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - every failure must end up in the description
            self._fail(f"InternalServerError: smsim could not run the job: {exc}")
        finally:
            self.record.done.set()

    def _run(self) -> None:
        rec = self.record
        self.started_at = now()
        rec.transition("Downloading", "Downloading input data", TrainingStartTime=self.started_at)
        if rec.stop_event.is_set():
            return self._finish_stopped("Stopped", None)
        try:
            write_training_config(self.layout, self.request)
            self._stage_code()
            self._stage_channels()
            checkpoint_dir = self._restore_checkpoints()
            self._prepare_tensorboard()
        except (S3Error, SmsimError, OSError) as exc:
            return self._fail(f"ClientError: {exc}")
        interpreter = self.ctx.images.interpreter(
            self.request.get("AlgorithmSpecification", {}).get("TrainingImage")
        )
        try:
            argv = self._command(interpreter)
        except SmsimError as exc:
            return self._fail(f"ClientError: {exc}")
        env = self._environment(interpreter, checkpoint_dir)
        rec.transition("Training", "Training image download completed. Training in progress.")
        for sync in (self.checkpoint_sync, self.tensorboard_sync):
            if sync is not None:
                sync.start()
        self.log("running: " + " ".join(argv))
        result = run_process(
            argv,
            cwd=self.layout.code_dir,
            env=env,
            log_dir=rec.dir / "logs",
            prefix=self.prefix,
            metrics=self.metrics,
            max_runtime=self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
            stop_event=rec.stop_event,
            grace_seconds=self.ctx.grace_seconds,
            sink=self.ctx.sink,
            on_line=self._cloudwatch_sink(),
        )
        if result.stop_reason:
            return self._finish_stopped(result.stop_reason, result)
        if result.exit_code != 0:
            reason = failure_reason(self.layout, result.exit_code, result.stderr_tail, argv)
            return self._fail(reason)
        # The toolkit writes an empty success file when the entry point exits 0.
        self.layout.output_dir.mkdir(parents=True, exist_ok=True)
        (self.layout.output_dir / "success").touch()
        rec.transition("Uploading", "Uploading generated training model")
        self._sync_checkpoints()
        self._upload_output()
        self._upload_model()
        rec.transition("Completed", "Training job completed", **self._end_fields("Completed"))

    def _cloudwatch_sink(self) -> LineSink | None:
        if self.ctx.cloudwatch is None:
            return None
        stream = f"{self.name}/algo-1-{int(now().timestamp())}"
        return self.ctx.cloudwatch("/aws/sagemaker/TrainingJobs", stream)

    # -- staging ----------------------------------------------------------------------------
    def _stage_code(self) -> None:
        submit = self.hps.get("sagemaker_submit_directory")
        if not submit:
            return
        code = self.layout.code_dir
        local = _file_uri_path(submit) or Path(str(submit)).expanduser()
        if isinstance(submit, str) and submit.startswith("s3://"):
            uri = parse_s3_uri(submit, "HyperParameters.sagemaker_submit_directory")
            if uri.key.endswith((".tar.gz", ".tgz")):
                with tempfile.TemporaryDirectory(dir=self.record.dir) as tmp:
                    archive = download_object(self.ctx.s3, uri, Path(tmp) / "sourcedir.tar.gz")
                    unpack_tar_gz(archive, code)
            else:
                download_prefix(self.ctx.s3, uri, code)
        elif local.is_dir():
            shutil.copytree(
                local,
                code,
                dirs_exist_ok=True,
                symlinks=False,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        elif local.is_file() and local.name.endswith((".tar.gz", ".tgz")):
            unpack_tar_gz(local, code)
        else:
            raise S3Error(
                f"HyperParameters.sagemaker_submit_directory {submit!r} is neither an S3 URI nor "
                "an existing local directory or .tar.gz"
            )
        if (code / "requirements.txt").is_file():
            self.log(
                "requirements.txt found: not installed (offline, no container); the image's "
                "interpreter (images map) must already provide these packages"
            )

    def _stage_channels(self) -> None:
        for channel in self.request.get("InputDataConfig", []):
            dest = self.layout.channel_dir(channel["ChannelName"])
            source = channel["DataSource"]
            if "S3DataSource" in source:
                uri = parse_s3_uri(source["S3DataSource"]["S3Uri"])
                files = download_prefix(self.ctx.s3, uri, dest)
            else:
                local = _file_uri_path(source["FileDataSource"]["FileUri"])
                assert local is not None  # checked at create
                dest.mkdir(parents=True, exist_ok=True)
                if local.is_dir():
                    shutil.copytree(local, dest, dirs_exist_ok=True)
                else:
                    shutil.copy2(local, dest / local.name)
                files = [p for p in dest.rglob("*") if p.is_file()]
            self.log(f"channel {channel['ChannelName']!r}: {len(files)} file(s)")

    def _restore_checkpoints(self) -> Path | None:
        config = self.request.get("CheckpointConfig")
        if not config:
            return None
        local = self.layout.host_path(
            config.get("LocalPath") or DEFAULT_CHECKPOINT_PATH, "CheckpointConfig.LocalPath"
        )
        local.mkdir(parents=True, exist_ok=True)
        uri = parse_s3_uri(config["S3Uri"], "CheckpointConfig.S3Uri")
        # SageMaker restores whatever is under the checkpoint prefix before the job starts.
        if [k for k, _ in list_keys(self.ctx.s3, uri) if not k.endswith("/")]:
            files = download_prefix(self.ctx.s3, uri, local)
            self.log(f"restored {len(files)} checkpoint file(s) from {uri}")
        self.checkpoint_sync = DirSync(self.ctx.s3, local, uri, self.ctx.sync_interval)
        self.checkpoint_sync.mark_existing()
        return local

    # -- command and environment ------------------------------------------------------------
    def _command(self, interpreter: str) -> list[str]:
        algo = self.request.get("AlgorithmSpecification", {})
        if algo.get("ContainerEntrypoint"):
            return container_argv(
                algo["ContainerEntrypoint"],
                algo.get("ContainerArguments", []),
                self.layout,
                interpreter,
            )
        program = str(self.hps["sagemaker_program"])
        _, user_args = training_environment(
            self.layout, self.request, module_dir=self._module_dir()
        )
        code = self.layout.code_dir
        path = code / program
        if program.endswith(".sh"):
            if not path.is_file():
                raise SmsimError(f"entry point {program!r} not found in the source directory")
            path.chmod(path.stat().st_mode | 0o111)
            # The toolkit runs shell entry points as `/bin/sh -c "./x.sh args"`.
            return ["/bin/sh", "-c", " ".join([f"./{program}", *map(shlex.quote, user_args)])]
        if program.endswith(".py"):
            if not path.is_file():
                raise SmsimError(
                    f"entry point {program!r} (sagemaker_program) not found in the source "
                    f"directory; files there: {sorted(p.name for p in code.iterdir())}"
                )
            return [interpreter, program, *user_args]
        return [interpreter, "-m", program, *user_args]

    def _module_dir(self) -> str:
        submit = self.hps.get("sagemaker_submit_directory")
        return str(submit) if submit else str(self.layout.code_dir)

    def _environment(self, interpreter: str, checkpoint_dir: Path | None) -> dict[str, str]:
        env = base_env(self.ctx.aws_env, self.layout, interpreter, self.layout.code_dir)
        sm_env, _ = training_environment(self.layout, self.request, module_dir=self._module_dir())
        env.update(sm_env)
        env["TRAINING_JOB_NAME"] = self.name
        env["TRAINING_JOB_ARN"] = self.record.snapshot()["TrainingJobArn"]
        if checkpoint_dir is not None:
            # Without a container a custom LocalPath cannot be mounted where the script
            # expects it; this tells the script where the checkpoints really are.
            env["SM_CHECKPOINT_DIR"] = str(checkpoint_dir)
        env.update({k: str(v) for k, v in self.request.get("Environment", {}).items()})
        return env

    # -- artifacts and endings --------------------------------------------------------------
    def _prepare_tensorboard(self) -> None:
        """TensorBoardOutputConfig: SageMaker uploads LocalPath (default
        /opt/ml/output/tensorboard) to S3OutputPath during the job and at its end."""
        config = self.request.get("TensorBoardOutputConfig")
        if not config:
            return
        local = self.layout.host_path(
            config.get("LocalPath") or "/opt/ml/output/tensorboard",
            "TensorBoardOutputConfig.LocalPath",
        )
        local.mkdir(parents=True, exist_ok=True)
        uri = parse_s3_uri(config["S3OutputPath"], "TensorBoardOutputConfig.S3OutputPath")
        self.tensorboard_sync = DirSync(self.ctx.s3, local, uri, self.ctx.sync_interval)

    def _sync_checkpoints(self) -> None:
        """Final sync of the directories SageMaker mirrors to S3 while a job runs."""
        for attr in ("checkpoint_sync", "tensorboard_sync"):
            sync = getattr(self, attr)
            if sync is not None:
                sync.finish()
                setattr(self, attr, None)

    def _upload_output(self) -> None:
        """output/data → output.tar.gz: only output/data, as the service (not all of output/)."""
        self._pack_and_upload(self.layout.output_data_dir, "output.tar.gz")

    def _upload_model(self) -> None:
        self._pack_and_upload(self.layout.model_dir, "model.tar.gz")

    def _pack_and_upload(self, src: Path, name: str) -> None:
        src.mkdir(parents=True, exist_ok=True)
        archive = self.record.dir / "artifacts" / name
        pack_tar_gz(src, archive)
        target = self.output_prefix.join(name)
        upload_file(self.ctx.s3, archive, target)
        self.log(f"uploaded {target}")

    def _end_fields(self, status: str) -> dict[str, Any]:
        end = now()
        start = self.started_at or end
        seconds = max(1, round((end - start).total_seconds()))
        fields: dict[str, Any] = {
            "TrainingJobStatus": status,
            "TrainingEndTime": end,
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
        }
        final = self.metrics.final()
        if final:
            fields["FinalMetricDataList"] = final
        return fields

    def _finish_stopped(self, reason: str, result: Any) -> None:
        rec = self.record
        rec.transition("Stopping", "Stopping the training job")
        try:
            self._sync_checkpoints()
            self._upload_output()
            # A stopped job keeps its model: the script had the grace period to save it.
            self._upload_model()
        except Exception as exc:  # noqa: BLE001
            self.log(f"artifact upload after stop failed: {exc}")
        secondary = "MaxRuntimeExceeded" if reason == "MaxRuntimeExceeded" else "Stopped"
        message = (
            "Training job stopped: MaxRuntimeInSeconds "
            f"({self.request.get('StoppingCondition', {}).get('MaxRuntimeInSeconds')}) exceeded"
            if secondary == "MaxRuntimeExceeded"
            else "Training job stopped"
        )
        rec.transition(secondary, message, **self._end_fields("Stopped"))

    def _fail(self, reason: str) -> None:
        rec = self.record
        self.log("failed: " + reason.splitlines()[0] if reason else "failed")
        try:
            self._sync_checkpoints()
            # SageMaker keeps output/data of a failed job (output.tar.gz), never its model.
            self._upload_output()
        except Exception as exc:  # noqa: BLE001
            self.log(f"artifact upload after failure failed: {exc}")
        rec.transition(
            "Failed",
            clip(reason.splitlines()[0] if reason else "Failed", 1024),
            FailureReason=clip(reason),
            **self._end_fields("Failed"),
        )
