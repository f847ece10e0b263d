"""The training and processing jobs of one smsim server: the backend that owns them.

One :class:`JobStore` holds every job's :class:`~simulator.jobs.records.JobRecord`
(the record owns the job's state; the store only finds, creates and lists them) and
starts each job's run in a background thread, as the service runs jobs
asynchronously. Jobs recorded in the workspace by an earlier server are loaded at
start: their names stay taken and they stay describable and listed.

Names are unique per account and region for ever, compared case-insensitively (the
service lower-cases job ARNs; the SDK describes a pipeline step's job by the last part
of that ARN).
"""

from __future__ import annotations

import copy
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simulator.endpoint.listing as listing
from simulator import owner
from simulator.errors import (
    JobAlreadyEnded,
    RequestedResourceNotFound,
    ResourceInUse,
    SmsimError,
)
from simulator.jobs.processing import run as processing
from simulator.jobs.records import KIND_DIRS, TERMINAL, JobRecord, job_dir
from simulator.jobs.runner import RunContext
from simulator.jobs.training import checks as training_checks
from simulator.jobs.training import description as training_description
from simulator.jobs.training import run as training
from simulator.jobs.transform import checks as transform_checks
from simulator.jobs.transform import description as transform_description
from simulator.jobs.transform import run as transform
from simulator.shapes import validate_request
from simulator.workspace import reserve_space


@dataclass(frozen=True)
class JobKind:
    """What differs between the job kinds the store runs."""

    kind: str  # "training" | "processing" | "transform"
    label: str  # "Training" | "Processing" | "Transform"
    # Every create-time check of the kind, once: botocore's input shape, the service's own
    # constraints, then what needs S3 (given the job's S3 client).
    check: Callable[[dict[str, Any], Any], None]
    initial: Callable[[dict[str, Any], str], dict[str, Any]]
    run: Callable[..., Any]  # (record, context, **run_options) → the run
    view: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def name_key(self) -> str:
        return f"{self.label}JobName"

    @property
    def arn_key(self) -> str:
        return f"{self.label}JobArn"

    @property
    def arn_type(self) -> str:
        return f"{self.kind}-job"


def _request_only(check: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any], Any], None]:
    """A kind whose create-time checks read only the request (nothing in S3)."""

    def check_create(request: dict[str, Any], s3: Any) -> None:
        check(request)

    return check_create


KINDS: dict[str, JobKind] = {
    "training": JobKind(
        "training",
        "Training",
        training_checks.check_create,
        training_description.initial_description,
        training.TrainingRun,
        training_checks.validation_view,
    ),
    "processing": JobKind(
        "processing",
        "Processing",
        _request_only(processing.check_request),
        processing.initial_description,
        processing.ProcessingRun,
    ),
    # Batch transform (#15): DescribeTransformJob has no LastModifiedTime (the list has).
    "transform": JobKind(
        "transform",
        "Transform",
        _request_only(transform_checks.check_request),
        transform_description.initial_description,
        transform.TransformRun,
        transform_description.public_view,
    ),
}
# SortBy value → summary member, per kind (the enums of ListTrainingJobs/ListProcessingJobs).
_SORT_KEYS = {
    "Name": "{label}JobName",
    "CreationTime": "CreationTime",
    "Status": "{label}JobStatus",
}


