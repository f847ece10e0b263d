"""The TrainingBackend of a tuning job hosted by the endpoint: its job store.

Training jobs go through the store's own training path (the same checks, records
and descriptions as a CreateTrainingJob), with ``TuningJobArn`` added to their
description; intermediate objective values are read from the job's log
(``<workspace>/jobs/<name>/logs/algo-1.log``), the stream the service's metric
parser reads too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.errors import JobAlreadyEnded
from simulator.hosts.layout import HOST_NAME
from simulator.jobs.records import job_dir
from simulator.jobs.tuning.run import metric_values_from_log


class JobStoreBackend:
    """Training jobs of a tuning job, through a ``JobStore`` (simulator.endpoint.jobs)."""

    def __init__(self, jobs: Any, workspace: Path, context: Callable[[], Any]) -> None:
        self.jobs = jobs
        self.workspace = workspace
        self.context = context  # the RunContext of a job created now (its images, faults)

    def create_training_job(self, request: dict[str, Any], tuning_job_arn: str) -> str:
        extra = {"TuningJobArn": tuning_job_arn}
        return str(self.jobs.create("training", request, self.context(), extra))

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return dict(self.jobs.describe("training", name))

    def stop_training_job(self, name: str) -> None:
        with contextlib.suppress(JobAlreadyEnded):  # it ended meanwhile: nothing to stop
            self.jobs.stop("training", name)

    def metric_values(self, name: str, regex: str) -> list[float]:
        log = job_dir(self.workspace, "training", name) / "logs" / f"{HOST_NAME}.log"
        try:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return metric_values_from_log(lines, regex)
