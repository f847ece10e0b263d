"""What every job run shares: the context the facade hands it and the runner's frame.

A run executes one recorded job in a background thread (``JobRun.run``): whatever
goes wrong ends up in the job's description, never as an exception lost in a
thread. Its entry point runs through a host launcher (``hosts/launcher.py``; here the
local one, in a mount namespace or in fallback mode: ``hosts/local.py``) with the job's
``StoppingCondition.MaxRuntimeInSeconds``, the record's stop event, live lines
prefixed ``[<job>/algo-1]`` and a copy of each line in CloudWatch Logs
(``/aws/sagemaker/<Kind>Jobs``, stream ``<job>/algo-1-<epoch>``), as the service writes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.faults import Fault, FaultPlan
from simulator.hosts.launcher import (
    HostCommand,
    HostLauncher,
    LineSink,
    MetricParser,
    ProcessResult,
    Supervision,
)
from simulator.hosts.layout import HOST_NAME, HostLayout
from simulator.hosts.local import local_launcher
from simulator.images import ImageMap
from simulator.jobs.records import JobRecord, now
from simulator.jobs.throttle import throttled_client


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
    # "auto" | "namespace" | "fallback"; None: $SMSIM_CONTAINER_MODE, else auto.
    container_mode: str | None = None
    # (job, host) → a sink publishing each MetricDefinitions match (name, value, time) to
    # CloudWatch metrics, as the service does.
    metrics: Callable[[str, str], Callable[[str, float, Any], None]] | None = None
    # Faults to inject (simulator.faults, #17): the job's own are taken when its run starts.
    faults: FaultPlan | None = None

    def launcher(self) -> HostLauncher:
        """The host launcher for this job (a bad mode fails the job, by name)."""
        return local_launcher(self.container_mode)


class JobRun:
    """Base of the training and processing runs (subclasses define ``_run``, ``_crash``)."""

    log_group = ""  # the job kind's CloudWatch log group

    def __init__(self, record: JobRecord, ctx: RunContext) -> None:
        self.record = record
        self.ctx = ctx
        self.request = record.request
        self.name = record.name
        # One host today; the job's hosts are a list so that N hosts fit the same frame.
        self.hosts: tuple[str, ...] = (HOST_NAME,)
        self.host = HOST_NAME
        self.layout = HostLayout(record.dir / "hosts" / self.host)
        self.prefix = f"{self.name}/{self.host}"
        self.launcher: HostLauncher | None = None
        self.faults: list[Fault] = []  # the injected faults that strike while this job runs
        self.line_hooks: list[LineSink] = []  # more readers of the entry point's lines

    def log(self, message: str) -> None:
        """A line of smsim's own in the job's live log."""
        self.ctx.sink(f"[{self.prefix}] [smsim] {message}")

    def run(self) -> None:
        """Run the job to its end; the thread target."""
        try:
            try:
                self.launcher = self.ctx.launcher()
            except SmsimError as exc:
                self._crash(f"ClientError: {exc}")
                return
            self.log(f"container mode: {self.launcher.mode} ({self.launcher.reason})")
            if not self._take_faults():
                self._run()
        except Exception as exc:  # noqa: BLE001 - every failure must end up in the description
            self._crash(f"InternalServerError: smsim could not run the job: {exc}")
        finally:
            self.record.done.set()

    def _run(self) -> None:
        raise NotImplementedError

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
        """The host tree as the job's process sees it (``/opt/ml`` in a namespace)."""
        assert self.launcher is not None, "the launcher is chosen when the run starts"
        return self.launcher.view(self.layout)

    def execute(
        self, argv: list[str], cwd: Path, env: dict[str, str], metrics: MetricParser | None = None
    ) -> ProcessResult:
        """Run the entry point (argv, cwd and env in the container's terms: ``view``)
        under the job's runtime limit and stop event."""
        assert self.launcher is not None
        self.log("running: " + " ".join(argv))
        stream = f"{self.prefix}-{int(now().timestamp())}"
        cloudwatch = self.ctx.cloudwatch(self.log_group, stream) if self.ctx.cloudwatch else None
        readers = [r for r in (cloudwatch, *self.line_hooks) if r is not None]

        if metrics is not None and self.ctx.metrics is not None:
            _publish_matches(metrics, self.ctx.metrics(self.name, self.host))

        def spawned(pgid: int) -> None:
            self.record.process_group = pgid

        watch = Supervision(
            log_dir=self.record.dir / "logs",
            prefix=self.prefix,
            sink=self.ctx.sink,
            note=self.log,
            metrics=metrics,
            max_runtime=self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
            stop_event=self.record.stop_event,
            grace_seconds=self.ctx.grace_seconds,
            on_line=_fan_out(readers),
            on_spawn=spawned,
        )
        command = HostCommand(self.host, self.hosts, self.layout, argv, str(cwd), env)
        try:
            return self.launcher.run(command, watch)
        finally:
            self.record.process_group = None  # reaped: its id may be reused


def _fan_out(readers: list[LineSink]) -> LineSink | None:
    if len(readers) <= 1:
        return readers[0] if readers else None

    def read_all(line: str) -> None:
        for read in readers:
            read(line)

    return read_all


def _publish_matches(parser: MetricParser, publish: Callable[[str, float, Any], None]) -> None:
    """Send every value ``parser`` takes from a line to ``publish`` too (the parser keeps
    only each metric's last value, for FinalMetricDataList)."""
    feed = parser.feed

    def feed_and_publish(line: str) -> None:
        before = dict(parser.values)
        feed(line)
        for name, value in parser.values.items():
            if before.get(name) is not value:
                publish(name, value.value, value.timestamp)

    parser.feed = feed_and_publish  # type: ignore[method-assign]
