"""The DescribeHyperParameterTuningJob response of one tuning job, and its record.

    <workspace>/tuning-jobs/<HyperParameterTuningJobName>/
        request.json        the CreateHyperParameterTuningJob request as received
        describe.json       the DescribeHyperParameterTuningJob response, at every change
        training-jobs.json  its HyperParameterTrainingJobSummary items (the List… response)

A :class:`TuningRecord` owns both documents while the tuning job runs; every change
is validated against botocore's output shapes before it is kept. The counters and
the best job are derived from the summaries, never kept apart from them:

* TrainingJobStatusCounters: Completed, InProgress (Stopping counts), Stopped, and
  NonRetryableError for a failed job (smsim retries nothing, so RetryableError is 0);
* ObjectiveStatusCounters: Succeeded (an objective was read), Pending (running),
  Failed (the job failed, or its FinalMetricDataList lacks the objective);
* BestTrainingJob: the summary with the best objective (lowest when minimizing);
  OverallBestTrainingJob also weighs the parents' jobs of a warm start.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from simulator import owner
from simulator.jobs.records import from_json_times, now, to_json, with_fields
from simulator.shapes import validate_response

TUNING_DIR = "tuning-jobs"
TERMINAL = {"Completed", "Failed", "Stopped"}


def tuning_dir(workspace: Path, name: str) -> Path:
    return workspace / TUNING_DIR / name


def initial_description(request: dict[str, Any], arn: str) -> dict[str, Any]:
    """The InProgress description recorded at create: the request echoed, counters at 0."""
    t = now()
    config = copy.deepcopy(request["HyperParameterTuningJobConfig"])
    config.setdefault("TrainingJobEarlyStoppingType", "Off")  # the service's default
    desc: dict[str, Any] = {
        "HyperParameterTuningJobName": request["HyperParameterTuningJobName"],
        "HyperParameterTuningJobArn": arn,
        "HyperParameterTuningJobConfig": config,
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": t,
        "LastModifiedTime": t,
        "TrainingJobStatusCounters": counters([])[0],
        "ObjectiveStatusCounters": counters([])[1],
    }
    for key in ("TrainingJobDefinition", "TrainingJobDefinitions", "WarmStartConfig"):
        if key in request:
            desc[key] = copy.deepcopy(request[key])
    return desc


def counters(summaries: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """(TrainingJobStatusCounters, ObjectiveStatusCounters) of the summaries."""
    status = dict.fromkeys(
        ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
    )
    objective = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
    for s in summaries:
        job = s["TrainingJobStatus"]
        key = {"Failed": "NonRetryableError", "Stopping": "InProgress"}.get(job, job)
        status[key] += 1
        objective[s.get("ObjectiveStatus", "Pending")] += 1
    return status, objective


def best(summaries: list[dict[str, Any]], minimize: bool) -> dict[str, Any] | None:
    """The summary with the best final objective (the earliest of equals), or None."""
    scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    if not scored:
        return None
    sign = 1.0 if minimize else -1.0
    return min(
        scored,
        key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    )


def summary(
    train: dict[str, Any],
    tuning_name: str,
    tuned: dict[str, str],
    objective: dict[str, str],
    definition: str | None,
) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary from the training job's DescribeTrainingJob."""
    out: dict[str, Any] = {
        "TrainingJobName": train["TrainingJobName"],
        "TrainingJobArn": train["TrainingJobArn"],
        "TuningJobName": tuning_name,
        "CreationTime": train["CreationTime"],
        "TrainingJobStatus": train["TrainingJobStatus"],
        "TunedHyperParameters": dict(tuned),
    }
    if definition is not None:
        out["TrainingJobDefinitionName"] = definition
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if key in train:
            out[key] = train[key]
    status = train["TrainingJobStatus"]
    if status in ("InProgress", "Stopping"):
        out["ObjectiveStatus"] = "Pending"
        return out
    value = objective_value(train, objective["MetricName"])
    if value is None:
        out["ObjectiveStatus"] = "Failed"
        return out
    out["ObjectiveStatus"] = "Succeeded"
    out["FinalHyperParameterTuningJobObjectiveMetric"] = {
        "Type": objective["Type"],
        "MetricName": objective["MetricName"],
        "Value": value,
    }
    return out


