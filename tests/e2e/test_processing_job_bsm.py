"""End to end: the real dockers/pytorch_bsm/preprocess.py as a SageMaker processing job."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.shapes import validate_response
from tests.support import processing_input, processing_request

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "dockers" / "pytorch_bsm" / "preprocess.py"


def preprocess_request(name: str, bucket: str, code: str, data: str, **extra):
    full = {
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
        "S3CompressionType": "None",
    }
    return processing_request(
        name,
        ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        ["--job_type", "training"],
        [
            processing_input("DATA", data, "/opt/ml/processing/input/data", **full),
            processing_input("code", code, "/opt/ml/processing/input/code", **full),
        ],
        {
            "processed_data": (
                f"s3://{bucket}/{name}/output/processed_data",
                "/opt/ml/processing/output",
            )
        },
        {"LABEL_FIELD": "label", "TRAIN_RATIO": "0.7", "TEST_VAL_RATIO": "0.5"},
        max_runtime=600,
        **extra,
    )


def stage(sm: Any, bucket: str, tmp_path: Path, prefix: str, rows: int) -> tuple[str, str]:
    """BSM raw data (``rows`` rows) and preprocess.py under ``prefix``: their S3 URIs."""
    from simulator.datasets import write_dataset

    raw = write_dataset(tmp_path / "raw", rows=rows, seed=3, split=False)
    sm.s3.upload_file(raw["files"]["raw"], bucket, f"{prefix}/raw/data.csv")
    sm.s3.upload_file(str(SCRIPT), bucket, f"{prefix}/code/preprocess.py")
    return f"s3://{bucket}/{prefix}/code/preprocess.py", f"s3://{bucket}/{prefix}/raw"


def test_real_preprocess_py_end_to_end(sm, bucket, tmp_path):
    code, data = stage(sm, bucket, tmp_path, "bsm", rows=200)
    request = preprocess_request("bsm-preprocess", bucket, code, data)
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("bsm-preprocess", timeout=300)
    assert desc["ProcessingJobStatus"] == "Completed", (
        desc.get("FailureReason"),
        desc.get("ExitMessage"),
    )
    validate_response("DescribeProcessingJob", desc)
    prefix = "bsm-preprocess/output/processed_data/"
    listed = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    keys = sorted(o["Key"][len(prefix) :] for o in listed)
    assert keys == ["batch/test.csv", "test/test.csv", "train/train.csv", "val/val.csv"]
    sizes = {}
    for split in ("train", "val", "test"):
        body = sm.s3.get_object(Bucket=bucket, Key=f"{prefix}{split}/{split}.csv")["Body"].read()
        sizes[split] = len(pd.read_csv(io.BytesIO(body)))
    assert sum(sizes.values()) == 200
    assert sizes["train"] == 140
    # The batch-transform copy of the test split: the same rows, no header, label last.
    body = sm.s3.get_object(Bucket=bucket, Key=f"{prefix}batch/test.csv")["Body"].read()
    test = pd.read_csv(
        io.BytesIO(sm.s3.get_object(Bucket=bucket, Key=f"{prefix}test/test.csv")["Body"].read())
    )
    batch = pd.read_csv(io.BytesIO(body), header=None)
    assert len(batch) == sizes["test"]
    assert batch.iloc[:, -1].tolist() == test["label"].tolist()


def test_real_preprocess_py_failure_is_explained(sm, bucket, tmp_path):
    code, data = stage(sm, bucket, tmp_path, "bad", rows=60)
    request = preprocess_request(
        "bsm-preprocess-bad", bucket, code, data, Environment={"TRAIN_RATIO": "1.5"}
    )
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("bsm-preprocess-bad", timeout=300)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "TRAIN_RATIO" in desc["ExitMessage"]
    assert desc["FailureReason"].startswith("AlgorithmError")
