"""A script SIGKILLed mid-epoch, then a new job resumed from its checkpoints (#17): the
final weights are bit-identical to those of a run that was never interrupted."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import numpy as np

SCRIPT = (Path(__file__).parent / "scripts" / "checkpointed_train.py").read_text()


def _wait_for_line(lines: list[str], text: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not any(line.endswith(text) for line in lines):
        assert time.monotonic() < end, f"no line ending {text!r}"
        time.sleep(0.05)


def _weights(sm, bucket, read_tar, name: str) -> np.ndarray:
    files = read_tar(sm, bucket, f"output/{name}/output/model.tar.gz")
    return np.load(io.BytesIO(files["weights.npy"]))


def test_a_killed_job_resumes_bit_identically_from_its_checkpoints(
    sm, bucket, upload_code, training_request, read_tar, log_lines
):
    code = upload_code({"train.py": SCRIPT})
    hps = {"epochs": 4, "epoch-seconds": 0.8}

    def request(name: str, checkpoints: str) -> dict:
        req = training_request(name, code, hyperparameters=hps)
        req["CheckpointConfig"] = {"S3Uri": f"s3://{bucket}/{checkpoints}"}
        return req

    sm.create_training_job(**request("straight", "ckpt-straight"))
    sm.create_training_job(**request("killed", "ckpt-shared"))
    # Mid-epoch: epoch 2 has started, epochs 0 and 1 are checkpointed.
    _wait_for_line(log_lines.lines, "[killed/algo-1] epoch 2 start")
    pgid = sm.endpoint.backend.jobs.get("training", "killed").process_group
    assert pgid is not None
    os.killpg(pgid, signal.SIGKILL)
    killed = sm.wait_for_training_job("killed", timeout=120)
    assert killed["TrainingJobStatus"] == "Failed"
    # Killed by SIGKILL: -9, or 128 + 9 through a namespace's launcher.
    assert "ExitCode -9" in killed["FailureReason"] or "ExitCode 137" in killed["FailureReason"]
    # What the script checkpointed before it died is in S3 (synced at the job's end).
    state = sm.s3.get_object(Bucket=bucket, Key="ckpt-shared/state.npz")["Body"].read()
    assert int(np.load(io.BytesIO(state))["epoch"]) == 2

    sm.create_training_job(**request("resumed", "ckpt-shared"))
    resumed = sm.wait_for_training_job("resumed", timeout=120)
    straight = sm.wait_for_training_job("straight", timeout=120)
    assert resumed["TrainingJobStatus"] == "Completed", resumed.get("FailureReason")
    assert straight["TrainingJobStatus"] == "Completed", straight.get("FailureReason")
    resumed_lines = [line for line in log_lines.lines if line.startswith("[resumed/")]
    assert any(line.endswith("] resumed at epoch 2") for line in resumed_lines)
    assert not any(line.endswith("] epoch 0 start") for line in resumed_lines)
    assert np.array_equal(
        _weights(sm, bucket, read_tar, "resumed"), _weights(sm, bucket, read_tar, "straight")
    )
    # It learned: the last epoch's loss is far below the first's.
    straight_losses = [
        float(line.rsplit("loss=", 1)[1])
        for line in log_lines.lines
        if line.startswith("[straight/") and "loss=" in line
    ]
    assert straight_losses[-1] < straight_losses[0] / 10
