"""One processing job, from a CreateProcessingJob request to a complete DescribeProcessingJob.

SageMaker's rules followed:
* each ProcessingInput's S3 data is staged at its LocalPath (``/opt/ml/processing/...``,
  mapped to the host dir), or fed through FIFOs in Pipe mode, with the training
  channels' rules (S3Prefix/ManifestFile, ShardedByS3Key, Gzip: ``jobs/channels.py``);
* ``/opt/ml/config/processingjobconfig.json`` and ``resourceconfig.json`` are written;
* the container runs ContainerEntrypoint + ContainerArguments (``python``/``python3``
  as the image's interpreter) with the host tree as ``/opt/ml`` (the host launcher's
  namespace or fallback mode, ``hosts/local.py``);
* each output's LocalPath contents are uploaded directly under S3Output.S3Uri at
  the end (EndOfJob) or as files settle (Continuous) — also when the job fails;
* ``/opt/ml/output/message`` becomes ExitMessage; a non-zero exit → Failed with
  ExitMessage (that file, else the failure file or exit code + stderr tail)
  and FailureReason ``AlgorithmError: …``;
* ``ClusterConfig.InstanceCount`` N → hosts ``algo-1 … algo-N``, each with its own tree,
  inputs and process, all started together; the first host to fail fails the job (named
  in FailureReason) and the others are stopped; every host's outputs are uploaded under
  each output's S3Uri, host by host from algo-1 (a file two hosts write is the last
  host's: on the service each instance uploads its own, same key, last one wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.hosts import requirements
from simulator.hosts.cluster import Cluster
from simulator.hosts.launcher import node_uploads
from simulator.hosts.layout import (
    HostLayout,
    base_env,
    clip,
    container_argv,
    failure_reason,
    write_processing_config,
)
from simulator.jobs.channels import stage_processing_inputs
from simulator.jobs.outcome import host_failure_reason
from simulator.jobs.processing.checks import check_request
from simulator.jobs.processing.description import initial_description
from simulator.jobs.records import JobRecord, now
from simulator.jobs.runner import HostRun, JobRun, RunContext
from simulator.s3 import (
    DirSync,
    S3Error,
    finish_all,
    parse_s3_uri,
)

# The facade's entry points of this job kind (checks and description live apart).
__all__ = ["ProcessingRun", "check_request", "initial_description"]


class ProcessingRun(JobRun):
    """Executes one recorded processing job (call ``run`` in a thread)."""

    log_group = "/aws/sagemaker/ProcessingJobs"

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        super().__init__(record, ctx)
        # Every host's outputs: (host, local dir, S3 URI, its Continuous sync or None).
        self.syncs: list[tuple[str, Path, Any, DirSync | None]] = []

    def _cluster(self) -> Cluster:
        return Cluster.for_processing(self.request)

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
            interpreter = self.ctx.images.interpreter(app.get("ImageUri"))
            for index, host in enumerate(self.hosts):
                layout = self.layouts[host]
                write_processing_config(layout, self.request, arn, host)
                if host in self.plans:  # what ExitMessage and FailureReason read
                    self.plans[host].returns = ["output/message", "output/failure"]
                self._stage_inputs(layout, index)
                self._prepare_outputs(host)
                if index == 0:
                    self._check_requirements(interpreter, app.get("ImageUri"))
        except (S3Error, SmsimError, OSError) as exc:
            return self._end("Failed", failure=f"ClientError: {exc}")
        argv = container_argv(
            app["ContainerEntrypoint"], app.get("ContainerArguments", []), interpreter
        )
        runs = {}
        for host in self.hosts:
            env = base_env(self.ctx.aws_env, interpreter, None, host)
            # Documented as platform-provided for processing scripts (alignment/platform.py).
            env["PROCESSING_JOB_NAME"] = self.name
            env.update({k: str(v) for k, v in self.request.get("Environment", {}).items()})
            (self.layouts[host].root / "processing").mkdir(parents=True, exist_ok=True)
            runs[host] = HostRun(argv, self.view_of(host).root / "processing", env)
        for *_, sync in self.syncs:
            if sync is not None:
                sync.start()
        with self.feeding():
            outcome = self.execute_hosts(runs)
        feed_error = self.feed_error()
        if feed_error:  # a Pipe input could not be fed: the process was ended
            return self._end("Failed", failure=f"ClientError: {feed_error}")
        failed = outcome.failed() if outcome.first is not None else None
        stop_reason = None if failed else outcome.stop_reason(rec.stop_event.is_set())
        if stop_reason == "MaxRuntimeExceeded":
            limit = self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
            return self._end("Stopped", exit_message=f"MaxRuntimeInSeconds ({limit}) exceeded")
        if stop_reason:
            return self._end("Stopped")
        failed = failed or outcome.failed()
        if failed is not None:
            host, result = failed
            if result.lost:  # the instance, not the script: the service's InternalServerError
                return self._end("Failed", failure=f"InternalServerError: {result.lost}")
            layout = self.layouts[host]
            message = self._exit_message(layout) or failure_reason(
                layout, result.exit_code, result.stderr_tail, argv
            )
            failure = (
                f"AlgorithmError: See job logs for more information (exit code {result.exit_code})"
            )
            return self._end(
                "Failed",
                failure=host_failure_reason(failure, host, len(self.hosts)),
                exit_message=message,
            )
        self._end("Completed", exit_message=self._exit_message(self.layout))

    def _check_requirements(self, interpreter: str, image: str | None) -> None:
        """A FrameworkProcessor's runproc.sh pip-installs the requirements.txt of its
        sourcedir.tar.gz; smsim checks the image's interpreter has them (offline)."""
        scratch = self.record.dir / "requirements"
        for archive, path in requirements.staged_sourcedir_requirements(self.layout.root, scratch):
            inside = self.view.root / archive.relative_to(self.layout.root)
            where = f"the requirements.txt of {inside}"
            requirements.require(path, where, interpreter, image, self.ctx.images.source, self.log)

    def _exit_message(self, layout: HostLayout) -> str | None:
        """The container's /opt/ml/output/message (SageMaker's ExitMessage, up to 1 KB)."""
        path = layout.output_dir / "message"
        if path.is_file():
            text = path.read_text(errors="replace").strip()
            return text[:1024] or None
        return None

    def _stage_inputs(self, layout: HostLayout, host_index: int) -> None:
        """The inputs of host ``host_index``: ShardedByS3Key, Pipe, ManifestFile, Gzip as
        jobs/channels.py stages them (the training rules)."""
        self.stage_host(stage_processing_inputs, layout, host_index)

    def _prepare_outputs(self, host: str) -> None:
        for item in self.request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            s3 = item["S3Output"]
            local = self.layouts[host].host_path(
                s3["LocalPath"], f"{item['OutputName']}.S3Output.LocalPath"
            )
            local.mkdir(parents=True, exist_ok=True)
            uri = parse_s3_uri(s3["S3Uri"])
            continuous = s3.get("S3UploadMode", "EndOfJob") == "Continuous"
            # On a host's node (Ray), a Continuous output syncs from there, final pass
            # included; an EndOfJob one stays there until ``_upload_outputs``.
            sync = self.mirror(host, local, uri) if continuous else None
            self.syncs.append((host, local, uri, sync))

    def _upload_outputs(self) -> None:
        # EndOfJob outputs get a one-off sync: finish() of a sync never started uploads all.
        # Host by host, in host order: a key two hosts write ends up as the later host's.
        nodes = node_uploads(self.launcher)
        for host in self.hosts:
            mine = [(local, uri, sync) for h, local, uri, sync in self.syncs if h == host]
            root = self.layouts[host].root
            if nodes is not None and host in self.plans:  # each instance uploads its own
                synced = self._continuous_on_node(host)
                for local, uri, _ in mine:
                    if local not in synced:
                        nodes.upload_dir(host, local.relative_to(root).as_posix(), uri)
                    self.log(f"uploaded {local.relative_to(root)} → {uri} from its node", host)
                continue
            finish_all([sync or DirSync(self.ctx.s3, local, uri) for local, uri, sync in mine])
            for local, uri, _ in mine:
                self.log(f"uploaded {local.relative_to(root)} → {uri}", host)

    def _continuous_on_node(self, host: str) -> set[Path]:
        """The host's outputs its node synced itself (Continuous mode), final pass included."""
        plan = self.plans[host]
        return {plan.root / sync.path for sync in plan.syncs}

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