class JobStore:
    """Every job of one server; thread-safe."""

    def __init__(
        self,
        workspace: Path,
        region: str,
        account_id: str,
    ) -> None:
        self.workspace = workspace
        self.region = region
        self.account_id = account_id
        self._records: dict[tuple[str, str], JobRecord] = {}
        self._lock = threading.Lock()
        self._closing = False
        self.observers: list[Callable[[JobRecord], None]] = []

    def load(self) -> int:
        """Load the jobs an earlier server recorded in the workspace; how many."""
        count = 0
        for kind, folder in KIND_DIRS.items():
            root = self.workspace / folder
            if not root.is_dir():
                continue
            for directory in sorted(root.iterdir()):
                record = JobRecord.load(kind, directory)
                if record is not None:
                    self._records[(kind, record.name.lower())] = record
                    count += 1
        return count

    # -- operations ------------------------------------------------------------------
    def create(
        self,
        kind: str,
        request: dict[str, Any],
        context: RunContext,
        describe_extra: dict[str, Any] | None = None,
        run_options: dict[str, Any] | None = None,
    ) -> str:
        """Create*Job: validate, refuse a taken name, record InProgress, start the run in
        ``context``; the job's ARN. ``describe_extra``: members the service sets itself
        (the TuningJobArn of a tuning job's training job, #16); ``run_options``: what the
        create already resolved for the run (a transform job's DescribeModel, #15)."""
        spec = KINDS[kind]
        request = copy.deepcopy(request)
        spec.check(request, context.s3)  # the kind's checks, each once, before anything
        name = request[spec.name_key]
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:{spec.arn_type}/{name.lower()}"
        describe = spec.initial(request, arn)
        describe.update(describe_extra or {})
        record = self._new_record(spec, name, request, describe)
        run = spec.run(record, context, **(run_options or {}))
        record.thread = threading.Thread(target=run.run, name=f"smsim-{record.name}", daemon=True)
        record.thread.start()
        return arn

    def get(self, kind: str, name: str) -> JobRecord:
        """The job named ``name`` (any case); the service's error for an unknown one."""
        with self._lock:
            record = self._records.get((kind, name.lower()))
        if record is None:
            raise RequestedResourceNotFound(
                f"No {kind} job named {name!r} in this simulator (workspace {self.workspace}); "
                f"list them with list_{kind}_jobs"
            )
        return record

    def describe(self, kind: str, name: str) -> dict[str, Any]:
        return self.get(kind, name).snapshot()

    def stop(self, kind: str, name: str) -> None:
        record = self.get(kind, name)
        status = record.status
        if status in TERMINAL:
            # The service's words: StopTrainingJob of an ended job is a ValidationException.
            raise JobAlreadyEnded(
                f"The request was rejected because the {kind} job is in status {status}. "
                f"({kind} job {record.name!r} has ended; only an InProgress job can be stopped)"
            )
        record.request_stop()

    def list(self, operation: str, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        validate_request(operation, request)
        spec = KINDS[kind]
        _, members = listing.summary_members(operation)
        with self._lock:  # jobs may be created meanwhile (a pipeline's threads)
            records = [r for (k, _), r in self._records.items() if k == kind]
        items = [r.fields(members) for r in records]
        tests = listing.time_filters(request)
        contains = request.get("NameContains", "").lower()
        status = request.get("StatusEquals")
        warm_pool = request.get("WarmPoolStatusEquals")
        items = [
            i
            for i in items
            if contains in i[spec.name_key].lower()
            and (status is None or i[f"{spec.label}JobStatus"] == status)
            and (warm_pool is None or i.get("WarmPoolStatus", {}).get("Status") == warm_pool)
            and all(t(i) for t in tests)
        ]
        keys = {k: v.format(label=spec.label) for k, v in _SORT_KEYS.items()}
        items = listing.sort_items(items, request, keys)
        return listing.page(operation, items, request, unique=spec.arn_key)

    def wait(self, kind: str, name: str, timeout: float | None) -> dict[str, Any]:
        record = self.get(kind, name)
        if record.foreign:  # another simulator runs it: follow its describe.json
            wait_until_done(record, timeout)
        if not record.done.wait(timeout):
            raise TimeoutError(f"{kind} job {name!r} still {record.status} after {timeout} s")
        return record.snapshot()

    # -- lifecycle -------------------------------------------------------------------
    def unfinished(self) -> list[JobRecord]:
        """The runs of this simulator not over: jobs running, and jobs ended whose run
        still tears down their instance (a transform job's model server)."""
        with self._lock:
            records = list(self._records.values())
        return [r for r in records if not r.foreign and not r.done.is_set()]

    def close(self, grace_seconds: float) -> None:
        """Stop running jobs (SIGTERM → grace → SIGKILL): each ends Stopped, recorded;
        wait until every run is over (instances torn down)."""
        with self._lock:
            # From here on no job starts (a pipeline thread may still try): one created
            # after the stops below would run on after the server is gone.
            self._closing = True
        records = self.unfinished()
        for record in records:
            record.request_stop()  # an ended job's changes nothing
        try:
            _join(records, grace_seconds + 30)
        except BaseException:
            # Interrupted while waiting (a second Ctrl-C): no grace period left. Kill the
            # scripts (each in its own session, so the signal did not reach them), or they
            # would outlive this process, and let their runs record the stop.
            for record in records:
                record.kill()
            _join(records, 10)
            raise

    # -- internals -------------------------------------------------------------------
    def _new_record(
        self, spec: JobKind, name: str, request: dict[str, Any], describe: dict[str, Any]
    ) -> JobRecord:
        directory = job_dir(self.workspace, spec.kind, name)
        with self._lock:
            if self._closing:
                raise SmsimError(
                    f"cannot create job {name!r}: the simulator is shutting down (its jobs "
                    "are being stopped); create jobs before closing it"
                )
            # Unique per account and region, for ever (SageMaker's ResourceInUse); a job
            # kept in this workspace by an earlier server counts too.
            taken = self._records.get((spec.kind, name.lower()))
            if taken is not None or directory.exists():
                where = taken.dir if taken is not None else directory
                other = f"by job {taken.name!r}, " if taken is not None else ""
                raise ResourceInUse(
                    f"{spec.label} job name {name!r} is already in use ({other}its workspace "
                    f"dir {where} exists; names are unique per account and region, "
                    "case-insensitively); choose another name"
                )
            record = JobRecord(
                spec.kind, name, directory, request, describe, validation_view=spec.view
            )
            for observer in self.observers:
                record.add_observer(observer)
            directory.mkdir(parents=True)
            self._records[(spec.kind, name.lower())] = record
        try:
            owner.claim(directory)  # which simulator runs it: a later one ends it if this dies
            reserve_space(directory)  # room for its last description on a full disk
            record.write_request()
            record.update()  # validate + persist the initial description
        except BaseException:
            # A create that failed leaves no job behind (as the service): no record
            # InProgress for ever, no name taken by a directory.
            with self._lock:
                self._records.pop((spec.kind, name.lower()), None)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return record


def wait_until_done(record: JobRecord, timeout: float | None, interval: float = 0.5) -> None:
    """Poll a foreign record until it ends or ``timeout`` passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while record.foreign and (deadline is None or time.monotonic() < deadline):
        record.status  # noqa: B018 - reading it follows the other simulator's record
        if record.foreign:
            time.sleep(interval)


def _join(records: list[JobRecord], timeout: float) -> None:
    # The run's `done`, not Thread.join: in Python 3.11 a join interrupted by Ctrl-C
    # marks the thread as ended while it still runs, so a second join returns at once.
    for record in records:
        record.done.wait(timeout)
