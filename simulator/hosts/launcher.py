"""Run a job's entry point: live prefixed logs, log files, metrics, runtime limit, stop.

SageMaker's rules followed here:
* every stdout/stderr line goes to the job's log stream (CloudWatch
  ``<job>/algo-1-…``); here to the console prefixed ``[job/algo-1]`` and to ``logs/``;
* each line is matched against every MetricDefinitions regex; the first group
  is the value and the last value of each metric is the final one;
* ``MaxRuntimeInSeconds`` and StopTrainingJob send SIGTERM, wait a grace
  period, then SIGKILL.

The launcher interface (``HostLauncher``): given one host's command as its container
sees it (``HostCommand``: layout, argv, cwd, environment) and how to supervise it
(``Supervision``: log sinks, metrics, MaxRuntime, stop), start the host's process and
return how it ended. ``hosts/local.py`` is the local subprocess implementation (in a
mount namespace or in fallback mode); a job of N hosts calls ``run`` once per host, in
N threads (``jobs/runner.py``); ``hosts/ray_launcher.py`` runs them on a Ray cluster.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

from simulator.hosts.keeper import keeper_argv
from simulator.hosts.layout import HostLayout
from simulator.shapes import limit

if TYPE_CHECKING:
    from simulator.hosts.node_plan import NodePlan
    from simulator.s3 import S3Uri

# SageMaker keeps at most this many metric definitions per job (botocore's model says 40).
MAX_METRICS = limit("MetricDefinitionList")
STDERR_TAIL_LINES = 20
_print_lock = threading.Lock()

LineSink = Callable[[str], None]


def console_sink(stream: TextIO | None = None) -> LineSink:
    """A sink writing whole lines to ``stream`` (default: stderr at call time)."""

    def sink(line: str) -> None:
        out = stream or sys.stderr
        with _print_lock:  # lines of parallel jobs never interleave mid-line
            out.write(line + "\n")
            out.flush()

    return sink


@dataclass
class MetricValue:
    value: float
    timestamp: dt.datetime


@dataclass
class MetricParser:
    """Applies MetricDefinitions to log lines; keeps the last value of each metric."""

    definitions: list[dict[str, str]]
    values: dict[str, MetricValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled = [(d["Name"], re.compile(d["Regex"])) for d in self.definitions]
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        # SageMaker matches the regexes on the CloudWatch text of a line, where a tab
        # shows as #011 (the XGBoost images' own metric regexes rely on it).
        line = line.replace("\t", "#011")
        for name, regex in self._compiled:
            match = regex.search(line)
            if not match:
                continue
            text = match.group(1) if regex.groups else match.group(0)
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue  # SageMaker ignores a match that is not a number
            with self._lock:
                self.values[name] = MetricValue(value, dt.datetime.now(dt.UTC))

    def final(self) -> list[dict[str, Any]]:
        """FinalMetricDataList, in MetricDefinitions order."""
        with self._lock:
            return [
                {
                    "MetricName": n,
                    "Value": self.values[n].value,
                    "Timestamp": self.values[n].timestamp,
                }
                for n, _ in self._compiled
                if n in self.values
            ]


class HostLines:
    """Where each line of a host's process goes, in the order SageMaker's agent handles it:
    ``logs/algo-k.log`` (and ``algo-k.stderr.log``), the stderr tail kept for the
    FailureReason, the metric parser, ``on_line`` (CloudWatch), the console prefixed
    ``[job/algo-k]``. One body for a local process's pipes and a remote host's lines."""

    def __init__(
        self,
        log_dir: Path,
        prefix: str,
        *,
        sink: LineSink | None = None,
        metrics: MetricParser | None = None,
        on_line: LineSink | None = None,
        tap: Callable[[str, bool], None] | None = None,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        host = prefix.rsplit("/", 1)[-1]
        self.prefix = prefix
        self.sink = sink or console_sink()
        self.metrics = metrics
        self.on_line = on_line
        self.tap = tap  # (line, is_err): a remote host's node ships its lines back with it
        self._combined = open(log_dir / f"{host}.log", "a", encoding="utf-8")  # noqa: SIM115
        self._err = open(log_dir / f"{host}.stderr.log", "a", encoding="utf-8")  # noqa: SIM115
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._lock = threading.Lock()

    def feed(self, line: str, is_err: bool) -> None:
        """One whole line (no newline) of the host's stdout (``is_err`` False) or stderr."""
        with self._lock:
            self._combined.write(line + "\n")
            self._combined.flush()
            if is_err:
                self._err.write(line + "\n")
                self._err.flush()
                self._tail.append(line)
        if self.tap is not None:
            self.tap(line, is_err)
        if self.metrics is not None:
            self.metrics.feed(line)
        if self.on_line is not None:
            self.on_line(line)
        self.sink(f"[{self.prefix}] {line}")

    def tail(self) -> list[str]:
        """The last stderr lines (the FailureReason's ErrorMessage)."""
        with self._lock:
            return list(self._tail)

    def close(self) -> None:
        self._combined.close()
        self._err.close()


