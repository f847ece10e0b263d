"""One training job run: the host tree staged, the entry point run, artifacts uploaded.

``TrainingRun.run`` (a background thread) moves the job's record through
SageMaker's statuses, one SecondaryStatusTransitions entry each:

    Starting → Downloading → Training → Uploading → Completed
                                       ↘ Stopping → Stopped | MaxRuntimeExceeded
                                       ↘ Failed

The request was checked at create (``checks.py``); the description's members come
from ``description.py``. The host's toolkit environment is built once, against the
tree as its process sees it (``/opt/ml`` in a namespace), and the entry point is
started by the job's host launcher (``JobRun.execute``).
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from simulator.errors import SmsimError
from simulator.hosts import requirements
from simulator.hosts.launcher import MetricParser
from simulator.hosts.layout import (
    base_env,
    clip,
    container_argv,
    failure_reason,
    write_training_config,
)
from simulator.hosts.toolkit import Hyperparameters, ToolkitEnvironment
from simulator.images import builtin_algorithm
from simulator.jobs.channels import ChannelFeeds, kill_process_group, stage_training_channels
from simulator.jobs.records import JobRecord, now
from simulator.jobs.runner import JobRun, RunContext
from simulator.jobs.training.checks import file_uri_path
from simulator.jobs.training.description import end_fields, output_prefix, stopped_message
from simulator.jobs.training.spot import MAX_WAIT, SpotTraining
from simulator.s3 import (
    DirSync,
    S3Error,
    download_object,
    download_prefix,
    finish_all,
    list_keys,
    pack_tar_gz,
    parse_s3_uri,
    unpack_tar_gz,
    upload_file,
)

DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"  # CheckpointConfig.LocalPath's default


class TrainingRun(JobRun):
    """Executes one recorded training job (call ``run`` in a thread)."""

    log_group = "/aws/sagemaker/TrainingJobs"

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        super().__init__(record, ctx)
        self.hps = Hyperparameters.from_request(self.request)  # decoded once, used by all
        self.toolkit: ToolkitEnvironment | None = None
        self.output_prefix = output_prefix(self.request)
        algo = self.request.get("AlgorithmSpecification", {})
        # No script and an algorithm image: the image's built-in algorithm runs (with its
        # own metric definitions), as on the service.
        self.builtin = (
            builtin_algorithm(algo.get("TrainingImage"))
            if not algo.get("ContainerEntrypoint") and not self.hps.program
            else None
        )
        definitions = list(algo.get("MetricDefinitions", []))
        if self.builtin is not None:
            definitions = definitions or list(self.builtin.metric_definitions)
        self.metrics = MetricParser(definitions)
        self.checkpoint_sync: DirSync | None = None
        self.tensorboard_sync: DirSync | None = None
        self.started_at: dt.datetime | None = None
        self.spot: SpotTraining | None = None  # EnableManagedSpotTraining (spot.py)
        self.feeds = ChannelFeeds()

    def _run(self) -> None:
        rec = self.record
        self.started_at = self.started_at or now()  # a Spot restart keeps the first start
        self._set_up_spot()
        rec.transition("Downloading", "Downloading input data", TrainingStartTime=self.started_at)
        if rec.stop_event.is_set():
            return self._finish_stopped("Stopped")
        image = self.request.get("AlgorithmSpecification", {}).get("TrainingImage")
        try:
            interpreter = self.ctx.images.interpreter(image)
            write_training_config(self.layout, self.request)
            self._stage_code()
            self._check_requirements(interpreter, image)
            self._stage_channels()
            checkpoint_dir = self._restore_checkpoints()
            self._prepare_tensorboard()
            # The toolkit's Environment of this host, once, in the paths its process sees.
            self.toolkit = ToolkitEnvironment.build(
                self.view,
                self.request,
                self.hps,
                module_dir=self._module_dir(),
                current_host=self.host,
                hosts=list(self.hosts),
            )
            argv = self._command(interpreter)
        except (S3Error, SmsimError, OSError, ClientError) as exc:
            return self._fail(f"ClientError: {exc}")
        env = self._environment(interpreter, checkpoint_dir)
        rec.transition("Training", "Training image download completed. Training in progress.")
        for sync in (self.checkpoint_sync, self.tensorboard_sync):
            if sync is not None:
                sync.start()
        self.feeds.start(on_error=lambda: kill_process_group(self.record.process_group))
        if self.spot is not None:
            self.spot.arm()
        try:
            result = self.execute(argv, self.view.code_dir, env, self.metrics)
        finally:
            self.feeds.stop()
            struck = self.spot.outcome() if self.spot is not None else None
        if result.stop_reason:
            return self._finish_stopped(result.stop_reason)
        if struck == MAX_WAIT:
            return self._finish_stopped(MAX_WAIT)
        if struck is not None and self.spot is not None:
            return self.spot.resume()  # Interrupted → Starting → … → this method again
        if self.feeds.error:  # a Pipe channel could not be fed: the process was ended
            return self._fail(f"ClientError: {self.feeds.error}")
        if result.exit_code != 0:
            return self._fail(
                failure_reason(self.layout, result.exit_code, result.stderr_tail, argv)
            )
        # The toolkit writes an empty success file when the entry point exits 0.
        self.layout.output_dir.mkdir(parents=True, exist_ok=True)
        (self.layout.output_dir / "success").touch()
        rec.transition("Uploading", "Uploading generated training model")
        try:
            self._sync_checkpoints()
            self._upload_output()
            self._upload_model()
        except Exception as exc:  # noqa: BLE001 - an upload that failed fails the job
            return self._fail(
                f"ClientError: uploading the artifacts to {self.output_prefix} failed: {exc}"
            )
        rec.transition("Completed", "Training job completed", **self._end_fields("Completed"))

    def _crash(self, reason: str) -> None:
        self._fail(reason)

    def _set_up_spot(self) -> None:
        """Managed Spot training (spot.py): set up once, on the job's first start."""
        if self.spot is None:
            self.spot = SpotTraining.for_run(self, self.faults)
            if self.spot is not None:
                self.line_hooks.append(self.spot.on_line)

    # -- staging ----------------------------------------------------------------------------
    def _stage_code(self) -> None:
        submit = self.hps.submit_directory
        if not submit:
            return
        code = self.layout.code_dir
        local = file_uri_path(submit) or Path(str(submit)).expanduser()
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

    def _check_requirements(self, interpreter: str, image: str | None) -> None:
        """The toolkit pip-installs code/requirements.txt before the script; smsim checks
        that the image's interpreter already has them (hosts/requirements.py)."""
        path = self.layout.code_dir / requirements.REQUIREMENTS
        if not path.is_file():
            return
        where = f"{self.view.code_dir}/{requirements.REQUIREMENTS}"
        requirements.require(path, where, interpreter, image, self.ctx.images.source, self.log)

    def _stage_channels(self) -> None:
        # Channels and input modes (ShardedByS3Key, Pipe, FastFile, …): jobs/channels.py.
        self.feeds = stage_training_channels(self.ctx.s3, self.request, self.layout, 0, 1, self.log)

    def _restore_checkpoints(self) -> str | None:
        """Restore the checkpoints; returns their directory as the job's process sees it."""
        config = self.request.get("CheckpointConfig")
        if not config:
            return None
        container_path = config.get("LocalPath") or DEFAULT_CHECKPOINT_PATH
        local = self.layout.host_path(container_path, "CheckpointConfig.LocalPath")
        local.mkdir(parents=True, exist_ok=True)
        uri = parse_s3_uri(config["S3Uri"], "CheckpointConfig.S3Uri")
        # SageMaker restores whatever is under the checkpoint prefix before the job starts.
        if [k for k, _ in list_keys(self.ctx.s3, uri) if not k.endswith("/")]:
            files = download_prefix(self.ctx.s3, uri, local)
            self.log(f"restored {len(files)} checkpoint file(s) from {uri}")
        self.checkpoint_sync = DirSync(self.ctx.s3, local, uri, self.ctx.sync_interval)
        self.checkpoint_sync.mark_existing()
        return str(self.view.host_path(container_path, "CheckpointConfig.LocalPath"))

    # -- command and environment ------------------------------------------------------------
    def _command(self, interpreter: str) -> list[str]:
        """The container's command, in the paths its process sees (``self.view``)."""
        assert self.toolkit is not None
        algo = self.request.get("AlgorithmSpecification", {})
        if algo.get("ContainerEntrypoint"):
            return container_argv(
                algo["ContainerEntrypoint"], algo.get("ContainerArguments", []), interpreter
            )
        if self.builtin is not None:
            return [interpreter, str(self.builtin.entry_point)]
        program = str(self.hps.program)
        user_args = self.toolkit.cmd_args()
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
        submit = self.hps.submit_directory
        return str(submit) if submit else str(self.view.code_dir)

    def _environment(self, interpreter: str, checkpoint_dir: str | None) -> dict[str, str]:
        assert self.toolkit is not None
        view = self.view
        env = base_env(self.ctx.aws_env, interpreter, view.code_dir, self.host)
        env.update(self.toolkit.env_vars())
        env["TRAINING_JOB_NAME"] = self.name
        env["TRAINING_JOB_ARN"] = self.record.snapshot()["TrainingJobArn"]
        if checkpoint_dir is not None:
            # Where the checkpoints are (CheckpointConfig.LocalPath), as the process sees it.
            env["SM_CHECKPOINT_DIR"] = checkpoint_dir
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
        syncs = [s for s in (self.checkpoint_sync, self.tensorboard_sync) if s is not None]
        self.checkpoint_sync = self.tensorboard_sync = None
        finish_all(syncs)

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
        fields = end_fields(status, self.started_at, self.metrics.final())
        if self.spot is not None:
            self.spot.bill(fields)  # the wait for Spot capacity is not billed
        return fields

    def _finish_stopped(self, reason: str) -> None:
        rec = self.record
        rec.transition("Stopping", "Stopping the training job", TrainingJobStatus="Stopping")
        try:
            self._sync_checkpoints()
            self._upload_output()
            # A stopped job keeps its model: the script had the grace period to save it.
            self._upload_model()
        except Exception as exc:  # noqa: BLE001
            self.log(f"artifact upload after stop failed: {exc}")
        secondary, message = stopped_message(reason, self.request)
        rec.transition(secondary, message, **self._end_fields("Stopped"))

    def _fail(self, reason: str) -> None:
        rec = self.record
        first_line = reason.splitlines()[0] if reason else "Failed"
        self.log("failed: " + first_line)
        if self.started_at is not None:  # an instance ran (not an injected CapacityError)
            try:
                self._sync_checkpoints()
                # SageMaker keeps output/data of a failed job (output.tar.gz), never its model.
                self._upload_output()
            except Exception as exc:  # noqa: BLE001
                self.log(f"artifact upload after failure failed: {exc}")
        rec.transition(
            "Failed",
            clip(first_line),
            FailureReason=clip(reason),
            **self._end_fields("Failed"),
        )
