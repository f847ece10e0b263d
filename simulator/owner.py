"""Which simulator runs a job or a pipeline execution, and whether it still does.

Every job directory and execution directory holds ``runner.json``: the pid of the
simulator process running it, that process's start time and the machine's name. A
simulator opening a workspace ends the jobs and executions whose runner is gone (its
processes died with it: ``hosts/keeper.py``) and leaves those of another simulator
still running on the same workspace alone. The start time tells a live runner from an
unrelated process that was given the same pid later.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

RUNNER_FILE = "runner.json"
# The FailureReason of a job or execution whose simulator died while it ran (#17).
RUNNER_GONE = "the simulator running this job exited before it ended"


def _me() -> dict[str, object]:
    proc = psutil.Process()
    return {"pid": proc.pid, "start_time": proc.create_time(), "host": socket.gethostname()}


def claim(directory: Path) -> None:
    """Record this process as the runner of the job or execution in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{RUNNER_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(_me()) + "\n")
    tmp.replace(directory / RUNNER_FILE)


def runner_alive(directory: Path) -> bool:
    """Whether the simulator that recorded itself in ``directory`` still runs.

    No (or an unreadable) runner file counts as gone: a workspace of a version before
    this file, or a simulator killed while it created the job. A runner on another
    machine (a workspace on a shared disk) cannot be checked and counts as alive."""
    try:
        doc = json.loads((directory / RUNNER_FILE).read_text())
        pid, start = int(doc["pid"]), float(doc["start_time"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if doc.get("host") not in (None, socket.gethostname()):
        return True
    try:
        proc = psutil.Process(pid)
        # create_time is derived from boot time and clock ticks: equal to within a tick.
        return abs(proc.create_time() - start) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@dataclass(frozen=True)
class Run:
    """A job or pipeline execution recorded in a workspace, and its status on disk."""

    kind: str  # "training" | "processing" | "transform" | "pipeline execution"
    name: str  # the job's name, or "<pipeline>/<execution id>"
    directory: Path
    status: str


_JOB_DIRS = {"jobs": "training", "processing-jobs": "processing", "transform-jobs": "transform"}
_STATUS_KEYS = {
    "training": "TrainingJobStatus",
    "processing": "ProcessingJobStatus",
    "transform": "TransformJobStatus",
    "pipeline execution": "PipelineExecutionStatus",
}


def runs_of_this_process(workspace: Path) -> list[Run]:
    """The jobs and executions in ``workspace`` this process runs or ran."""
    me = _me()
    out = []
    candidates = [
        (kind, d, d / "describe.json", d.name)
        for folder, kind in _JOB_DIRS.items()
        for d in sorted((workspace / folder).glob("*"))
    ]
    candidates += [
        ("pipeline execution", d, d / "execution.json", f"{d.parent.parent.name}/{d.name}")
        for d in sorted((workspace / "pipelines").glob("*/executions/*"))
    ]
    for kind, directory, describe, name in candidates:
        try:
            doc = json.loads((directory / RUNNER_FILE).read_text())
            if doc.get("pid") != me["pid"] or abs(doc["start_time"] - me["start_time"]) > 0.05:
                continue
            status = json.loads(describe.read_text())[_STATUS_KEYS[kind]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.append(Run(kind, name, directory, str(status)))
    return out
