"""A training job's RetryStrategy (#19): an InternalServerError retried on fresh instances.

The service's rule, in botocore's model of CreateTrainingJob (DescribeTrainingJob echoes
it): ``RetryStrategy`` is "The number of times to retry the job when the job fails due to
an InternalServerError"; its ``MaximumRetryAttempts`` (1–30) "The number of times to retry
the job. When the job is retried, it's SecondaryStatus is changed to STARTING". What smsim
counts as an InternalServerError: a host whose instance is lost (a Ray node that died,
``ProcessResult.lost``), smsim's own "InternalServerError: smsim could not run the job",
an injected ``InternalServerError`` fault (``simulator.faults``). A script's error
(AlgorithmError) or the caller's (ClientError), a CapacityError, a stop are never
retried; without a RetryStrategy nothing is.

A retry, as the service restarts a job: the attempt's room is released (on the Ray backend
its placement group: the lost node's agent is gone) and the job goes back to ``Starting``
("Launching requested ML instances: retry k of N after InternalServerError: …", one
SecondaryStatusTransitions entry) on fresh instances — every host's ``/opt/ml`` anew, the
checkpoints restored from ``CheckpointConfig.S3Uri`` as at the job's start
(``fresh_instances``, which a managed Spot restart shares, ``spot.py``). The job's faults are
taken again: a retry is the job's next attempt (``attempt`` N of a fault). After the last
retry the job fails with the last attempt's reason.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from simulator.hosts.layout import clip

if TYPE_CHECKING:
    from simulator.jobs.training.run import TrainingRun

RETRIED = "InternalServerError"  # the FailureReason prefix the service retries


def fresh_instances(run: TrainingRun) -> str | None:
    """Before a job restarts on new instances (a Spot restart, a retry): what the hosts'
    checkpoints hold synced to S3, then every host's tree removed, so the next attempt
    stages a fresh ``/opt/ml`` and restores its checkpoints from S3 as at the job's start.
    Why the sync failed, None when it did not."""
    try:
        run._sync_checkpoints()  # what the script saved before its instance went
    except Exception as exc:  # noqa: BLE001 - the job cannot restart without them
        return str(exc)
    for layout in run.layouts.values():
        shutil.rmtree(layout.root, ignore_errors=True)
    return None


class TrainingRetry:
    """The RetryStrategy of one training job: which failure is retried, and the retry."""

    def __init__(self, run: TrainingRun, maximum: int) -> None:
        self.run = run
        self.maximum = maximum
        self.retries = 0
        self.pending: str | None = None  # the reason of the attempt to retry

    @classmethod
    def for_run(cls, run: TrainingRun) -> TrainingRetry | None:
        """The job's retries; None without a RetryStrategy (its first failure ends it)."""
        strategy = run.request.get("RetryStrategy")
        if not strategy:
            return None
        return cls(run, int(strategy["MaximumRetryAttempts"]))

    def takes(self, reason: str) -> bool:
        """True when the job failing with ``reason`` is retried rather than ended: an
        InternalServerError with retries left, the job not being stopped, its launcher
        chosen (``JobRun.run`` then calls ``again`` once the attempt is over)."""
        if not reason.startswith(RETRIED) or self.retries >= self.maximum:
            return False
        if self.run.record.stop_event.is_set() or self.run.launcher is None:
            return False
        self.pending = reason
        self.run.log(f"attempt {self.retries + 1} failed: {reason.splitlines()[0]}")
        return True

    def again(self) -> bool:
        """After an attempt (its room released): True when the job runs once more, its
        record back at Starting on fresh instances; False when nothing is to be retried."""
        reason, self.pending = self.pending, None
        if reason is None:
            return False
        self.retries += 1
        error = fresh_instances(self.run)
        if error is not None:
            self.retries = self.maximum  # this failure is the job's end, not retried
            self.run._fail(f"ClientError: syncing checkpoints before the retry: {error}")
            return False
        where = f"retry {self.retries} of {self.maximum}"
        self.run.log(f"{where}: the job restarts on fresh instances")
        self.run.record.transition(
            "Starting",
            clip(f"Launching requested ML instances: {where} after {reason.splitlines()[0]}"),
        )
        return True
