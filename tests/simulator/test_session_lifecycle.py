"""LocalSageMaker under concurrency and at close: stops, observers, failed creates."""

from __future__ import annotations

import threading

import pytest

from simulator.errors import SmsimError
from simulator.jobs.records import JobRecord
from tests.support import wait_until

SLOW = "import time\nprint('working', flush=True)\ntime.sleep(30)\n"


def _record(sm, name: str) -> JobRecord:
    """The job's record in the endpoint's backend (the one owner of its state)."""
    return sm.endpoint.backend.jobs.get("training", name)


def _exists(sm, name: str) -> bool:
    try:
        _record(sm, name)
    except SmsimError:
        return False
    return True


def test_a_stop_racing_the_jobs_end_never_leaves_it_stopping(
    sm, upload_code, training_request, monkeypatch
):
    """The run may end the job between the stop's status check and its update: a
    Stopping written after Completed would stay for ever (no run is left to end it)."""
    code = upload_code({"train.py": "print('done')\n"})
    sm.create_training_job(**training_request("race-stop", code))
    sm.wait_for_training_job("race-stop", timeout=60)
    record = _record(sm, "race-stop")
    # Replay the interleaving: the stop reads the status while the job is still running.
    monkeypatch.setattr(JobRecord, "status", property(lambda self: "InProgress"))
    sm.stop_training_job(TrainingJobName="race-stop")
    monkeypatch.undo()
    assert record.snapshot()["TrainingJobStatus"] == "Completed"
    mirrored = sm.client.describe_training_job(TrainingJobName="race-stop")
    assert mirrored["TrainingJobStatus"] == "Completed"


def test_observers_never_see_an_older_state_last(sm, upload_code, training_request):
    """Two threads changing one job: an observer must see the changes in the order they
    were made, even when its first call is slow (it must not end on an older state)."""
    code = upload_code({"train.py": "print('done')\n"})
    sm.create_training_job(**training_request("race-sync", code))
    sm.wait_for_training_job("race-sync", timeout=60)
    record = _record(sm, "race-sync")
    first_called = threading.Event()
    second_done = threading.Event()
    seen: list[str] = []

    def slow_first_observer(rec):
        reason = rec.snapshot().get("FailureReason", "")
        if not seen:
            first_called.set()
            second_done.wait(1.0)  # an observer that is slow after reading the state
        seen.append(reason)

    record.add_observer(slow_first_observer)
    first = threading.Thread(target=record.update, kwargs={"FailureReason": "older"})
    first.start()
    assert first_called.wait(5)
    second = threading.Thread(target=record.update, kwargs={"FailureReason": "newer"})
    second.start()
    second.join(0.5)
    second_done.set()
    first.join(5)
    second.join(5)
    assert seen == ["older", "newer"]
    assert record.snapshot()["FailureReason"] == "newer"
    assert sm.client.describe_training_job(TrainingJobName="race-sync")["FailureReason"] == (
        "newer"
    )


def test_listing_while_jobs_are_created(sm, upload_code, training_request, monkeypatch):
    """A pipeline creates jobs from its threads while another thread lists them."""
    code = upload_code({"train.py": "print('done')\n"})
    sm.create_training_job(**training_request("list-1", code))
    sm.wait_for_training_job("list-1", timeout=60)
    record = _record(sm, "list-1")
    real_fields = record.fields

    def summary_while_another_job_is_created(members):
        if not _exists(sm, "list-2"):
            sm.create_training_job(**training_request("list-2", code))
        return real_fields(members)

    monkeypatch.setattr(record, "fields", summary_while_another_job_is_created)
    names = {j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]}
    assert "list-1" in names
    sm.wait_for_training_job("list-2", timeout=60)


def test_a_create_that_fails_leaves_no_job(sm, upload_code, training_request, monkeypatch):
    code = upload_code({"train.py": "print('done')\n"})

    def broken_disk(record):
        raise OSError("the disk refused request.json")

    monkeypatch.setattr(JobRecord, "write_request", broken_disk)
    with pytest.raises(sm.exceptions.ClientError, match="disk refused") as info:
        sm.create_training_job(**training_request("half-made", code))
    # An error of smsim's, not of the request: the service's 500 (InternalFailure).
    assert info.value.response["Error"]["Code"] == "InternalFailure"
    monkeypatch.undo()
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    # The name is free again: the failed create kept neither a record nor a directory.
    sm.create_training_job(**training_request("half-made", code))
    final = sm.wait_for_training_job("half-made", timeout=60)
    assert final["TrainingJobStatus"] == "Completed"


def test_close_stops_running_jobs_and_refuses_new_ones(tmp_path, stage_code, training_request):
    from simulator import LocalSageMaker

    sm = LocalSageMaker(workspace=tmp_path / "ws", log_sink=lambda _: None, stop_grace_seconds=3)
    sm.start()
    stage_code(sm, {"train.py": SLOW})
    request = training_request("running-at-close", "s3://smsim-test-bucket/c.tar.gz")
    sm.create_training_job(**request)
    record = _record(sm, "running-at-close")
    real_wait = record.done.wait
    late: list[BaseException] = []

    def wait_while_a_pipeline_creates_a_job(timeout=None):
        # A pipeline thread starting its next step while the session closes.
        try:
            sm.create_training_job(**{**request, "TrainingJobName": "created-while-closing"})
        except SmsimError as exc:
            late.append(exc)
        return real_wait(timeout)

    record.done.wait = wait_while_a_pipeline_creates_a_job
    sm.close()
    assert record.snapshot()["TrainingJobStatus"] == "Stopped"
    assert not record.thread.is_alive()
    assert late and "closing" in str(late[0])
    assert not _exists(sm, "created-while-closing")


