"""One tuning job run: a scheduler of real training jobs on top of a search strategy.

``TuningRun.run`` (a background thread) keeps at most MaxParallelTrainingJobs
training jobs running, each created through smsim's own training path (the
:class:`TrainingBackend`: same checks, same descriptions, ``TuningJobArn`` set),
until MaxNumberOfTrainingJobs were launched, the strategy has nothing left (Grid),
a completion criterion is met (TargetObjectiveMetricValue reached,
BestObjectiveNotImproving), MaxRuntimeInSeconds passes, or the tuning job is
stopped (its running training jobs are stopped too). Each job's objective is its
FinalMetricDataList entry; while it runs, its intermediate objective values (one per
epoch, read from its log with the objective's own regex, as the service reads the
metric stream) feed Hyperband and the ``Auto`` median rule, which stop it early.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.errors import SmsimError
from simulator.jobs.records import now
from simulator.jobs.tuning.checks import TuningPlan
from simulator.jobs.tuning.description import TuningRecord, best, elapsed_seconds, summary
from simulator.jobs.tuning.early_stopping import MedianStopping
from simulator.jobs.tuning.requests import training_job_name, training_request
from simulator.jobs.tuning.strategies import Proposal, Strategy

_FAILURE_MAX = 1024


class TrainingBackend(Protocol):
    """How a tuning job reaches training jobs (the facade today, the endpoint later)."""

    def create_training_job(self, request: dict[str, Any], tuning_job_arn: str) -> str:
        """Create (and start) a training job; its ARN. Raises SmsimError when refused."""
        ...

    def describe_training_job(self, name: str) -> dict[str, Any]: ...

    def stop_training_job(self, name: str) -> None: ...

    def metric_values(self, name: str, regex: str) -> list[float]:
        """Every value the job's log has emitted so far for ``regex``, in order."""
        ...


@dataclass
class _Running:
    name: str
    proposal: Proposal
    regex: str
    early: bool = False  # stopped by early stopping, not by the user
    curve: list[float] = field(default_factory=list)