def objective_value(train: dict[str, Any], metric: str) -> float | None:
    """The objective as the service reads it: the job's FinalMetricDataList entry."""
    if train.get("TrainingJobStatus") == "Failed":
        return None
    for m in train.get("FinalMetricDataList", []):
        if m.get("MetricName") == metric:
            return float(m["Value"])
    return None


class TuningRecord:
    """One tuning job's description and training job summaries; thread-safe, persisted."""

    def __init__(
        self,
        directory: Path,
        request: dict[str, Any],
        describe: dict[str, Any],
        minimize: bool,
        prior: list[dict[str, Any]] | None = None,
    ) -> None:
        self.dir = directory
        self.name = request["HyperParameterTuningJobName"]
        self.request = request
        self.minimize = minimize
        self.prior = prior or []  # parents' summaries (warm start), for OverallBestTrainingJob
        self._describe = describe
        self._summaries: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self.done = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def status(self) -> str:
        with self._lock:
            return str(self._describe["HyperParameterTuningJobStatus"])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._describe)

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._summaries.values()))

    def write_request(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "request.json").write_text(to_json(self.request))

    def set_summary(self, item: dict[str, Any]) -> None:
        """Add or replace one training job's summary; counters and best job follow."""
        with self._lock:
            self._summaries[item["TrainingJobName"]] = item
            self.update()

    def update(self, **fields: Any) -> None:
        """Set members (None removes one), recompute the derived ones, validate, persist."""
        with self._lock:
            describe = with_fields(self._describe, fields)
            items = list(self._summaries.values())
            status, objective = counters(items)
            describe["TrainingJobStatusCounters"] = status
            describe["ObjectiveStatusCounters"] = objective
            top = best(items, self.minimize)
            if top is not None:
                describe["BestTrainingJob"] = copy.deepcopy(top)
            if self.prior:
                overall = best([*items, *self.prior], self.minimize)
                if overall is not None:
                    describe["OverallBestTrainingJob"] = copy.deepcopy(overall)
            describe["LastModifiedTime"] = now()
            validate_response("DescribeHyperParameterTuningJob", describe)
            self._describe = describe
            self._persist(describe, items)

    def request_stop(self) -> None:
        """StopHyperParameterTuningJob: an InProgress job shows Stopping; the run stops it."""
        with self._lock:
            if self.status in TERMINAL:
                return
            self.stop_event.set()
            if self.status == "InProgress":
                self.update(HyperParameterTuningJobStatus="Stopping")

    def _persist(self, describe: dict[str, Any], items: list[dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, doc in (("describe.json", describe), ("training-jobs.json", items)):
            tmp = self.dir / f"{name}.tmp"
            tmp.write_text(to_json(doc))
            tmp.replace(self.dir / name)


def load_stored(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A tuning job an earlier session kept in the workspace: (describe, summaries)."""
    try:
        describe = json.loads((directory / "describe.json").read_text())
        items = json.loads((directory / "training-jobs.json").read_text())
    except (OSError, ValueError):
        return None
    describe = from_json_times(describe)
    running = describe["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping")
    if running and not owner.runner_alive(directory):  # its simulator died: it cannot go on
        describe = _end_orphaned(directory, describe)
    return describe, from_json_times(items)


def _end_orphaned(directory: Path, describe: dict[str, Any]) -> dict[str, Any]:
    t = now()
    describe = {
        **describe,
        "HyperParameterTuningJobStatus": "Failed",
        "FailureReason": owner.RUNNER_GONE,
        "HyperParameterTuningEndTime": t,
        "LastModifiedTime": t,
    }
    tmp = directory / "describe.json.tmp"
    tmp.write_text(to_json(describe))
    tmp.replace(directory / "describe.json")
    return describe


def elapsed_seconds(start: dt.datetime) -> int:
    return max(0, round((now() - start).total_seconds()))
