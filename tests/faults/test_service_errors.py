"""Injected service errors on named jobs outside pipelines (#17): a capacity error and an
internal error on the Nth job of a name prefix, a refused create, S3 throttling; declared
as ``LocalSageMaker(faults=…)`` and as ``smsim train --faults FILE``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from simulator import LocalSageMaker
from simulator.errors import ValidationError
from simulator.faults import KINDS, FaultPlan
from tests.support import processing_request

BUCKET = "smsim-test-bucket"
CAPACITY = KINDS["CapacityError"][1]


@pytest.fixture
def faulty(tmp_path, log_lines, make_sourcedir_tar):
    """A session with a fault plan; ``faulty(plan)`` → (session, code URI)."""
    sessions = []

    def start(plan: list[dict]) -> tuple[LocalSageMaker, str]:
        sm = LocalSageMaker(
            workspace=tmp_path / f"ws{len(sessions)}",
            log_sink=log_lines,
            stop_grace_seconds=3.0,
            checkpoint_sync_seconds=0.2,
            faults=plan,
        ).start()
        sessions.append(sm)
        sm.s3.create_bucket(Bucket=BUCKET)
        script = "import os\nopen(os.environ['SM_MODEL_DIR'] + '/m.txt', 'w').write('ok')\n"
        sm.s3.put_object(
            Bucket=BUCKET, Key="c.tar.gz", Body=make_sourcedir_tar({"train.py": script})
        )
        return sm, f"s3://{BUCKET}/c.tar.gz"

    yield start
    for sm in sessions:
        sm.close()


def _keys(sm: LocalSageMaker, prefix: str) -> list[str]:
    listed = sm.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_a_capacity_error_strikes_the_nth_job_of_a_prefix(faulty, training_request):
    sm, code = faulty([{"kind": "CapacityError", "job": "cap-", "attempt": 2}])
    ends = {}
    for name in ("cap-a", "other", "cap-b", "cap-c"):
        sm.create_training_job(**training_request(name, code))
        ends[name] = sm.wait_for_training_job(name, timeout=120)
    failed = ends.pop("cap-b")  # the second job whose name starts with "cap-"
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["SecondaryStatus"] == "Failed"
    assert failed["FailureReason"] == CAPACITY
    assert failed["FailureReason"].startswith("CapacityError: Unable to provision requested ML")
    # It failed while provisioning: no script ran, nothing was uploaded.
    assert [t["Status"] for t in failed["SecondaryStatusTransitions"]] == ["Starting", "Failed"]
    assert _keys(sm, "output/cap-b/") == []
    assert {d["TrainingJobStatus"] for d in ends.values()} == {"Completed"}


def test_an_internal_error_on_a_named_processing_job(faulty, training_request):
    sm, code = faulty([{"kind": "InternalServerError", "job": "proc-ise"}])
    request = processing_request("proc-ise", ["python3", "-c", "print(1)"], volume_gb=5)
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("proc-ise", timeout=120)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"] == KINDS["InternalServerError"][1]
    # The next job of that name prefix is not struck (each fault fires once).
    sm.create_processing_job(**{**request, "ProcessingJobName": "proc-ise-2"})
    assert (
        sm.wait_for_processing_job("proc-ise-2", timeout=120)["ProcessingJobStatus"] == "Completed"
    )


def test_a_refused_create_leaves_no_job(faulty, training_request):
    sm, code = faulty([{"kind": "ResourceLimitExceeded", "job": "limited"}])
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**training_request("limited", code))
    assert refused.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert "service limit" in str(refused.value)
    # The name is free: the caller's retry creates the job.
    sm.create_training_job(**training_request("limited", code))
    assert sm.wait_for_training_job("limited", timeout=120)["TrainingJobStatus"] == "Completed"


def test_a_throttled_s3_is_retried_then_fails_the_job_with_s3s_error(
    faulty, training_request, log_lines
):
    sm, code = faulty(
        [
            {"kind": "S3SlowDown", "job": "slow-once", "times": 1},
            {"kind": "S3SlowDown", "job": "slow-always", "times": 50},
        ]
    )
    sm.create_training_job(**training_request("slow-once", code))
    once = sm.wait_for_training_job("slow-once", timeout=120)
    # botocore's retries absorb one 503 SlowDown: the job goes on and completes.
    assert once["TrainingJobStatus"] == "Completed", once.get("FailureReason")
    assert any(
        "[slow-once/algo-1] [smsim] injected fault S3SlowDown: 503" in line
        for line in log_lines.lines
    )
    assert _keys(sm, "output/slow-once/output/") == [
        "output/slow-once/output/model.tar.gz",
        "output/slow-once/output/output.tar.gz",
    ]
    sm.create_training_job(**training_request("slow-always", code))
    always = sm.wait_for_training_job("slow-always", timeout=180)
    assert always["TrainingJobStatus"] == "Failed"
    assert "SlowDown" in always["FailureReason"]
    assert "Please reduce your request rate." in always["FailureReason"]
    assert always["FailureReason"].startswith("ClientError: ")


def test_a_bad_fault_plan_is_refused_naming_the_entry_and_the_fix(tmp_path):
    with pytest.raises(ValidationError) as refused:
        FaultPlan.coerce(
            [
                {"kind": "CapacityEror", "job": "x"},
                {"kind": "SpotInterruption", "job": "x"},
                {"kind": "S3SlowDown", "job": "x", "times": 0},
                {"kind": "CapacityError", "job": "x", "at_seconds": 3},
            ]
        )
    message = str(refused.value)
    assert "[0].kind: unknown fault kind (got 'CapacityEror'); use one of CapacityError" in message
    assert "[1]: a SpotInterruption strikes at_seconds into training or after_line" in message
    assert "[2].times: must be an integer ≥ 1 (got 0)" in message
    assert "[3]: unknown keys ['at_seconds'] for a CapacityError fault" in message


def test_smsim_train_takes_a_fault_file(tmp_path, tiny_bsm_data):
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps([{"kind": "CapacityError", "job": "cli-capacity"}]))
    smsim = Path(sys.executable).parent / "smsim"
    env = {k: v for k, v in os.environ.items() if k != "SMSIM_FAULTS"}
    proc = subprocess.run(
        [
            str(smsim),
            "train",
            "--spec",
            "pytorch_training",
            "--input",
            f"input_path={tiny_bsm_data['dir']}",
            "--job-name",
            "cli-capacity",
            "--faults",
            str(plan),
            "--workspace",
            str(tmp_path / "ws"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    job = json.loads(proc.stdout)["job"]
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == CAPACITY
