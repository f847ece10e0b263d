"""The hyperparameter tuning operations, shaped like boto3's (same kwargs, same responses).

    service = TuningService(workspace, region, account_id, backend)
    service.create_hyper_parameter_tuning_job(**request)      # returns at once
    service.wait_for_hyper_parameter_tuning_job(name)          # the final description

It owns the tuning records (the training jobs stay the training path's); whoever
hosts it (the ``LocalSageMaker`` facade, the endpoint's router) hands it a
:class:`~simulator.jobs.tuning.run.TrainingBackend` and forwards the operations.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import threading
from pathlib import Path
from typing import Any

from simulator import owner
from simulator.errors import Problem, ResourceInUse, ResourceNotFound, SmsimError, ValidationError
from simulator.jobs.tuning.checks import check_request
from simulator.jobs.tuning.description import (
    TUNING_DIR,
    TuningRecord,
    initial_description,
    load_stored,
    tuning_dir,
)
from simulator.jobs.tuning.run import TrainingBackend, TuningRun
from simulator.jobs.tuning.strategies import grid_size, make_strategy
from simulator.jobs.tuning.warm_start import parent_trials
from simulator.shapes import validate_request, validate_response


class TuningService:
    """CreateHyperParameterTuningJob and its Describe/List/Stop companions."""

    def __init__(
        self,
        workspace: Path,
        region: str,
        account_id: str,
        backend: TrainingBackend,
        *,
        poll_interval: float = 0.1,
    ) -> None:
        self.workspace = workspace
        self.region = region
        self.account_id = account_id
        self.backend = backend
        self.poll_interval = poll_interval
        self._records: dict[str, TuningRecord] = {}
        self._lock = threading.Lock()
        self._closing = False

    # -- operations ---------------------------------------------------------------------
    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, str]:
        request = copy.deepcopy(request)
        plan = check_request(request)
        name = request["HyperParameterTuningJobName"]
        config = request["HyperParameterTuningJobConfig"]
        prior, prior_summaries = parent_trials(self, request, plan)
        budget = plan.max_jobs
        if config["Strategy"] == "Grid":
            size = grid_size(plan.definitions)
            budget = size if budget is None else min(budget, size)
        strategy = make_strategy(
            config["Strategy"],
            plan.definitions,
            minimize=plan.minimize,
            seed=config.get("RandomSeed"),
            budget=budget or 1,
            hyperband=plan.hyperband,
            study_name=name,
        )
        strategy.warm_start(prior)
        plan = dataclasses.replace(plan, max_jobs=budget)
        arn = (
            f"arn:aws:sagemaker:{self.region}:{self.account_id}:"
            f"hyper-parameter-tuning-job/{name.lower()}"
        )
        directory = tuning_dir(self.workspace, name)
        with self._lock:
            if self._closing:
                raise SmsimError(f"cannot create tuning job {name!r}: the simulator is closing")
            # Names are unique per account and region (a job of an earlier session too).
            if name.lower() in {n.lower() for n in self._records} or directory.exists():
                raise ResourceInUse(
                    f"Hyper parameter tuning job name {name!r} is already in use; choose another"
                )
            record = TuningRecord(
                directory,
                request,
                initial_description(request, arn),
                plan.minimize,
                prior_summaries,
            )
            self._records[name] = record
        try:
            record.write_request()
            owner.claim(directory)  # which simulator runs it: a later one ends it if this dies
            record.update()
        except BaseException:
            with self._lock:
                self._records.pop(name, None)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        run = TuningRun(record, plan, strategy, self.backend, poll_interval=self.poll_interval)
        record.thread = threading.Thread(target=run.run, name=f"smsim-tuning-{name}", daemon=True)
        record.thread.start()
        return {"HyperParameterTuningJobArn": arn}

    def describe_hyper_parameter_tuning_job(
        self,
        HyperParameterTuningJobName: str,  # noqa: N803
    ) -> dict[str, Any]:
        record = self._find(HyperParameterTuningJobName)
        if record is not None:
            return record.snapshot()
        return self._stored(HyperParameterTuningJobName)[0]

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListTrainingJobsForHyperParameterTuningJob", kwargs)
        name = kwargs["HyperParameterTuningJobName"]
        record = self._find(name)
        if record is not None:
            items, minimize = record.summaries(), record.minimize
        else:
            describe, items = self._stored(name)
            minimize = _minimize(describe)
        if kwargs.get("StatusEquals"):
            items = [i for i in items if i["TrainingJobStatus"] == kwargs["StatusEquals"]]
        sort_by = kwargs.get("SortBy", "Name")
        descending = kwargs.get("SortOrder", "Ascending") == "Descending"
        if sort_by == "FinalObjectiveMetricValue":
            # API reference: jobs without an objective are not listed when sorting by it.
            items = [i for i in items if "FinalHyperParameterTuningJobObjectiveMetric" in i]
            # Ordered by quality: Descending lists the best first (lowest when minimizing),
            # the order a TuningStep's TrainingJobSummaries[0] ("the best") relies on.
            sign = 1.0 if minimize else -1.0
            items.sort(
                key=lambda i: sign * i["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                reverse=not descending,
            )
        else:
            key = {"Name": "TrainingJobName", "CreationTime": "CreationTime"}.get(
                sort_by, "TrainingJobStatus"
            )
            items.sort(key=lambda i: i[key], reverse=descending)
        page = _page(items, kwargs, 10)  # the API's default MaxResults is 10
        out = {"TrainingJobSummaries": page[0], **page[1]}
        validate_response("ListTrainingJobsForHyperParameterTuningJob", out)
        return out

    def list_hyper_parameter_tuning_jobs(self, **kwargs: Any) -> dict[str, Any]:
        validate_request("ListHyperParameterTuningJobs", kwargs)
        with self._lock:
            records = list(self._records.values())
        items = [_job_summary(r.snapshot()) for r in records]
        # Tuning jobs an earlier session kept in the workspace are listed too (their
        # names stay taken, and they stay describable).
        live = {r.name.lower() for r in records}
        root = self.workspace / TUNING_DIR
        for directory in sorted(root.iterdir()) if root.is_dir() else []:
            stored = None if directory.name.lower() in live else load_stored(directory)
            if stored is not None:
                items.append(_job_summary(stored[0]))
        if kwargs.get("StatusEquals"):
            items = [
                i for i in items if i["HyperParameterTuningJobStatus"] == kwargs["StatusEquals"]
            ]
        if kwargs.get("NameContains"):
            items = [i for i in items if kwargs["NameContains"] in i["HyperParameterTuningJobName"]]
        for key, member, after in (
            ("CreationTimeAfter", "CreationTime", True),
            ("CreationTimeBefore", "CreationTime", False),
            ("LastModifiedTimeAfter", "LastModifiedTime", True),
            ("LastModifiedTimeBefore", "LastModifiedTime", False),
        ):
            if key in kwargs:
                bound = kwargs[key]
                items = [i for i in items if (i[member] > bound) == after]
        sort_key = {
            "Name": "HyperParameterTuningJobName",
            "Status": "HyperParameterTuningJobStatus",
            "CreationTime": "CreationTime",
        }[kwargs.get("SortBy", "Name")]
        items.sort(key=lambda i: i[sort_key], reverse=kwargs.get("SortOrder") == "Descending")
        page = _page(items, kwargs, 100)
        out = {"HyperParameterTuningJobSummaries": page[0], **page[1]}
        validate_response("ListHyperParameterTuningJobs", out)
        return out

    def stop_hyper_parameter_tuning_job(
        self,
        HyperParameterTuningJobName: str,  # noqa: N803
    ) -> dict[str, Any]:
        """The job goes Stopping; its run stops the running training jobs, then Stopped."""
        self._record(HyperParameterTuningJobName).request_stop()
        return {}

    def wait_for_hyper_parameter_tuning_job(
        self,
        HyperParameterTuningJobName: str,  # noqa: N803
        timeout: float | None = None,
    ) -> dict[str, Any]:
        record = self._record(HyperParameterTuningJobName)
        if not record.done.wait(timeout):
            raise TimeoutError(
                f"tuning job {HyperParameterTuningJobName!r} still {record.status} "
                f"after {timeout} s"
            )
        return record.snapshot()

    def close(self, timeout: float) -> None:
        """Stop every running tuning job (no new training job starts) and wait for them."""
        with self._lock:
            self._closing = True
            records = list(self._records.values())
        for record in records:
            record.request_stop()
        for record in records:
            record.done.wait(timeout)

    # -- helpers ------------------------------------------------------------------------
    def _find(self, name: str) -> TuningRecord | None:
        """By name, case-insensitively: ARNs are lower-cased, and the SDK describes a
        pipeline step's job by the last part of its ARN."""
        with self._lock:
            record = self._records.get(name)
            if record is None:
                record = next(
                    (r for n, r in self._records.items() if n.lower() == name.lower()), None
                )
        return record

    def _record(self, name: str) -> TuningRecord:
        record = self._find(name)
        if record is None:
            raise ResourceNotFound(
                f"Could not find hyper parameter tuning job {name!r} "
                f"(tuning jobs of this session: {sorted(self._records)})"
            )
        return record

    def _stored(self, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        stored = load_stored(tuning_dir(self.workspace, name))
        if stored is None:
            self._record(name)  # raises ResourceNotFound
        assert stored is not None
        return stored


def _minimize(describe: dict[str, Any]) -> bool:
    objective = describe["HyperParameterTuningJobConfig"].get(
        "HyperParameterTuningJobObjective"
    ) or {"Type": "Minimize"}
    return objective["Type"] == "Minimize"


def _job_summary(d: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: d[k]
        for k in (
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "CreationTime",
            "HyperParameterTuningEndTime",
            "LastModifiedTime",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        )
        if k in d
    }
    out["Strategy"] = d["HyperParameterTuningJobConfig"]["Strategy"]
    out["ResourceLimits"] = d["HyperParameterTuningJobConfig"]["ResourceLimits"]
    return out


def _page(
    items: list[dict[str, Any]], kwargs: dict[str, Any], default: int
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of ``items`` (NextToken is the offset of the next page)."""
    try:
        start = int(kwargs.get("NextToken") or 0)
    except ValueError:
        raise ValidationError(
            "NextToken",
            [Problem("NextToken", "not a token this API returned", kwargs["NextToken"])],
        ) from None
    size = int(kwargs.get("MaxResults") or default)
    page = items[start : start + size]
    rest = {"NextToken": str(start + size)} if start + size < len(items) else {}
    return page, rest
