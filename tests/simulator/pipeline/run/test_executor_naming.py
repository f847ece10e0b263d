"""Names the executor gives: execution ids and the jobs of pipeline steps."""

from __future__ import annotations

import re

from simulator.pipeline.run.records import job_name, new_execution_id
from simulator.shapes import check, shape


def test_execution_ids_are_12_lowercase_alphanumerics() -> None:
    ids = {new_execution_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[a-z0-9]{12}", i) for i in ids)


def test_job_names_follow_the_service_and_fit_the_name_pattern() -> None:
    name = job_name("abcdef123456", "CreateBSMModel-RepackModel-0")
    assert re.fullmatch(
        r"pipelines-abcdef123456-CreateBSMModel-RepackModel-0-[A-Za-z0-9]{10}", name
    )
    long = job_name("abcdef123456", "A_very_long_step_name_" * 5)
    assert 55 < len(long) <= 63
    for candidate in (name, long, job_name("abcdef123456", "___")):
        assert check(candidate, shape("TrainingJobName")) == []
        assert check(candidate, shape("ModelName")) == []


def test_a_custom_job_prefix_is_kept() -> None:
    name = job_name("abcdef123456", "Train", prefix="bsm-train-2026-01-01-00-00-00-000")
    assert name.startswith("bsm-train-2026-01-01-00-00-00-000-")
    assert check(name, shape("ProcessingJobName")) == []
