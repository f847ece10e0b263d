"""``TrainingJobEarlyStoppingType: Auto``: the service's median rule.

SageMaker (developer guide, "Stop Training Jobs Early"): after each epoch of a
training job, take its objective value; compute, for every previous training job,
the running average of its objective up to the same epoch, and the median of those
running averages; when the current value is worse (higher when minimizing, lower
when maximizing) than that median, stop the job. The rule is this specific, so it
is written out here rather than approximated by a library pruner (optuna's
MedianPruner compares best-so-far values with other trials' values, not running
averages).
"""

from __future__ import annotations

import statistics
import threading


class MedianStopping:
    """Curves (objective per epoch) of ended jobs, and the stop decision for a running one."""

    def __init__(self, minimize: bool) -> None:
        self.minimize = minimize
        self._curves: list[list[float]] = []
        self._lock = threading.Lock()

    def add_finished(self, curve: list[float]) -> None:
        """An ended job's objective values, one per epoch, in order."""
        if curve:
            with self._lock:
                self._curves.append(list(curve))

    def should_stop(self, curve: list[float]) -> bool:
        """Whether a running job whose objective values so far are ``curve`` stops now."""
        epoch = len(curve)
        if epoch == 0:
            return False
        with self._lock:
            averages = [statistics.fmean(c[:epoch]) for c in self._curves if len(c) >= epoch]
        if not averages:
            return False  # no previous job reached this epoch: nothing to compare with
        median = statistics.median(averages)
        current = curve[-1]
        return current > median if self.minimize else current < median