@dataclass
class ProcessResult:
    exit_code: int | None
    stop_reason: str | None  # None | "MaxRuntimeExceeded" | "Stopped"
    stderr_tail: list[str]
    duration: float
    # Why the host's machine was lost under it (a Ray node that died), None otherwise:
    # the job fails with an InternalServerError naming it, not an AlgorithmError.
    lost: str | None = None


@dataclass(frozen=True)
class HostCommand:
    """One host's entry point, in the container's terms (``/opt/ml`` paths throughout)."""

    host: str  # "algo-1"
    hosts: tuple[str, ...]  # every host of the job: the private /etc/hosts lists them
    layout: HostLayout  # the host tree on disk: what the container sees as /opt/ml
    argv: list[str]
    cwd: str
    env: dict[str, str]
    # host → the address its name resolves to in the private /etc/hosts (default 127.0.0.k)
    addresses: Mapping[str, str] | None = None
    # What the host's node stages from S3 itself (launchers with ``stages_on_node``).
    plan: NodePlan | None = None


@dataclass
class Supervision:
    """How a launcher watches a host's process: where its lines go, when it must stop."""

    log_dir: Path
    prefix: str  # "<job>/algo-1": the console prefix and the log file's name
    sink: LineSink
    note: LineSink  # smsim's own lines about this host (mode, rewrites)
    metrics: MetricParser | None = None
    max_runtime: float | None = None
    stop_event: threading.Event | None = None
    grace_seconds: float = 120.0
    on_line: LineSink | None = None
    on_spawn: Callable[[int], None] | None = None
    tap: Callable[[str, bool], None] | None = None  # (line, is_err) of every line, first


@dataclass(frozen=True)
class Booking:
    """What a job asks of its launcher before its hosts are prepared (``reserve``)."""

    job: str
    instance_types: dict[str, str]  # host → its instance type
    stop_event: threading.Event  # set: stop waiting (the job was stopped)
    log: LineSink  # the job's own lines (placement, waiting)


class HostLauncher(Protocol):
    """Starts a host's process; see the module docstring."""

    mode: str  # how hosts start: "namespace" | "fallback" (local), "ray"
    reason: str  # why this mode (shown in the job's log)
    # True when the hosts run on other machines: the run then *plans* each host's S3
    # downloads and syncs (``hosts/node_plan.py``) for the host's node to carry out.
    stages_on_node: bool

    def reserve(self, booking: Booking) -> None:
        """Before the hosts are prepared: wait for room for every host of the booking, or
        until its stop event is set. Local: nothing to do."""
        ...

    def release(self) -> None:
        """After the job: give back what ``reserve`` took (local: nothing)."""
        ...

    def view(self, layout: HostLayout) -> HostLayout:
        """The layout as the host's process sees it (``/opt/ml`` or the tree's real path):
        what the SM_* variables, the argv and the working directory are built against."""
        ...

    def address(self, host: str) -> str:
        """What a host's process connects to for ``host`` (``algo-k``): the name itself
        where it resolves (a namespace's private /etc/hosts), else an address that works."""
        ...

    def run(self, command: HostCommand, watch: Supervision) -> ProcessResult:
        """Run ``command`` to its end, stop or time limit. A job's hosts are run by one
        launcher, each ``run`` in its own thread, concurrently."""
        ...


