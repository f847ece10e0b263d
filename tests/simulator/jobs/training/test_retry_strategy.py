"""A training job's RetryStrategy (#19), on this machine: an InternalServerError (here an
injected one, ``simulator.faults``) is retried up to MaximumRetryAttempts times on fresh
instances, checkpoints restored; after the last attempt the job fails with its reason; a
script error is never retried. (A lost Ray node retried: tests/simulator/hosts/
test_ray_backend.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.faults import KINDS

BUCKET = "smsim-test-bucket"  # the shared fixtures' bucket (tests/conftest.py)
INTERNAL = KINDS["InternalServerError"][1]

# Each attempt of the script leaves a checkpoint and says, in the model, which it saw.
CHECKPOINTED = """\
import os, pathlib
ckpt = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"])
seen = sorted(p.name for p in ckpt.iterdir())
(ckpt / f"run-{len(seen)}.txt").write_text("ran")
(pathlib.Path(os.environ["SM_MODEL_DIR"]) / "seen.txt").write_text(",".join(seen))
print("script ran", flush=True)
"""


@pytest.fixture
def faults() -> list[dict[str, Any]]:
    """The ``sm`` session's plan: each job prefix meets an InternalServerError while
    provisioned, "twice-" on its first two attempts."""
    return [
        {"kind": "InternalServerError", "job": "once-"},
        {"kind": "InternalServerError", "job": "twice-", "attempt": 1},
        {"kind": "InternalServerError", "job": "twice-", "attempt": 2},
        {"kind": "InternalServerError", "job": "plain-"},
    ]


def _statuses(desc: dict[str, Any]) -> list[str]:
    return [t["Status"] for t in desc["SecondaryStatusTransitions"]]


def _checkpointed(script_request: Any, name: str, retries: int | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"CheckpointConfig": {"S3Uri": f"s3://{BUCKET}/ckpt/{name}"}}
    if retries is not None:
        extra["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    return script_request(name, CHECKPOINTED, **extra)


def test_an_internal_error_is_retried_on_fresh_instances_from_the_checkpoints(
    sm, put_s3, script_request, run_training, read_tar, log_lines
):
    put_s3("ckpt/once-a/run-0.txt", "an earlier run")
    desc = run_training(_checkpointed(script_request, "once-a", retries=2))
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert "FailureReason" not in desc
    # The failed attempt ran nothing; the retry went back to Starting, then ran the job.
    assert _statuses(desc) == [
        "Starting",
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    retry = desc["SecondaryStatusTransitions"][1]["StatusMessage"]
    assert "retry 1 of 2" in retry and INTERNAL in retry
    assert desc["RetryStrategy"] == {"MaximumRetryAttempts": 2}  # as sent
    # The retry's instance restored the checkpoints from S3; the script ran once.
    assert read_tar(sm, BUCKET, "output/once-a/output/model.tar.gz") == {"seen.txt": b"run-0.txt"}
    assert log_lines.lines.count("[once-a/algo-1] script ran") == 1
    listed = sm.s3.list_objects_v2(Bucket=BUCKET, Prefix="ckpt/once-a/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["ckpt/once-a/run-0.txt", "ckpt/once-a/run-1.txt"]


def test_after_the_last_retry_the_job_fails_with_its_reason(sm, script_request, run_training):
    desc = run_training(_checkpointed(script_request, "twice-a", retries=1))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == INTERNAL
    assert _statuses(desc) == ["Starting", "Starting", "Failed"]  # one retry, no more
    # Without a RetryStrategy the first InternalServerError ends the job.
    plain = run_training(_checkpointed(script_request, "plain-a", retries=None))
    assert (plain["TrainingJobStatus"], plain["FailureReason"]) == ("Failed", INTERNAL)
    assert _statuses(plain) == ["Starting", "Failed"]
    assert "RetryStrategy" not in plain


def test_a_script_error_is_never_retried(sm, script_request, run_training, log_lines):
    failing = 'print("script ran", flush=True)\nraise SystemExit("bad input")\n'
    request = script_request("script-error", failing, RetryStrategy={"MaximumRetryAttempts": 3})
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("AlgorithmError:")
    assert _statuses(desc) == ["Starting", "Downloading", "Training", "Failed"]
    assert log_lines.lines.count("[script-error/algo-1] script ran") == 1
