"""One training job run: the host tree staged, the entry point run, artifacts uploaded.

``TrainingRun.run`` (a background thread) moves the job's record through
SageMaker's statuses, one SecondaryStatusTransitions entry each:

    Starting → Downloading → Training → Uploading → Completed
                                       ↘ Stopping → Stopped | MaxRuntimeExceeded
                                       ↘ Failed
    (an InternalServerError under a RetryStrategy: back to Starting, retry.py)

The request was checked at create (``checks.py``); the description's members come
from ``description.py``. Every host (``algo-1 … algo-N``, ``hosts/cluster.py``) gets its
tree, config files, code, channels and checkpoints; its toolkit environment is built
once, against the tree as its process sees it (``/opt/ml`` in a namespace); its command
follows the job's distribution (``hosts/distribution.py``: the script itself, torchrun or
mpirun); all hosts are started together by the job's host launcher
(``JobRun.execute_hosts``).

Artifacts, as the service aggregates them: model.tar.gz holds every host's
``/opt/ml/model`` and output.tar.gz every host's ``/opt/ml/output/data`` ("if multiple
containers write to this directory they should ensure no file/directory names clash").
smsim's rule for a clash: the copy of the first host (algo-1 first, the toolkits' master)
is kept and each clash is logged. Each host's checkpoints sync to the one
CheckpointConfig.S3Uri.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from simulator.errors import SmsimError
from simulator.hosts import distribution, requirements
from simulator.hosts.cluster import Cluster
from simulator.hosts.launcher import MetricParser, node_uploads
from simulator.hosts.layout import (
    HostLayout,
    base_env,
    clip,
    failure_reason,
    write_training_config,
)
from simulator.hosts.toolkit import Hyperparameters, ToolkitEnvironment
from simulator.images import builtin_algorithm
from simulator.jobs.channels import stage_training_channels
from simulator.jobs.outcome import host_failure_reason
from simulator.jobs.records import JobRecord, now
from simulator.jobs.runner import HostRun, JobRun, RunContext
from simulator.jobs.training.artifacts import pack_artifacts
from simulator.jobs.training.code import stage_submit_directory
from simulator.jobs.training.command import host_command
from simulator.jobs.training.description import end_fields, output_prefix, stopped_message
from simulator.jobs.training.retry import TrainingRetry
from simulator.jobs.training.spot import MAX_WAIT, SpotTraining
from simulator.s3 import (
    DirSync,
    S3Error,
    finish_all,
    list_keys,
    parse_s3_uri,
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
        self.syncs: list[DirSync] = []  # every host's checkpoints and TensorBoard output
        self.started_at: dt.datetime | None = None
        self.spot: SpotTraining | None = None  # EnableManagedSpotTraining (spot.py)
        self.retry = TrainingRetry.for_run(self)  # RetryStrategy (retry.py)

    def _cluster(self) -> Cluster:
        return Cluster.for_training(self.request)

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
            runs = {}
            for index, host in enumerate(self.hosts):
                runs[host] = self._prepare_host(host, index, interpreter, image)
        except (S3Error, SmsimError, OSError, ClientError) as exc:
            return self._fail(f"ClientError: {exc}")
        rec.transition("Training", "Training image download completed. Training in progress.")
        for sync in self.syncs:
            sync.start()
        if self.spot is not None:
            self.spot.arm()
        try:
            with self.feeding(), distribution.port_lock(len(self.hosts), rec.stop_event, self.log):
                outcome = self.execute_hosts(runs, self.metrics)
        finally:
            struck = self.spot.outcome() if self.spot is not None else None
        failed = outcome.failed() if outcome.first is not None else None
        stop_reason = None if failed else outcome.stop_reason(rec.stop_event.is_set())
        if stop_reason:
            return self._finish_stopped(stop_reason)
        if struck == MAX_WAIT:
            return self._finish_stopped(MAX_WAIT)
        if struck is not None and self.spot is not None:
            return self.spot.resume()  # Interrupted → Starting → … → this method again
        feed_error = self.feed_error()
        if feed_error:  # a Pipe channel could not be fed: the process was ended
            return self._fail(f"ClientError: {feed_error}")
        failed = failed or outcome.failed()
        if failed is not None:
            host, result = failed
            if result.lost:  # the instance, not the script: the service's InternalServerError
                return self._fail(f"InternalServerError: {result.lost}")
            reason = failure_reason(
                self.layouts[host], result.exit_code, result.stderr_tail, runs[host].argv
            )
            return self._fail(host_failure_reason(reason, host, len(self.hosts)))
        for layout in self.layouts.values():
            # The toolkit writes an empty success file when the entry point exits 0.
            layout.output_dir.mkdir(parents=True, exist_ok=True)
            (layout.output_dir / "success").touch()
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

    def _prepare_host(self, host: str, index: int, interpreter: str, image: str | None) -> HostRun:
        """Stage ``host``'s tree and build its command and environment."""
        layout = self.layouts[host]
        resource = self.cluster.resource_config(host)
        channels = self.cluster.channels_for(host, self.request.get("InputDataConfig", []))
        write_training_config(layout, self.request, resource, channels)
        if index == 0:
            self._stage_code()
            self._check_requirements(interpreter, image)
        else:
            # Every host gets the same code: a copy of the first host's, not a second download.
            shutil.copytree(self.layout.code_dir, layout.code_dir, dirs_exist_ok=True)
        self._stage_channels(layout, index)
        if host in self.plans:
            # What the host's node sends back: what the artifacts and FailureReason read.
            self.plans[host].returns = ["output/failure"]  # the artifacts stay on the node
        checkpoint_dir = self._restore_checkpoints(layout)
        self._prepare_tensorboard(layout)
        view = self.view_of(host)
        # The toolkit's Environment of this host, once, in the paths its process sees.
        toolkit = ToolkitEnvironment.build(
            view,
            self.request,
            self.hps,
            module_dir=self._module_dir(view),
            resource=resource,
            channels=channels,
        )
        if index == 0:
            self.toolkit = toolkit
        argv = self._command(interpreter, toolkit, layout)
        env = self._environment(interpreter, checkpoint_dir, toolkit, view)
        return HostRun(argv, view.code_dir, env)

    def _crash(self, reason: str) -> None:
        self._fail(reason)

    def _again(self) -> bool:
        return self.retry is not None and self.retry.again()

    def _set_up_spot(self) -> None:
        """Managed Spot training (spot.py): set up once, on the job's first start."""
        if self.spot is None:
            self.spot = SpotTraining.for_run(self, self.faults)
            if self.spot is not None:
                self.line_hooks.append(self.spot.on_line)

    # -- staging ----------------------------------------------------------------------------
    def _stage_code(self) -> None:
        submit = self.hps.submit_directory
        if submit:
            stage_submit_directory(self.ctx.s3, submit, self.layout.code_dir, self.record.dir)

    def _check_requirements(self, interpreter: str, image: str | None) -> None:
        """The toolkit pip-installs code/requirements.txt before the script; smsim checks
        that the image's interpreter already has them (hosts/requirements.py)."""
        path = self.layout.code_dir / requirements.REQUIREMENTS
        if not path.is_file():
            return
        where = f"{self.view.code_dir}/{requirements.REQUIREMENTS}"
        requirements.require(path, where, interpreter, image, self.ctx.images.source, self.log)

    def _stage_channels(self, layout: HostLayout, host_index: int) -> None:
        """Channels and input modes (ShardedByS3Key, Pipe, FastFile, …) of host
        ``host_index``: jobs/channels.py; a heterogeneous cluster's host gets the channels
        of its instance group (S3DataSource.InstanceGroupNames)."""
        host = self.hosts[host_index]
        group = self.cluster.group_of(host).name if self.cluster.heterogeneous else None
        self.stage_host(stage_training_channels, layout, host_index, instance_group=group)

    def _restore_checkpoints(self, layout: HostLayout) -> str | None:
        """Restore a host's checkpoints; returns their directory as its process sees it.
        Every host restores from and syncs to the same CheckpointConfig.S3Uri."""
        config = self.request.get("CheckpointConfig")
        if not config:
            return None
        container_path = config.get("LocalPath") or DEFAULT_CHECKPOINT_PATH
        local = layout.host_path(container_path, "CheckpointConfig.LocalPath")
        local.mkdir(parents=True, exist_ok=True)
        uri = parse_s3_uri(config["S3Uri"], "CheckpointConfig.S3Uri")
        host = self._host_of(layout)
        # SageMaker restores whatever is under the checkpoint prefix before the job starts.
        if [k for k, _ in list_keys(self.ctx.s3, uri) if not k.endswith("/")]:
            count = self.restore_prefix(host, uri, local)
            where = " on the host's node" if host in self.plans else ""
            self.log(f"restored {count} checkpoint file(s) from {uri}{where}")
        sync = self.mirror(host, local, uri, mark_existing=True)
        if sync is not None:
            self.syncs.append(sync)
        view = self.launcher.view(layout) if self.launcher else layout
        return str(view.host_path(container_path, "CheckpointConfig.LocalPath"))

    # -- command and environment ------------------------------------------------------------
    def _command(
        self, interpreter: str, toolkit: ToolkitEnvironment, layout: HostLayout
    ) -> list[str]:
        """A host's command, in the paths its process sees, as its toolkit runs it."""
        return host_command(
            self.request,
            self.hps,
            interpreter,
            toolkit,
            layout.code_dir,
            builtin_entry=None if self.builtin is None else str(self.builtin.entry_point),
            master_addr=self.address(toolkit.master_hostname),
        )

    def _module_dir(self, view: HostLayout) -> str:
        submit = self.hps.submit_directory
        return str(submit) if submit else str(view.code_dir)

    def _environment(
        self,
        interpreter: str,
        checkpoint_dir: str | None,
        toolkit: ToolkitEnvironment,
        view: HostLayout,
    ) -> dict[str, str]:
        host = toolkit.current_host
        env = base_env(self.ctx.aws_env, interpreter, view.code_dir, host)
        env.update(toolkit.env_vars())
        master = toolkit.master_hostname
        env.update(
            distribution.framework_env(
                self.address(master), toolkit.properties()["network_interface_name"]
            )
        )
        fallback = self.launcher is not None and self.launcher.mode == "fallback"
        if (
            fallback
            and self.address(master) != master
            and host == self.host
            and len(self.hosts) > 1
        ):
            self.log(
                f"fallback mode: host names do not resolve here; MASTER_ADDR and torchrun's "
                f"--master_addr are {self.address(master)} (every host is on this machine), "
                "a script that looks up algo-k itself cannot reach it"
            )
        env["TRAINING_JOB_NAME"] = self.name
        env["TRAINING_JOB_ARN"] = self.record.snapshot()["TrainingJobArn"]
        if checkpoint_dir is not None:
            # Where the checkpoints are (CheckpointConfig.LocalPath), as the process sees it.
            env["SM_CHECKPOINT_DIR"] = checkpoint_dir
        env.update({k: str(v) for k, v in self.request.get("Environment", {}).items()})
        return env

    # -- artifacts and endings --------------------------------------------------------------
    def _prepare_tensorboard(self, layout: HostLayout) -> None:
        """TensorBoardOutputConfig: SageMaker uploads LocalPath (default
        /opt/ml/output/tensorboard) to S3OutputPath during the job and at its end."""
        config = self.request.get("TensorBoardOutputConfig")
        if not config:
            return
        local = layout.host_path(
            config.get("LocalPath") or "/opt/ml/output/tensorboard",
            "TensorBoardOutputConfig.LocalPath",
        )
        local.mkdir(parents=True, exist_ok=True)
        uri = parse_s3_uri(config["S3OutputPath"], "TensorBoardOutputConfig.S3OutputPath")
        sync = self.mirror(self._host_of(layout), local, uri)
        if sync is not None:
            self.syncs.append(sync)

    def _host_of(self, layout: HostLayout) -> str:
        return next(h for h, lay in self.layouts.items() if lay == layout)

    def _sync_checkpoints(self) -> None:
        """Final sync of the directories SageMaker mirrors to S3 while a job runs."""
        syncs, self.syncs = self.syncs, []
        finish_all(syncs)

    def _upload_output(self) -> None:
        """output/data → output.tar.gz: only output/data, as the service (not all of output/)."""
        self._pack_and_upload(self.layout.output_data_dir, "output.tar.gz")

    def _upload_model(self) -> None:
        self._pack_and_upload(self.layout.model_dir, "model.tar.gz")

    def _pack_and_upload(self, part: Path, name: str) -> None:
        """Every host's ``part`` (a directory of the first host's tree; the same of each
        host's) in one archive at ``<output>/<job>/output/<name>``."""
        target = self.output_prefix.join(name)
        rel = part.relative_to(self.layout.root).as_posix()
        nodes = node_uploads(self.launcher)
        if nodes is not None:  # packed and uploaded on the first host's node
            warnings = nodes.upload_archive(rel, target)
            where = f" from {self.hosts[0]}'s node"
        else:
            archive = self.record.dir / "artifacts" / name
            sources = [lay.root / rel for lay in self.layouts.values()]
            warnings = pack_artifacts(self.hosts, sources, archive)
            upload_file(self.ctx.s3, archive, target)  # whole or absent
            where = ""
        for warning in warnings:
            self.log(warning)
        self.log(f"uploaded {target}{where}")

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
        if self.retry is not None and self.retry.takes(reason):
            return  # an InternalServerError: retried once the attempt's room is released
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