class NodeUploads(Protocol):
    """A launcher whose hosts run on other machines (``stages_on_node``) keeps each host's
    tree on its node until ``release``; the artifacts are uploaded from there, as each
    SageMaker instance uploads its own (the Ray launcher)."""

    def upload_archive(self, part: str, target: S3Uri) -> list[str]:
        """Every host's ``part`` of its tree in one tar.gz at ``target``; clash warnings."""
        ...

    def upload_dir(self, host: str, part: str, target: S3Uri) -> None:
        """The host's ``part`` directory uploaded under the prefix ``target``."""
        ...


def node_uploads(launcher: HostLauncher | None) -> NodeUploads | None:
    """The launcher as ``NodeUploads`` when its hosts' trees are on their nodes, else None
    (local hosts: the run uploads from its own tree)."""
    return cast(NodeUploads, launcher) if launcher is not None and launcher.stages_on_node else None


class OnThisMachine:
    """``reserve``/``release`` of a launcher whose hosts are processes of this machine: the
    machine's capacity is not booked (as before the Ray backend), inputs are staged here."""

    stages_on_node = False

    def reserve(self, booking: Booking) -> None:
        return None

    def release(self) -> None:
        return None


def run_supervised(
    argv: list[str], cwd: Path, env: dict[str, str], watch: Supervision
) -> ProcessResult:
    """``run_process`` with a ``Supervision``'s settings."""
    return run_process(
        argv,
        cwd=cwd,
        env=env,
        log_dir=watch.log_dir,
        prefix=watch.prefix,
        metrics=watch.metrics,
        max_runtime=watch.max_runtime,
        stop_event=watch.stop_event,
        grace_seconds=watch.grace_seconds,
        sink=watch.sink,
        on_line=watch.on_line,
        on_spawn=watch.on_spawn,
        tap=watch.tap,
    )


def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_dir: Path,
    prefix: str,
    metrics: MetricParser | None = None,
    max_runtime: float | None = None,
    stop_event: threading.Event | None = None,
    grace_seconds: float = 120.0,
    sink: LineSink | None = None,
    on_line: LineSink | None = None,
    on_spawn: Callable[[int], None] | None = None,
    tap: Callable[[str, bool], None] | None = None,
) -> ProcessResult:
    """Run ``argv`` to the end (or until stopped / over time); see the module docstring.

    ``on_spawn`` gets the process group id once the process runs (its pid).
    """
    lines = HostLines(log_dir, prefix, sink=sink, metrics=metrics, on_line=on_line, tap=tap)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            keeper_argv(argv),  # dies with this process, and kills the script's tree then
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: signals reach its children too
        )
    except OSError as exc:
        lines.close()
        return ProcessResult(127, None, [f"cannot start {argv[0]!r}: {exc}"], 0.0)
    if on_spawn is not None:
        on_spawn(proc.pid)

    def pump(stream: Any, is_err: bool) -> None:
        for raw in iter(stream.readline, b""):
            lines.feed(raw.decode("utf-8", errors="replace").rstrip("\r\n"), is_err)
        stream.close()

    readers = [
        threading.Thread(target=pump, args=(proc.stdout, False), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, True), daemon=True),
    ]
    for reader in readers:
        reader.start()

    stop_reason: str | None = None
    deadline = start + max_runtime if max_runtime else None
    while proc.poll() is None:
        if stop_event is not None and stop_event.is_set():
            stop_reason = "Stopped"
        elif deadline is not None and time.monotonic() >= deadline:
            stop_reason = "MaxRuntimeExceeded"
        if stop_reason:
            _terminate(proc, grace_seconds)
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
    proc.wait()
    if stop_reason is None and stop_event is not None and stop_event.is_set() and proc.returncode:
        stop_reason = "Stopped"  # killed for a stop before this loop saw it (close() interrupted)
    # A container ends with its entry point: processes it left behind in its group
    # (a background `cmd &`, a worker it forgot) go too, and release the log pipes.
    _signal_group(proc, signal.SIGKILL)
    for reader in readers:
        reader.join(timeout=5)
    lines.close()
    return ProcessResult(proc.returncode, stop_reason, lines.tail(), time.monotonic() - start)


def _terminate(proc: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """SIGTERM the process group, then SIGKILL after the grace period (SageMaker's stop)."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
