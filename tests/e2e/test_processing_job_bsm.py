"""End to end: the real dockers/pytorch_bsm/preprocess.py as a SageMaker processing job."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from simulator.shapes import validate_response

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "dockers" / "pytorch_bsm" / "preprocess.py"


def preprocess_request(name: str, bucket: str, code: str, data: str, **extra):
    request = {
        "ProcessingJobName": name,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {
            "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/bsm-processing:latest",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
            "ContainerArguments": ["--job_type", "training"],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "ProcessingInputs": [
            {
                "InputName": "DATA",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": data,
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            },
            {
                "InputName": "code",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": code,
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "processed_data",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/{name}/output/processed_data",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        "Environment": {"LABEL_FIELD": "label", "TRAIN_RATIO": "0.7", "TEST_VAL_RATIO": "0.5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(extra)
    return request


def test_real_preprocess_py_end_to_end(sm, bucket, tmp_path):
    from simulator.datasets import write_dataset

    raw = write_dataset(tmp_path / "raw", rows=200, seed=3, split=False)
    sm.s3.upload_file(raw["files"]["raw"], bucket, "bsm/raw/data.csv")
    sm.s3.upload_file(str(SCRIPT), bucket, "bsm/code/preprocess.py")
    request = preprocess_request(
        "bsm-preprocess",
        bucket,
        f"s3://{bucket}/bsm/code/preprocess.py",
        f"s3://{bucket}/bsm/raw",
    )
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
    assert keys == ["test/test.csv", "train/train.csv", "val/val.csv"]
    sizes = {}
    for split in ("train", "val", "test"):
        body = sm.s3.get_object(Bucket=bucket, Key=f"{prefix}{split}/{split}.csv")["Body"].read()
        sizes[split] = len(pd.read_csv(io.BytesIO(body)))
    assert sum(sizes.values()) == 200
    assert sizes["train"] == 140


def test_real_preprocess_py_failure_is_explained(sm, bucket, tmp_path):
    from simulator.datasets import write_dataset

    raw = write_dataset(tmp_path / "raw", rows=60, seed=3, split=False)
    sm.s3.upload_file(raw["files"]["raw"], bucket, "bad/raw/data.csv")
    sm.s3.upload_file(str(SCRIPT), bucket, "bad/code/preprocess.py")
    request = preprocess_request(
        "bsm-preprocess-bad",
        bucket,
        f"s3://{bucket}/bad/code/preprocess.py",
        f"s3://{bucket}/bad/raw",
        Environment={"TRAIN_RATIO": "1.5"},
    )
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("bsm-preprocess-bad", timeout=300)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "TRAIN_RATIO" in desc["ExitMessage"]
    assert desc["FailureReason"].startswith("AlgorithmError")
