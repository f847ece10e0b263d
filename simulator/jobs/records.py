"""Job records and their place on disk.

Workspace layout (one directory per job; the name is unique per kind):

    <workspace>/jobs/<TrainingJobName>/            training jobs
    <workspace>/processing-jobs/<ProcessingJobName>/  processing jobs
    <workspace>/transform-jobs/<TransformJobName>/    transform jobs
        request.json     the Create* request as received
        describe.json    the Describe* response, rewritten at every state change
        logs/            algo-1.log (stdout+stderr), algo-1.stderr.log
        hosts/algo-1/    the host's /opt/ml stand-in (SAGEMAKER_BASE_DIR)
        artifacts/       training only: the model.tar.gz / output.tar.gz uploaded to S3

A :class:`JobRecord` is the one owner of a job's state: it holds the Describe*
dict, the runner updates it, the endpoint's handlers and pipeline steps read
snapshots of it, and every change is validated against botocore's Describe*
output shape and written to ``describe.json`` (its persistence: a restarted
server loads the record from there). Whoever must follow a job's changes (the
endpoint's metrics, a pipeline step) subscribes with ``add_observer``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator import owner
from simulator.errors import SmsimError
from simulator.shapes import validate_response
from simulator.workspace import is_disk_full, release_reserve

KIND_DIRS = {"training": "jobs", "processing": "processing-jobs", "transform": "transform-jobs"}
DESCRIBE_OPS = {
    "training": "DescribeTrainingJob",
    "processing": "DescribeProcessingJob",
    "transform": "DescribeTransformJob",
}
STATUS_KEYS = {
    "training": "TrainingJobStatus",
    "processing": "ProcessingJobStatus",
    "transform": "TransformJobStatus",
}
TERMINAL = {"Completed", "Failed", "Stopped"}


def with_fields(describe: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Describe* response with ``fields`` set (a None value removes the member)."""
    out = dict(describe)
    for key, value in fields.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def job_dir(workspace: Path, kind: str, name: str) -> Path:
    return workspace / KIND_DIRS[kind] / name


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_encode, sort_keys=False) + "\n"


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def from_json_times(obj: Any, keys: tuple[str, ...] = ("Time", "Timestamp")) -> Any:
    """Turn ISO strings back into datetimes for members named *Time/Timestamp."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and k.endswith(keys):
                try:
                    out[k] = dt.datetime.fromisoformat(v)
                    continue
                except ValueError:
                    pass
            out[k] = from_json_times(v, keys)
        return out
    if isinstance(obj, list):
        return [from_json_times(v, keys) for v in obj]
    return obj


class JobRecord:
    """One job's live description; thread-safe; persisted and validated on every change."""

    def __init__(
        self,
        kind: str,
        name: str,
        directory: Path,
        request: dict[str, Any],
        describe: dict[str, Any],
        *,
        validation_view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.dir = directory
        self.request = request
        self._describe = describe
        self._lock = threading.RLock()
        self.done = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.process_group: int | None = None  # the entry point's, while it runs
        self.foreign = False  # run by another live simulator on this workspace (load)
        # Every host's entry point's process group, while it runs (host → pgid).
        self.process_groups: dict[str, int] = {}
        self._validation_view = validation_view
        self._observers: list[Callable[[JobRecord], None]] = []

    @classmethod
    def load(cls, kind: str, directory: Path) -> JobRecord | None:
        """The record a simulator kept in ``directory`` (None when it holds no description).

        A job whose simulator died while it ran (``owner.runner_alive``) cannot go on: it is
        recorded Failed with that reason, so it never shows InProgress for ever. A job
        another live simulator runs on the same workspace is left to it: this record
        follows its ``describe.json`` (``foreign``)."""
        try:
            describe = from_json_times(json.loads((directory / "describe.json").read_text()))
            request = from_json_times(json.loads((directory / "request.json").read_text()))
        except (OSError, ValueError):
            return None
        record = cls(kind, describe[f"{kind.capitalize()}JobName"], directory, request, describe)
        if record.status not in TERMINAL:
            if owner.runner_alive(directory):
                record.foreign = True
                return record
            record.end_orphaned()
        record.done.set()
        return record

    def end_orphaned(self, status: str = "Failed", reason: str = owner.RUNNER_GONE) -> None:
        """Failed: the simulator running the job died (its processes died with it). Also
        ``Stopped`` (no reason): a CLI killed at once by a second Ctrl-C settles its jobs."""
        t = now()
        end_key = {"training": "TrainingEndTime", "processing": "ProcessingEndTime"}.get(
            self.kind, "TransformEndTime"
        )
        fields: dict[str, Any] = {self.status_key: status, end_key: t, "LastModifiedTime": t}
        message = reason or "the job was stopped"
        if status == "Failed":
            fields["FailureReason"] = reason
        if self.kind == "training":
            transitions = [dict(e) for e in self._describe.get("SecondaryStatusTransitions", [])]
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = t
            transitions.append(
                {"Status": status, "StartTime": t, "EndTime": t, "StatusMessage": message}
            )
            fields.update(SecondaryStatus=status, SecondaryStatusTransitions=transitions)
        if self.kind == "transform":
            fields.pop("LastModifiedTime")  # DescribeTransformJob has none
        self._describe.update(fields)
        self._write(self._describe)

    def _follow(self) -> None:
        """A foreign job: take its other simulator's latest description; end it if that
        simulator is gone meanwhile."""
        if not self.foreign:
            return
        with self._lock:
            try:
                text = (self.dir / "describe.json").read_text()
                self._describe = from_json_times(json.loads(text))
            except (OSError, ValueError):
                pass  # being replaced (os.replace is atomic, but a reader may race a rename)
            if self._describe[self.status_key] in TERMINAL:
                self.foreign = False
            elif not owner.runner_alive(self.dir):
                self.end_orphaned()
                self.foreign = False
            if not self.foreign:
                self.done.set()

    def add_observer(self, observer: Callable[[JobRecord], None]) -> None:
        """Call ``observer(record)`` after every change, in the order the changes were made."""
        with self._lock:
            self._observers.append(observer)

    @property
    def status_key(self) -> str:
        return STATUS_KEYS[self.kind]

    @property
    def status(self) -> str:
        self._follow()
        with self._lock:
            return str(self._describe[self.status_key])

    def snapshot(self) -> dict[str, Any]:
        self._follow()
        with self._lock:
            return copy.deepcopy(self._describe)

    def fields(self, members: Any) -> dict[str, Any]:
        """The description's ``members`` it has (a list summary), without a deep copy:
        the record replaces members on change, never mutates them."""
        self._follow()
        with self._lock:
            return {m: self._describe[m] for m in members if m in self._describe}

    def update(self, **fields: Any) -> None:
        """Set Describe* members (None removes one), bump LastModifiedTime, persist.

        All or nothing: a change that fails validation leaves the record as it was, so
        the run can still end the job Failed (its members are replaced, never mutated).
        """
        with self._lock:
            describe = with_fields(self._describe, fields)
            describe["LastModifiedTime"] = now()
            self._persist(describe)
            self._describe = describe
            # Under the lock: changes reach observers in the order they were made; a slower
            # thread never overwrites a newer state with an older.
            for observer in self._observers:
                observer(self)

    def request_stop(self) -> None:
        """StopTrainingJob/StopProcessingJob: signal the run; an InProgress job shows Stopping.

        The status check and the update happen under one lock: the run may end the job
        meanwhile, and a Stopping written after its Completed would never be cleared.
        """
        if self.foreign:
            raise SmsimError(
                f"{self.kind} job {self.name!r} is run by another simulator on this workspace "
                f"(see {self.dir / owner.RUNNER_FILE}); stop it through that simulator"
            )
        with self._lock:
            if self._describe[self.status_key] in TERMINAL:
                return  # the service accepts a stop of an ended job and changes nothing
            self.stop_event.set()
            if self._describe[self.status_key] == "InProgress":
                self.update(**{self.status_key: "Stopping"})

    def kill(self) -> None:
        """SIGKILL the entry point's process group now, without the stop's grace period."""
        pgids = {self.process_group, *dict(self.process_groups).values()} - {None}
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)

    def transition(self, secondary: str, message: str, **fields: Any) -> None:
        """Training only: close the current SecondaryStatusTransitions entry, open the next."""
        with self._lock:
            t = now()
            transitions = [dict(e) for e in self._describe.get("SecondaryStatusTransitions", [])]
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = t
            entry = {"Status": secondary, "StartTime": t, "StatusMessage": message}
            if secondary in (
                "Completed",
                "Failed",
                "Stopped",
                "MaxRuntimeExceeded",
                "MaxWaitTimeExceeded",
            ):
                entry["EndTime"] = t
            transitions.append(entry)
            self.update(SecondaryStatus=secondary, SecondaryStatusTransitions=transitions, **fields)

    def write_request(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "request.json").write_text(to_json(self.request))

    def _persist(self, describe: dict[str, Any]) -> None:
        view = describe
        if self._validation_view is not None:
            view = self._validation_view(copy.deepcopy(view))
        validate_response(DESCRIBE_OPS[self.kind], view)
        self._write(describe)

    def _write(self, describe: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "describe.json.tmp"
        text = to_json(describe)
        try:
            tmp.write_text(text)
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # never half a description
            # A full disk: the job's reserve makes room for its record (simulator.workspace).
            if not (is_disk_full(exc) and release_reserve(self.dir)):
                raise
            tmp.write_text(text)
        tmp.replace(self.dir / "describe.json")


def load_descriptions(workspace: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every stored Describe* response of ``kind`` in a workspace, by job name."""
    root = workspace / KIND_DIRS[kind]
    out: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        f = d / "describe.json"
        if f.is_file():
            try:
                out[d.name] = from_json_times(json.loads(f.read_text()))
            except ValueError:
                continue
    return out


def stop_on_disk(kind: str, directory: Path) -> None:
    """Record a job that is not over as Stopped: its CLI was killed at once (a second
    Ctrl-C) before the run could record the stop."""
    try:
        describe = from_json_times(json.loads((directory / "describe.json").read_text()))
        request = from_json_times(json.loads((directory / "request.json").read_text()))
    except (OSError, ValueError):
        return
    record = JobRecord(kind, directory.name, directory, request, describe)
    if record.status not in TERMINAL:
        record.end_orphaned("Stopped", "")
