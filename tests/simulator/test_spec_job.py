"""simulator.spec_job: staging a spec's training inputs; bad inputs name the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.shapes import value_problems
from simulator.spec_job import InputError, check_input_dir, default_job_name, stage_channels
from specs.pytorch_training import PYTORCH_TRAINING_SPEC


def test_default_job_name_is_a_valid_training_job_name() -> None:
    name = default_job_name(PYTORCH_TRAINING_SPEC)
    assert name.startswith("pytorchtraining-")
    assert value_problems("TrainingJobName", name, "name") == []


def test_a_local_input_needs_train_and_val(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(InputError) as info:
        check_input_dir(str(tmp_path))
    assert info.value.option == "--input" and "no val/ subfolder" in info.value.message
    with pytest.raises(InputError, match="neither an existing directory"):
        check_input_dir(str(tmp_path / "missing"))


def test_local_splits_become_channels_in_s3(sm: Any, tmp_path: Path) -> None:
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "part.csv").write_text("a,b\n1,2\n")
    channels = stage_channels(sm, str(tmp_path), "smsim-test-bucket", "job-1")
    assert list(channels) == ["train", "val"]  # no test/ folder, no test channel
    key = "smsim/job-1/input/train/part.csv"
    assert channels["train"] == "s3://smsim-test-bucket/smsim/job-1/input/train"
    body = sm.s3.get_object(Bucket="smsim-test-bucket", Key=key)["Body"].read()
    assert body == b"a,b\n1,2\n"
    # An S3 input must already hold train/ and val/ (the embedded S3 starts empty).
    with pytest.raises(InputError, match="s3://smsim-test-bucket/empty/val/"):
        stage_channels(sm, "s3://smsim-test-bucket/empty", "smsim-test-bucket", "job-2")