@dataclass
class TuningRun:
    """Executes one recorded tuning job (call ``run`` in a thread)."""

    record: TuningRecord
    plan: TuningPlan
    strategy: Strategy
    backend: TrainingBackend
    poll_interval: float = field(default=0.1, kw_only=True)

    def __post_init__(self) -> None:
        record, plan = self.record, self.plan
        config = record.request["HyperParameterTuningJobConfig"]
        self.auto_stopping = config.get("TrainingJobEarlyStoppingType") == "Auto"
        self.hyperband = config["Strategy"] == "Hyperband"
        self.median = MedianStopping(plan.minimize)
        criteria = config.get("TuningJobCompletionCriteria", {})
        self.target = criteria.get("TargetObjectiveMetricValue")
        self.not_improving = criteria.get("BestObjectiveNotImproving", {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        self.arn = record.snapshot()["HyperParameterTuningJobArn"]
        self.running: dict[str, _Running] = {}
        self._recorded: dict[str, dict[str, Any]] = {}  # last summary kept, by job
        self.launched = 0
        self.exhausted = False
        self._since_best = 0  # finished jobs since the best objective last improved
        self._best: float | None = None
        self._first_failure: str | None = None

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - every failure must end up in the description
            with contextlib.suppress(Exception):  # the training jobs must not outlive it
                self._stop_all()
            self._finish("Failed", f"InternalServerError: smsim could not run the tuning: {exc}")
        finally:
            self.record.done.set()

    def _loop(self) -> None:
        started = self.record.snapshot()["CreationTime"]
        while True:
            if self.record.stop_event.is_set():
                self._stop_all()
                return self._finish("Stopped")
            if self._over_time(started):
                # MaxRuntimeInSeconds bounds the tuning job: its running jobs are stopped,
                # and it ends as any budget-bound tuning job does (Completed with a best).
                self._stop_all()
                return self._finish(*self._outcome())
            self._poll_running()
            if not self._criteria_met():
                self._launch()
            if not self.running and (self._budget_spent() or self._criteria_met()):
                return self._finish(*self._outcome())
            time.sleep(self.poll_interval)

    def _budget_spent(self) -> bool:
        limit = self.plan.max_jobs
        return self.exhausted or (limit is not None and self.launched >= limit)

    def _over_time(self, started: dt.datetime) -> bool:
        limit = self.plan.max_runtime
        return limit is not None and (now() - started).total_seconds() >= limit

    def _criteria_met(self) -> bool:
        if self._best is not None and self.target is not None:
            target = float(self.target)
            if self._best <= target if self.plan.minimize else self._best >= target:
                return True
        return self.not_improving is not None and self._since_best >= int(self.not_improving)

    # -- launching ----------------------------------------------------------------------
    def _launch(self) -> None:
        while len(self.running) < self.plan.max_parallel and not self._budget_spent():
            if self.record.stop_event.is_set():
                return
            proposal = self.strategy.propose()
            if proposal is None:
                self.exhausted = True
                return
            self.launched += 1
            name = training_job_name(self.record.name, self.launched)
            doc = self.plan.documents[proposal.definition]
            request = training_request(doc, name, proposal.hyperparameters)
            try:
                self.backend.create_training_job(request, self.arn)
            except SmsimError as exc:
                # Refused at create (checked at the tuning job's create, so rare): the
                # launch counts as a failed training job, as the service counts it.
                self.strategy.finish(proposal, None)
                self._first_failure = self._first_failure or f"{name}: {exc}"
                continue
            regex = self._objective_regex(doc)
            self.running[name] = _Running(name, proposal, regex)
            self._record(name, proposal)

    def _objective_regex(self, doc: dict[str, Any]) -> str:
        metric = self.plan.objective["MetricName"]
        for m in doc["AlgorithmSpecification"].get("MetricDefinitions", []):
            if m["Name"] == metric:
                return str(m["Regex"])
        return ""

    # -- watching -----------------------------------------------------------------------
    def _poll_running(self) -> None:
        for name, job in list(self.running.items()):
            desc = self.backend.describe_training_job(name)
            status = desc["TrainingJobStatus"]
            if status in ("Completed", "Failed", "Stopped"):
                self._ended(job, desc)
                continue
            if status == "InProgress" and (self.auto_stopping or self.hyperband):
                self._early_stopping(job)
            self._record(name, job.proposal, desc)

    def _early_stopping(self, job: _Running) -> None:
        """Feed each new intermediate objective value to the rule; stop the job when told."""
        if not job.regex or job.early:
            return
        values = self.backend.metric_values(job.name, job.regex)
        for value in values[len(job.curve) :]:
            job.curve.append(value)
            if self.hyperband:
                stop = self.strategy.report(job.proposal, value)
            else:
                stop = self.median.should_stop(job.curve)
            if stop:
                job.early = True
                self.backend.stop_training_job(job.name)
                return

    def _ended(self, job: _Running, desc: dict[str, Any]) -> None:
        del self.running[job.name]
        item = self._record(job.name, job.proposal, desc)
        metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
        value = None if metric is None else float(metric["Value"])
        early = job.early and desc["TrainingJobStatus"] == "Stopped"
        self.strategy.finish(job.proposal, value, early=early)
        if job.regex:
            self.median.add_finished(self.backend.metric_values(job.name, job.regex))
        if value is None:
            reason = desc.get("FailureReason") or "the objective metric was not emitted"
            self._first_failure = self._first_failure or f"{job.name}: {reason}"
            return
        better = self._best is None or (
            value < self._best if self.plan.minimize else value > self._best
        )
        if better:
            self._best, self._since_best = value, 0
        else:
            self._since_best += 1

    def _record(
        self, name: str, proposal: Proposal, desc: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        desc = desc or self.backend.describe_training_job(name)
        item = summary(
            desc,
            self.record.name,
            proposal.hyperparameters,
            self.plan.objective,
            proposal.definition,
        )
        if self._recorded.get(name) != item:  # validate and persist changes only
            self._recorded[name] = item
            self.record.set_summary(item)
        return item

    # -- ending -------------------------------------------------------------------------
    def _stop_all(self) -> None:
        """Stop every running training job and wait until each has ended (Stopped)."""
        for name in list(self.running):
            with contextlib.suppress(SmsimError):  # it ended meanwhile
                self.backend.stop_training_job(name)
        while self.running:
            self._poll_running_ends()
            if self.running:
                time.sleep(self.poll_interval)

    def _poll_running_ends(self) -> None:
        for name, job in list(self.running.items()):
            desc = self.backend.describe_training_job(name)
            if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                self._ended(job, desc)

    def _outcome(self) -> tuple[str, str | None]:
        items = self.record.summaries()
        if best(items, self.plan.minimize) is not None:
            return "Completed", None
        reason = self._first_failure or "no training job was launched"
        return "Failed", f"No training job succeeded; first failure: {reason}"[:_FAILURE_MAX]

    def _finish(self, status: str, reason: str | None = None) -> None:
        started = self.record.snapshot()["CreationTime"]
        fields: dict[str, Any] = {
            "HyperParameterTuningJobStatus": status,
            "HyperParameterTuningEndTime": now(),
            "ConsumedResources": {"RuntimeInSeconds": elapsed_seconds(started)},
            "TuningJobCompletionDetails": {
                "NumberOfTrainingJobsObjectiveNotImproving": self._since_best
            },
        }
        if reason:
            fields["FailureReason"] = reason[:_FAILURE_MAX]
        self.record.update(**fields)


def metric_values_from_log(lines: list[str], regex: str) -> list[float]:
    """The objective values a log's lines emitted for ``regex`` (first group, numbers only),
    as the service's metric parser reads them."""
    pattern = re.compile(regex)
    out = []
    for line in lines:
        match = pattern.search(line)
        if not match:
            continue
        try:
            out.append(float(match.group(1) if pattern.groups else match.group(0)))
        except (TypeError, ValueError):
            continue
    return out
