"""Managed Spot training: injected interruptions, restarts from checkpoints, MaxWait (#17).

The service's rules followed here (DescribeTrainingJob's SecondaryStatus, StoppingCondition
and the developer guide's "Managed Spot Training"):

* when the Spot instance is reclaimed the container gets SIGTERM (then SIGKILL after the
  grace period), the checkpoints in ``CheckpointConfig.LocalPath`` are synced to S3, the
  job shows ``Interrupted``, and it restarts on a fresh instance — Starting →
  Downloading → Training again — with the checkpoints restored from S3;
* ``MaxWaitTimeInSeconds`` bounds the whole job, waiting for capacity included: over it
  the job ends ``Stopped`` / ``MaxWaitTimeExceeded``;
* the time spent waiting for Spot capacity is not billed: ``BillableTimeInSeconds`` <
  ``TrainingTimeInSeconds`` once a job was interrupted (the console's savings).

An interruption is a ``SpotInterruption`` fault (``simulator.faults``): ``at_seconds`` into
a training attempt, or right after a log line matching ``after_line``; each strikes once,
in the order planned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from simulator.faults import Fault
from simulator.jobs.records import now
from simulator.jobs.training.retry import fresh_instances

if TYPE_CHECKING:
    from simulator.jobs.training.run import TrainingRun

INTERRUPTED = "Interrupted"
MAX_WAIT = "MaxWaitTimeExceeded"


class SpotTraining:
    """The Spot side of one training job: arms each attempt, resumes after interruptions."""

    def __init__(self, run: TrainingRun, faults: list[Fault]) -> None:
        self.run = run
        self.pending = [f for f in faults if f.kind == "SpotInterruption"]
        stopping = run.request.get("StoppingCondition", {})
        created = run.record.snapshot()["CreationTime"]
        wait = stopping.get("MaxWaitTimeInSeconds")
        self.deadline: dt.datetime | None = (
            created + dt.timedelta(seconds=wait) if wait is not None else None
        )
        self.unbilled = 0.0
        self.interruptions = 0
        self._watch: _Watch | None = None
        self._capacity_wait = 0.0  # of the interruption that struck last

    @classmethod
    def for_run(cls, run: TrainingRun, faults: list[Fault]) -> SpotTraining | None:
        """The job's Spot side; None for an on-demand job (never interrupted)."""
        if not run.request.get("EnableManagedSpotTraining"):
            for fault in faults:
                if fault.kind == "SpotInterruption":
                    run.log(
                        "SpotInterruption ignored: the job does not set "
                        "EnableManagedSpotTraining (on-demand instances are not reclaimed)"
                    )
            return None
        return cls(run, faults)

    # -- one training attempt ---------------------------------------------------------
    def arm(self) -> None:
        """Before the entry point starts: watch for this attempt's interruption and MaxWait."""
        fault = self.pending.pop(0) if self.pending else None
        self._watch = _Watch(self.run, fault, self.deadline)
        self._watch.start()

    def on_line(self, line: str) -> None:
        if self._watch is not None:
            self._watch.on_line(line)

    def outcome(self) -> str | None:
        """After the entry point ended: ``Interrupted``, ``MaxWaitTimeExceeded`` or None."""
        watch, self._watch = self._watch, None
        if watch is None:
            return None
        watch.cancel()
        if watch.fault is not None:
            self._capacity_wait = watch.fault.wait_seconds
        return watch.struck

    # -- after an interruption --------------------------------------------------------
    def resume(self) -> None:
        """Sync checkpoints, show Interrupted, wait for capacity, run the job again."""
        run, rec = self.run, self.run.record
        self.interruptions += 1
        interrupted_at = time.monotonic()
        rec.transition(INTERRUPTED, "Training job interrupted: the Spot instance was reclaimed")
        run.log(f"spot interruption {self.interruptions}: checkpoints synced, instance gone")
        # What the script saved in its grace period synced; a new instance: a fresh /opt/ml,
        # restored from S3 as at the job's start.
        error = fresh_instances(run)
        if error is not None:
            return run._fail(f"ClientError: syncing checkpoints after the interruption: {error}")
        if self._wait_for_capacity(self._capacity_wait):
            self.unbilled += time.monotonic() - interrupted_at
            return run._finish_stopped(MAX_WAIT)
        if rec.stop_event.is_set():
            return run._finish_stopped("Stopped")
        self.unbilled += time.monotonic() - interrupted_at
        rec.transition("Starting", "Launching requested ML instances after the interruption")
        run._run()

    def bill(self, fields: dict[str, Any]) -> None:
        """BillableTimeInSeconds without the unbilled wait for capacity."""
        if self.interruptions:
            training = fields["TrainingTimeInSeconds"]
            fields["BillableTimeInSeconds"] = max(1, training - max(1, round(self.unbilled)))

    def _wait_for_capacity(self, seconds: float) -> bool:
        """Wait ``seconds``; True when MaxWaitTimeInSeconds ran out meanwhile."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.deadline is not None and now() >= self.deadline:
                return True
            if self.run.record.stop_event.wait(0.05):
                return False
        return self.deadline is not None and now() >= self.deadline


class _Watch(threading.Thread):
    """Strikes one attempt: at its time, after its line, or at MaxWait."""

    def __init__(self, run: TrainingRun, fault: Fault | None, deadline: dt.datetime | None):
        super().__init__(name=f"smsim-spot-{run.name}", daemon=True)
        self.job = run
        self.fault = fault
        self.deadline = deadline
        self.regex = re.compile(fault.after_line) if fault and fault.after_line else None
        self.struck: str | None = None
        self._start = time.monotonic()
        self._line_seen = threading.Event()
        self._cancel = threading.Event()

    def on_line(self, line: str) -> None:
        if self.regex is not None and self.regex.search(line):
            self._line_seen.set()

    def cancel(self) -> None:
        self._cancel.set()
        self.join(timeout=5)

    def run(self) -> None:  # noqa: D102 - the thread's body
        at = self.fault.at_seconds if self.fault is not None else None
        while not self._cancel.wait(0.05):
            if self.deadline is not None and now() >= self.deadline:
                return self._strike(MAX_WAIT)
            if at is not None and time.monotonic() - self._start >= at:
                return self._strike(INTERRUPTED)
            if self._line_seen.is_set():
                return self._strike(INTERRUPTED)

    def _strike(self, what: str) -> None:
        record = self.job.record
        while record.process_group is None and not self._cancel.wait(0.02):
            pass  # not spawned yet
        pgid = record.process_group
        if pgid is None:
            return
        self.struck = what
        self.job.log(f"{what}: SIGTERM to the entry point (Spot)")
        _signal(pgid, signal.SIGTERM)
        # The grace period the service gives, then SIGKILL (as StopTrainingJob).
        if not self._cancel.wait(self.job.ctx.settings.grace_seconds):
            _signal(pgid, signal.SIGKILL)


def _signal(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
