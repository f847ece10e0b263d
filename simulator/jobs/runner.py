"""What every job run shares: the context the facade hands it and the runner's frame.

A run executes one recorded job in a background thread (``JobRun.run``), an attempt at
a time (a training job's RetryStrategy may ask for more): whatever goes wrong ends up in
the job's description, never as an exception lost in a thread. A job has hosts
``algo-1 … algo-N`` (``hosts/cluster.py``), each with its own tree ``hosts/algo-k/``. Each
host's entry point runs through the job's host launcher (``hosts/launcher.py``: the local
one, in a mount namespace or in fallback mode, ``hosts/local.py``; or the Ray backend's,
``hosts/ray_launcher.py``, which first reserves room for every host: ``reserve``), all
hosts at once, one thread each (``execute_hosts``), with the job's
``StoppingCondition.MaxRuntimeInSeconds``, the record's stop event, live lines prefixed
``[<job>/algo-k]`` and a copy of each line in CloudWatch Logs (``/aws/sagemaker/<Kind>Jobs``,
one stream per host, ``<job>/algo-k-<epoch>``), as the service writes them.

When one host fails (or reaches MaxRuntimeInSeconds) the job ends with it: the other
hosts are stopped as a StopTrainingJob stops them (SIGTERM, the grace period, SIGKILL),
and the outcome names the first host that ended the job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.faults import Fault, FaultPlan
from simulator.hosts.cluster import Cluster
from simulator.hosts.launcher import (
    Booking,
    HostCommand,
    HostLauncher,
    LineSink,
    MetricParser,
    ProcessResult,
    Supervision,
)
from simulator.hosts.layout import HostLayout
from simulator.hosts.local import local_launcher
from simulator.hosts.node_plan import NodePlan
from simulator.images import ImageMap
from simulator.jobs.channels import ChannelFeeds, HostShare, kill_process_group
from simulator.jobs.outcome import JobHalt, JobOutcome, ending
from simulator.jobs.records import JobRecord, now
from simulator.jobs.throttle import throttled_client
from simulator.s3 import DirSync, S3Uri, download_prefix
from simulator.workspace import is_disk_full


@dataclass(frozen=True)
class HostSettings:
    """How this simulator runs job hosts: ``LocalSageMaker``'s and ``smsim serve``'s options."""

    grace_seconds: float = 120.0  # after SIGTERM on a stop, before SIGKILL (StopTrainingJob)
    sync_interval: float = 2.0  # checkpoints / TensorBoard output synced to S3 this often
    # "auto" | "namespace" | "fallback"; None: $SMSIM_CONTAINER_MODE, else auto.
    container_mode: str | None = None
    # Where hosts run (#19): "local" (this machine's processes) | "ray" (a Ray cluster at
    # ray_address; ray_resources: overrides of the instance type → Ray resources table).
    backend: str = "local"
    ray_address: str | None = None
    ray_resources: Any = None


@dataclass
class RunContext:
    """What a job run needs from the facade."""

    s3: Any
    aws_env: dict[str, str]
    images: ImageMap
    sink: LineSink
    settings: HostSettings = HostSettings()
    # (log group, stream) → a sink copying each line to CloudWatch Logs, as the service does.
    cloudwatch: Callable[[str, str], LineSink] | None = None
    # (job, host) → a sink publishing each MetricDefinitions match (name, value, time) to
    # CloudWatch metrics, as the service does.
    metrics: Callable[[str, str], Callable[[str, float, Any], None]] | None = None
    # Faults to inject (simulator.faults, #17): the job's own are taken when its run starts.
    faults: FaultPlan | None = None

    def launcher(self, remote: bool = True) -> HostLauncher:
        """The host launcher for this job (a bad mode fails the job, by name); ``remote``
        False: this machine's, whatever the backend (transform jobs, model servers)."""
        hosts = self.settings
        if hosts.backend == "ray" and remote:
            from simulator.hosts.ray_launcher import ray_launcher

            return ray_launcher(hosts.ray_address, hosts.ray_resources, hosts.container_mode)
        return local_launcher(hosts.container_mode)


