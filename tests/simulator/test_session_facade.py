"""LocalSageMaker as a facade: records across sessions, listing, returning at once."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from simulator import LocalSageMaker
from simulator.errors import ResourceInUse

SLOW = "import time\nprint('working', flush=True)\ntime.sleep(1.0)\n"


def test_create_returns_at_once_and_wait_gives_the_final_state(sm, upload_code, training_request):
    code = upload_code({"train.py": SLOW})
    sm.create_training_job(**training_request("async-job", code))
    early = sm.describe_training_job(TrainingJobName="async-job")
    assert early["TrainingJobStatus"] == "InProgress"
    final = sm.wait_for_training_job("async-job", timeout=60)
    assert final["TrainingJobStatus"] == "Completed"
    with pytest.raises(TimeoutError):
        code2 = upload_code({"train.py": SLOW}, key="c2/sourcedir.tar.gz")
        sm.create_training_job(**training_request("async-job-2", code2))
        sm.wait_for_training_job("async-job-2", timeout=0.01)
    sm.wait_for_training_job("async-job-2", timeout=60)


def test_listing_filters(sm, upload_code, training_request):
    ok = upload_code({"train.py": "print(1)\n"}, key="ok/sourcedir.tar.gz")
    bad = upload_code({"train.py": "raise SystemExit(1)\n"}, key="bad/sourcedir.tar.gz")
    for name, code in (("list-a-ok", ok), ("list-b-bad", bad), ("list-c-ok", ok)):
        sm.create_training_job(**training_request(name, code))
        sm.wait_for_training_job(name, timeout=60)
    names = [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]]
    assert names == ["list-c-ok", "list-b-bad", "list-a-ok"]  # newest first, as the service
    failed = sm.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in failed] == ["list-b-bad"]
    assert len(sm.list_training_jobs(NameContains="-ok")["TrainingJobSummaries"]) == 2
    asc = sm.list_training_jobs(SortOrder="Ascending", MaxResults=1)["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in asc] == ["list-a-ok"]


def test_names_stay_taken_in_a_reused_workspace(tmp_path, stage_code, training_request):
    ws = tmp_path / "ws"
    for round_ in (1, 2):
        with LocalSageMaker(workspace=ws, log_sink=lambda _: None) as sm:
            stage_code(sm, {"train.py": "print(2)\n"})
            request = training_request("kept-job", "s3://smsim-test-bucket/c.tar.gz")
            if round_ == 1:
                sm.create_training_job(**request)
                sm.wait_for_training_job("kept-job", timeout=60)
            else:
                with pytest.raises(ResourceInUse, match="workspace dir"):
                    sm.create_training_job(**request)
                stored = sm.stored_descriptions("training")
                assert stored["kept-job"]["TrainingJobStatus"] == "Completed"
                # A name that is taken is describable too, as on the service.
                again = sm.describe_training_job(TrainingJobName="kept-job")
                assert again["TrainingJobStatus"] == "Completed"
                assert again["CreationTime"] == stored["kept-job"]["CreationTime"]
                with pytest.raises(ClientError, match="never-ran") as info:
                    sm.describe_training_job(TrainingJobName="never-ran")
                # The service's code and words for an unknown job.
                assert info.value.response["Error"]["Code"] == "ValidationException"
                assert "Requested resource not found." in info.value.response["Error"]["Message"]
    desc = json.loads((ws / "jobs" / "kept-job" / "describe.json").read_text())
    assert desc["TrainingJobName"] == "kept-job"