def test_a_close_interrupted_again_kills_the_scripts(tmp_path, stage_code, training_request):
    """Ctrl-C while close() waits out the stop's grace period: the script, in its own
    session and deaf to SIGTERM, must not outlive the process, and the job ends Stopped."""
    import os
    import re

    from simulator import LocalSageMaker

    lines: list[str] = []
    deaf = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('pid', os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    sm = LocalSageMaker(workspace=tmp_path / "ws", log_sink=lines.append, stop_grace_seconds=60)
    sm.start()
    stage_code(sm, {"train.py": deaf})
    sm.create_training_job(**training_request("deaf", "s3://smsim-test-bucket/c.tar.gz"))
    assert wait_until(lambda: any(re.search(r"\] pid \d+$", x) for x in lines), 30)
    pid = int(next(x for x in lines if re.search(r"\] pid \d+$", x)).rsplit(" ", 1)[1])
    record = _record(sm, "deaf")
    real_wait = record.done.wait
    interrupted = []

    def wait_interrupted_once(timeout=None):
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return real_wait(timeout)

    record.done.wait = wait_interrupted_once
    with pytest.raises(KeyboardInterrupt):
        sm.close()
    assert wait_until(lambda: not _alive(pid), 5), "the script outlived close()"
    final = record.snapshot()
    assert final["TrainingJobStatus"] == "Stopped", final.get("FailureReason")
    assert not sm._started and os.environ.get("AWS_ENDPOINT_URL") != sm.endpoint_url


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has ended all the same.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_a_start_that_fails_lets_the_next_one_start(tmp_path, monkeypatch):
    from simulator import LocalSageMaker
    from simulator.aws import EmbeddedAws

    def no_client(self, service, config=None):
        raise RuntimeError("boto3 could not make a client")

    broken = LocalSageMaker(workspace=tmp_path / "ws", log_sink=lambda _: None)
    monkeypatch.setattr(EmbeddedAws, "client", no_client)
    with pytest.raises(RuntimeError, match="could not make"):
        broken.start()
    monkeypatch.undo()
    # The embedded AWS of the failed start is gone: a second LocalSageMaker runs.
    with LocalSageMaker(workspace=tmp_path / "ws", log_sink=lambda _: None) as sm:
        sm.s3.create_bucket(Bucket="after-a-failed-start")
        assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_a_change_refused_by_validation_still_ends_the_job_failed(
    sm, upload_code, training_request, monkeypatch
):
    """An end the record refuses (it breaks DescribeTrainingJob's shape) must not stay
    half applied: the job still ends Failed, on disk and in moto, not InProgress."""
    import json

    from simulator.jobs.training import run as training

    real_end_fields = training.end_fields

    def invalid_when_completed(status, started, metrics):
        fields = real_end_fields(status, started, metrics)
        if status == "Completed":
            fields["NoSuchMember"] = "breaks the response shape"
        return fields

    monkeypatch.setattr(training, "end_fields", invalid_when_completed)
    code = upload_code({"train.py": "print('done')\n"})
    sm.create_training_job(**training_request("refused-end", code))
    final = sm.wait_for_training_job("refused-end", timeout=60)
    assert final["TrainingJobStatus"] == "Failed"
    assert "NoSuchMember" not in final
    assert "InternalServerError" in final["FailureReason"]
    assert final["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    stored = json.loads((sm.workspace / "jobs" / "refused-end" / "describe.json").read_text())
    assert stored["TrainingJobStatus"] == "Failed"
    assert sm.client.describe_training_job(TrainingJobName="refused-end")["TrainingJobStatus"] == (
        "Failed"
    )


def test_a_failed_checkpoint_upload_still_ends_every_sync(
    sm, upload_code, training_request, fail_s3_uploads
):
    """Checkpoints and TensorBoard are synced while the job runs; when the final
    checkpoint upload fails, the TensorBoard sync must end too, not outlive the job."""
    fail_s3_uploads("/ckpt/", "S3 refused the checkpoint")
    script = (
        "import os\n"
        "d = os.environ['SM_CHECKPOINT_DIR']\n"
        "open(os.path.join(d, 'ckpt.pt'), 'w').write('weights')\n"
    )
    code = upload_code({"train.py": script})
    request = training_request(
        "sync-fails",
        code,
        CheckpointConfig={"S3Uri": "s3://smsim-test-bucket/ckpt/sync-fails"},
        TensorBoardOutputConfig={"S3OutputPath": "s3://smsim-test-bucket/tb/sync-fails"},
    )
    sm.create_training_job(**request)
    final = sm.wait_for_training_job("sync-fails", timeout=60)
    assert final["TrainingJobStatus"] == "Failed"
    assert "S3 refused the checkpoint" in final["FailureReason"]
    assert wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == "smsim-sync"], 5
    ), "a sync thread outlived its job"