class JobRun:
    """Base of the training and processing runs (subclasses define ``_run``, ``_crash``
    and ``_cluster``)."""

    log_group = ""  # the job kind's CloudWatch log group
    remote_hosts = True  # may its hosts run on the Ray backend's nodes (not transform's)

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        self.record = record
        self.ctx = ctx
        self.request = record.request
        self.name = record.name
        self.cluster = self._cluster()
        self.hosts: tuple[str, ...] = tuple(self.cluster.hosts)
        self.layouts = {h: HostLayout(record.dir / "hosts" / h) for h in self.hosts}
        # The first host: the master, and where a one-host job's tree is.
        self.host = self.hosts[0]
        self.layout = self.layouts[self.host]
        self.prefix = f"{self.name}/{self.host}"
        self.launcher: HostLauncher | None = None
        self.feeds: dict[str, ChannelFeeds] = {}  # each host's Pipe feeders (stage_host)
        self.faults: list[Fault] = []  # the injected faults that strike while this job runs
        self.line_hooks: list[LineSink] = []  # more readers of the entry point's lines
        self.plans: dict[str, NodePlan] = {}  # each host's S3 work, for its node (Ray)

    def _cluster(self) -> Cluster:
        return Cluster.single()

    def log(self, message: str, host: str | None = None) -> None:
        """A line of smsim's own in the job's live log (of ``host``, default the first)."""
        self.ctx.sink(f"[{self.name}/{host or self.host}] [smsim] {message}")

    def run(self) -> None:
        """Run the job to its end; the thread target."""
        try:
            self._attempt()
            while self._again():
                self._attempt()
        finally:
            try:
                self._teardown()
            finally:
                self.record.done.set()  # the run is over: its job ended, its instance gone

    def _attempt(self) -> None:
        """One attempt (the first chooses the launcher); any failure ends in the description."""
        try:
            if self.launcher is None:
                try:
                    self.launcher = self.ctx.launcher(self.remote_hosts)
                except SmsimError as exc:
                    return self._crash(f"ClientError: {exc}")
                self.log(f"container mode: {self.launcher.mode} ({self.launcher.reason})")
                if len(self.hosts) > 1:
                    self.log(f"{len(self.hosts)} hosts: {', '.join(self.hosts)}")
            if not self._take_faults():
                self._run_reserved(self.launcher)
        except Exception as exc:  # noqa: BLE001 - every failure must end up in the description
            where = getattr(exc, "filename", None) or self.record.dir
            self._crash(
                f"ClientError: No space left on device writing {where}; free space on the "
                "workspace's disk or use a workspace on a larger one"
                if is_disk_full(exc)  # the instance's volume is full: the user's to fix
                else f"InternalServerError: smsim could not run the job: {exc}"
            )

    def _again(self) -> bool:
        """After an attempt: True to run another (a training job's retry: ``retry.py``)."""
        return False

    def _run_reserved(self, launcher: HostLauncher) -> None:
        """``_run`` once the launcher has room for every host; the job stays Starting while
        it waits (a stop then ends it Stopped: ``_run`` sees the stop first)."""
        if launcher.stages_on_node:
            self.plans = {h: NodePlan(self.layouts[h].root) for h in self.hosts}
        types = {h: self.cluster.group_of(h).instance_type for h in self.hosts}
        try:
            try:
                launcher.reserve(Booking(self.name, types, self.record.stop_event, self.log))
            except SmsimError as exc:
                # The service's own words when no instance of the type can be had.
                return self._crash(f"CapacityError: {exc}")
            self._run()
        finally:
            launcher.release()  # also what a reserve that failed half-way took

    def _run(self) -> None:
        raise NotImplementedError

    def _teardown(self) -> None:
        """Free what the job ran on once its end is recorded (the service's end time
        comes before its instance's teardown); ``done`` is set after it."""

    # -- each host's inputs (jobs/channels.py) ------------------------------------------
    def stage_host(
        self, stage: Callable[..., ChannelFeeds], layout: HostLayout, host_index: int, **kw: Any
    ) -> None:
        """Stage host ``host_index``'s inputs with ``stage`` (a jobs/channels.py stager,
        given the host's place among the job's hosts); its Pipe feeders run with it."""
        host = self.hosts[host_index]
        share = HostShare(
            self.ctx.s3,
            self.request,
            layout,
            host_index,
            len(self.hosts),
            lambda message: self.log(message, host),
            self.plans.get(host),  # its node downloads them (Ray backend)
        )
        self.feeds[host] = stage(share, **kw)

    def restore_prefix(self, host: str, uri: S3Uri, local: Path) -> int:
        """Download ``uri``'s objects into ``local`` of ``host``'s tree (on the host's node
        when it has a plan: Ray backend); how many."""
        if host in self.plans:
            return self.plans[host].download_prefix(self.ctx.s3, uri, local)
        return len(download_prefix(self.ctx.s3, uri, local))

    def mirror(
        self, host: str, local: Path, uri: S3Uri, mark_existing: bool = False
    ) -> DirSync | None:
        """Sync ``local`` of ``host``'s tree to ``uri`` while the job runs (checkpoints,
        TensorBoard): a DirSync here, or one on the host's node (its plan); ``mark_existing``:
        what is there now is in S3 already (restored checkpoints)."""
        if host in self.plans:
            self.plans[host].sync(local, uri, self.ctx.settings.sync_interval, mark_existing)
            return None
        sync = DirSync(self.ctx.s3, local, uri, self.ctx.settings.sync_interval)
        if mark_existing:
            sync.mark_existing()
        return sync

    @contextlib.contextmanager
    def feeding(self) -> Iterator[None]:
        """The hosts' Pipe feeders run while the block runs; a feeder that fails ends its
        host's process (which would otherwise wait for its data for ever)."""
        groups = self.record.process_groups
        for host, feeds in self.feeds.items():
            feeds.start(on_error=lambda h=host: kill_process_group(groups.get(h)))
        try:
            yield
        finally:
            for feeds in self.feeds.values():
                feeds.stop()

    def feed_error(self) -> str | None:
        """Why a Pipe channel could not be fed, if one could not."""
        return next((f.error for f in self.feeds.values() if f.error), None)

    def _take_faults(self) -> bool:
        """This job's injected faults (simulator.faults); True when one ended it already:
        a CapacityError/InternalServerError fails it before any instance runs."""
        if not self.ctx.faults:
            return False
        self.faults = self.ctx.faults.for_job(self.name, ("job", "run"))
        for fault in self.faults:
            self.log(f"injected fault: {fault.kind}")
            if fault.strikes == "job":
                self._crash(fault.message)
                return True
            if fault.kind == "S3SlowDown":
                s3 = throttled_client(self.ctx.s3, fault.times, self.log)
                self.ctx = dataclasses.replace(self.ctx, s3=s3)
        return False

    def _crash(self, reason: str) -> None:
        """End the job Failed with ``reason`` (an error of smsim, not of the script)."""
        raise NotImplementedError

    @property
    def view(self) -> HostLayout:
        """The first host's tree as its process sees it (``/opt/ml`` in a namespace)."""
        return self.view_of(self.host)

    def view_of(self, host: str) -> HostLayout:
        """``host``'s tree as its process sees it (``/opt/ml`` in a namespace)."""
        assert self.launcher is not None, "the launcher is chosen when the run starts"
        return self.launcher.view(self.layouts[host])

    def address(self, host: str) -> str:
        """What the job's processes connect to for ``host`` (``HostLauncher.address``)."""
        assert self.launcher is not None
        return self.launcher.address(host)

    def execute_hosts(
        self, runs: dict[str, HostRun], metrics: MetricParser | None = None
    ) -> JobOutcome:
        """Run every host's entry point (argv, cwd and env in the container's terms:
        ``view_of``) at once under the job's runtime limit and stop event; returns when
        all have ended. The first host to fail or run out of time stops the others."""
        assert self.launcher is not None
        launcher = self.launcher
        outcome = JobOutcome()
        halt = JobHalt(self.record.stop_event)
        lock = threading.Lock()
        epoch = int(now().timestamp())

        def run_host(host: str, job: HostRun) -> None:
            prefix = f"{self.name}/{host}"
            self.log("running: " + " ".join(job.argv), host)

            def spawned(pgid: int) -> None:
                self.record.process_groups[host] = pgid
                if host == self.host:
                    self.record.process_group = pgid

            watch = Supervision(
                log_dir=self.record.dir / "logs",
                prefix=prefix,
                sink=self.ctx.sink,
                note=lambda message: self.log(message, host),
                metrics=metrics,
                max_runtime=self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
                stop_event=halt,
                grace_seconds=self.ctx.settings.grace_seconds,
                on_line=self._line_hook(host, f"{prefix}-{epoch}", metrics),
                on_spawn=spawned,
            )
            command = HostCommand(
                host,
                self.hosts,
                self.layouts[host],
                job.argv,
                str(job.cwd),
                job.env,
                plan=self.plans.get(host),
            )
            try:
                result = launcher.run(command, watch)
            except Exception as exc:  # noqa: BLE001 - a host that could not start fails the job
                result = ProcessResult(None, None, [f"smsim could not start {host}: {exc}"], 0.0)
            finally:
                self.record.process_groups.pop(host, None)  # reaped: its id may be reused
                if host == self.host:
                    self.record.process_group = None
            with lock:
                outcome.results[host] = result
                ends_job = result.stop_reason == "MaxRuntimeExceeded" or (
                    result.stop_reason is None and result.exit_code != 0
                )
                if ends_job and outcome.first is None and not self.record.stop_event.is_set():
                    outcome.first = host
                    others = [h for h in runs if h != host and h not in outcome.results]
                    if others:
                        self.log(
                            f"{host} ended the job ({ending(result)}): stopping "
                            + ", ".join(others),
                            host,
                        )
                    halt.set()

        threads = [
            threading.Thread(
                target=run_host, args=(h, runs[h]), name=f"{self.name}/{h}", daemon=True
            )
            for h in runs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcome

    def _line_hook(self, host: str, stream: str, metrics: MetricParser | None) -> LineSink | None:
        """Each line of ``host``: to its CloudWatch Logs stream, and its MetricDefinitions
        matches to CloudWatch metrics (per host, as the service publishes them)."""
        sinks: list[LineSink] = []
        if self.ctx.cloudwatch is not None:
            sinks.append(self.ctx.cloudwatch(self.log_group, stream))
        sinks.extend(self.line_hooks)  # more readers of every host's lines (faults)
        if metrics is not None and self.ctx.metrics is not None:
            sinks.append(
                _publisher(MetricParser(metrics.definitions), self.ctx.metrics(self.name, host))
            )
        if len(sinks) < 2:
            return sinks[0] if sinks else None

        def every(line: str) -> None:
            for sink in sinks:
                sink(line)

        return every


@dataclass(frozen=True)
class HostRun:
    """One host's entry point, in the container's terms."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]


def _publisher(parser: MetricParser, publish: Callable[[str, float, Any], None]) -> LineSink:
    """A line sink sending every value ``parser`` takes from a line to ``publish``."""

    def feed(line: str) -> None:
        before = dict(parser.values)
        parser.feed(line)
        for name, value in parser.values.items():
            if before.get(name) is not value:
                publish(name, value.value, value.timestamp)

    return feed
