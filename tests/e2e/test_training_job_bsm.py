"""End to end: the real dockers/pytorch_bsm/train.py as a SageMaker training job, tiny data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.s3 import pack_tar_gz
from simulator.shapes import enum_values, validate_response
from tests.support import TRAINING_IMAGE as IMAGE
from tests.support import sdk_hyperparameters, training_request

REPO = Path(__file__).resolve().parents[2]
BSM_DIR = REPO / "dockers" / "pytorch_bsm"
METRICS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
    {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
    {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
    {"Name": "val:f1", "Regex": r"val_f1=([0-9\.]+)"},
]


def upload_bsm_code(sm: Any, bucket: str, tmp_path: Path) -> str:
    archive = pack_tar_gz(BSM_DIR, tmp_path / "sourcedir.tar.gz")
    sm.s3.upload_file(str(archive), bucket, "bsm/code/sourcedir.tar.gz")
    return f"s3://{bucket}/bsm/code/sourcedir.tar.gz"


def upload_splits(sm: Any, bucket: str, data: dict[str, Any]) -> dict[str, str]:
    channels = {}
    for split, path in data["files"].items():
        key = f"bsm/data/{split}/{Path(path).name}"
        sm.s3.upload_file(path, bucket, key)
        channels[split] = f"s3://{bucket}/bsm/data/{split}"
    return channels


def bsm_request(name: str, code: str, channels: dict[str, str], bucket: str, **extra: Any):
    hps = {"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01}
    return training_request(
        name,
        IMAGE,
        # JSON-encoded values, as the SageMaker Python SDK sends them.
        sdk_hyperparameters("train.py", code, hps),
        channels,
        f"s3://{bucket}/bsm/output",
        algorithm={"MetricDefinitions": METRICS, "EnableSageMakerMetricsTimeSeries": True},
        resources={"max_runtime": 900},
        **extra,
    )


def test_real_train_py_end_to_end(sm, read_tar, bucket, tiny_bsm_data, tmp_path):
    code = upload_bsm_code(sm, bucket, tmp_path)
    channels = upload_splits(sm, bucket, tiny_bsm_data)
    request = bsm_request(
        "bsm-train-e2e",
        code,
        channels,
        bucket,
        CheckpointConfig={"S3Uri": f"s3://{bucket}/bsm/checkpoints/e2e"},
    )
    sm.create_training_job(**request)
    desc = sm.wait_for_training_job("bsm-train-e2e", timeout=600)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")

    validate_response("DescribeTrainingJob", desc)
    assert desc["SecondaryStatus"] in enum_values("SecondaryStatus")
    # FinalMetricDataList holds the epoch metrics; held-out (val) AUROC is better than chance.
    metrics = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert set(metrics) == {"train:loss", "val:loss", "val:auroc", "val:f1"}
    assert 0.0 <= metrics["val:f1"] <= 1.0
    assert metrics["val:auroc"] > 0.6, metrics

    key = "bsm/output/bsm-train-e2e/output/model.tar.gz"
    assert desc["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/{key}"
    model = read_tar(sm, bucket, key)
    for name in ("model.pth", "model_artifacts.pth", "model.onnx"):
        assert name in model, sorted(model)
    assert all(not n.startswith(("/", "..")) for n in model)
    ckpts = sm.s3.list_objects_v2(Bucket=bucket, Prefix="bsm/checkpoints/e2e/")
    assert ckpts.get("KeyCount", 0) > 0
    log = (sm.workspace / "jobs" / "bsm-train-e2e" / "logs" / "algo-1.log").read_text()
    assert "epoch=1 " in log and "epoch=2 " in log and "resumed from checkpoint" not in log

    # A second job on the same CheckpointConfig.S3Uri (a restart of the same run: same
    # hyperparameters and data) resumes from the first one's last epoch instead of
    # training again: SageMaker restores the S3Uri into the checkpoint dir first.
    sm.create_training_job(**{**request, "TrainingJobName": "bsm-train-resumed"})
    resumed = sm.wait_for_training_job("bsm-train-resumed", timeout=600)
    assert resumed["TrainingJobStatus"] == "Completed", resumed.get("FailureReason")
    log = (sm.workspace / "jobs" / "bsm-train-resumed" / "logs" / "algo-1.log").read_text()
    assert "resumed from checkpoint of epoch 2" in log
    assert "epoch=1 " not in log and "epoch=2 " not in log  # no epoch trained twice
    again = read_tar(sm, bucket, "bsm/output/bsm-train-resumed/output/model.tar.gz")
    assert {"model.pth", "model_artifacts.pth", "model.onnx"} <= set(again)
