"""The pieces behind caching, retries and fault injection, on their own."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from simulator.errors import ValidationError
from simulator.faults import FaultPlan
from simulator.pipeline.run.cache import cache_key, check_cache_config, parse_duration
from simulator.pipeline.run.retry import RetryState, type_of_job_failure


def test_expire_after_is_an_iso_8601_duration() -> None:
    assert parse_duration("P30D") == dt.timedelta(days=30)
    assert parse_duration("PT1H30M") == dt.timedelta(hours=1, minutes=30)
    assert parse_duration("P1W") == dt.timedelta(days=7)
    for bad in ("30D", "P", "PT", "1 day"):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_duration(bad)
    problems = check_cache_config("Steps[0]", "Train", {"Enabled": True, "ExpireAfter": "30 days"})
    assert problems and problems[0].path == "Steps[0].CacheConfig.ExpireAfter"


def test_only_the_documented_attributes_make_the_cache_key() -> None:
    request = {
        "AppSpecification": {"ImageUri": "i"},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/a.py"}}],
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/exec-1/out"}}]},
        "ProcessingJobName": "pipelines-abc-Prep-x",
    }
    other_run = {
        **request,
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/exec-2/out"}}]},
        "ProcessingJobName": "pipelines-def-Prep-y",
    }
    new_code = {
        **request,
        "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/b.py"}}],
    }
    assert cache_key("Processing", request) == cache_key("Processing", other_run)
    assert cache_key("Processing", request) != cache_key("Processing", new_code)


def test_retry_policy_backoff_and_max_attempts() -> None:
    state = RetryState(
        [
            {
                "ExceptionType": ["SageMaker.CAPACITY_ERROR"],
                "IntervalSeconds": 2,
                "BackoffRate": 3,
                "MaxAttempts": 2,
            }
        ]
    )
    assert state.delay_before_retry("SageMaker.CAPACITY_ERROR") == 2
    assert state.delay_before_retry("SageMaker.CAPACITY_ERROR") == 6
    assert state.delay_before_retry("SageMaker.CAPACITY_ERROR") is None  # retries spent
    assert (
        RetryState([{"ExceptionType": ["Step.THROTTLING"]}]).delay_before_retry(
            "SageMaker.CAPACITY_ERROR"
        )
        is None
    )
    assert type_of_job_failure("AlgorithmError: exit code 1") is None
    assert type_of_job_failure("CapacityError: Unable to provision") == "SageMaker.CAPACITY_ERROR"


def test_a_fault_plan_from_a_file_and_its_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"kind": "CapacityError", "step": "Train", "attempt": 2}]))
    monkeypatch.setenv("SMSIM_FAULTS", str(path))
    plan = FaultPlan.coerce(None)
    assert plan.for_step("p", "Train", 1) is None
    fault = plan.for_step("p", "Train", 2)
    assert fault is not None and fault.message.startswith("CapacityError:")
    assert plan.for_step("p", "Train", 2) is None  # fired once
    with pytest.raises(ValidationError) as err:
        FaultPlan.parse([{"kind": "Capacity", "step": "Train"}, {"kind": "CapacityError"}])
    text = str(err.value)
    assert "unknown fault kind" in text and "CapacityError" in text and "'step' or a 'job'" in text
