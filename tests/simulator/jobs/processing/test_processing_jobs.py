"""Processing jobs through LocalSageMaker with small scripts written in the tests."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from simulator.errors import ResourceInUse, UnsupportedFeature, ValidationError
from simulator.shapes import enum_values, validate_response

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

# Resolves its paths against SAGEMAKER_BASE_DIR, as the BSM scripts do.
SCRIPT = r"""
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--job_type", required=True)
parser.add_argument("--input", required=True)
args = parser.parse_args()
base = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
data_dir = args.input
rows = []
for folder, _, names in sorted(os.walk(data_dir)):
    for name in sorted(names):
        with open(os.path.join(folder, name)) as f:
            rows += [l.strip() for l in f if l.strip()]
out = os.path.join(base, "processing", "output", "summary")
os.makedirs(os.path.join(out, "nested"), exist_ok=True)
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump({"rows": rows, "job_type": args.job_type, "label": os.environ.get("LABEL_FIELD"),
               "config": sorted(os.listdir(os.path.join(base, "config")))}, f)
with open(os.path.join(out, "nested", "n.txt"), "w") as f:
    f.write("n")
print("processed", len(rows), "rows")
if os.environ.get("FAIL"):
    print("something broke", file=sys.stderr)
    sys.exit(4)
"""


def request(name: str, bucket: str, code_uri: str, data_uri: str, **extra: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
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
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/process.py"],
            "ContainerArguments": [
                "--job_type",
                "training",
                "--input",
                "/opt/ml/processing/input/data",
            ],
        },
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": data_uri,
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": code_uri,
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "summary",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/{name}/output/summary",
                        "LocalPath": "/opt/ml/processing/output/summary",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "Environment": {"LABEL_FIELD": "label"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    req.update(extra)
    return req


def get_json(sm: Any, bucket: str, key: str) -> Any:
    return json.loads(sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(sm: Any, bucket: str, prefix: str) -> list[str]:
    resp = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in resp.get("Contents", []))


@pytest.fixture
def staged(sm, bucket, put_s3):
    code = put_s3("proc/code/process.py", SCRIPT)
    put_s3("proc/data/a.csv", "1\n2\n")
    put_s3("proc/data/sub/b.csv", "3\n")
    return code, f"s3://{bucket}/proc/data"


def test_processing_job_runs_and_uploads_outputs(sm, bucket, staged, container_mode):
    code, data = staged
    req = request("proc-ok", bucket, code, data)
    assert sm.create_processing_job(**req) == {
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/proc-ok"
    }
    desc = sm.wait_for_processing_job("proc-ok", timeout=120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    validate_response("DescribeProcessingJob", desc)
    assert desc["ProcessingJobStatus"] in enum_values("ProcessingJobStatus")
    assert desc["ProcessingResources"] == req["ProcessingResources"]
    assert desc["AppSpecification"] == req["AppSpecification"]
    assert desc["Environment"] == req["Environment"]
    assert desc["CreationTime"] <= desc["ProcessingStartTime"] <= desc["ProcessingEndTime"]
    assert desc["ProcessingInputs"][1]["S3Input"]["S3CompressionType"] == "None"  # default echoed
    # Outputs land directly under S3Output.S3Uri, relative paths kept.
    assert keys(sm, bucket, "proc-ok/") == [
        "proc-ok/output/summary/nested/n.txt",
        "proc-ok/output/summary/summary.json",
    ]
    summary = get_json(sm, bucket, "proc-ok/output/summary/summary.json")
    assert summary["rows"] == ["1", "2", "3"]
    assert summary["job_type"] == "training" and summary["label"] == "label"
    assert summary["config"] == ["processingjobconfig.json", "resourceconfig.json"]
    host = sm.workspace / "processing-jobs" / "proc-ok" / "hosts" / "algo-1"
    resource = json.loads((host / "config" / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]
    config = json.loads((host / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingJobArn"] == desc["ProcessingJobArn"]
    for key in ("ProcessingJobName", "AppSpecification", "ProcessingInputs", "Environment"):
        assert config[key] == req[key], key
    # Another client in the process sees the real description, ProcessingResources included.
    mirrored = boto3.client("sagemaker").describe_processing_job(ProcessingJobName="proc-ok")
    assert mirrored["ProcessingJobStatus"] == "Completed"
    assert mirrored["ProcessingResources"] == req["ProcessingResources"]
    assert [
        j["ProcessingJobStatus"] for j in sm.list_processing_jobs()["ProcessingJobSummaries"]
    ] == ["Completed"]


def test_failed_processing_job_keeps_outputs_and_explains(sm, bucket, staged, container_mode):
    code, data = staged
    req = request("proc-fail", bucket, code, data, Environment={"FAIL": "1"})
    sm.create_processing_job(**req)
    desc = sm.wait_for_processing_job("proc-fail", timeout=120)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("AlgorithmError")
    assert "something broke" in desc["ExitMessage"]
    assert "ExitCode 4" in desc["ExitMessage"]
    validate_response("DescribeProcessingJob", desc)
    assert "proc-fail/output/summary/summary.json" in keys(sm, bucket, "proc-fail/")


def test_gzip_input_is_decompressed(sm, bucket, put_s3):
    code = put_s3("gz/code/process.py", SCRIPT)
    put_s3("gz/data/a.csv.gz", gzip.compress(b"7\n8\n"))
    req = request("proc-gzip", bucket, code, f"s3://{bucket}/gz/data")
    req["ProcessingInputs"][0]["S3Input"]["S3CompressionType"] = "Gzip"
    sm.create_processing_job(**req)
    desc = sm.wait_for_processing_job("proc-gzip", timeout=120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    assert get_json(sm, bucket, "proc-gzip/output/summary/summary.json")["rows"] == ["7", "8"]


def test_processing_requests_checked(sm, bucket, staged):
    code, data = staged
    sm.create_processing_job(**request("proc-dup", bucket, code, data))
    with pytest.raises(ResourceInUse):
        sm.create_processing_job(**request("proc-dup", bucket, code, data))
    bad_path = request("proc-bad-path", bucket, code, data)
    for local in ("/tmp/data", "/opt/ml/input/data"):  # must begin with /opt/ml/processing/
        bad_path["ProcessingInputs"][0]["S3Input"]["LocalPath"] = local
        with pytest.raises(ValidationError, match=r"LocalPath.*/opt/ml/processing/"):
            sm.create_processing_job(**bad_path)
    twice = request("proc-twice", bucket, code, data)
    twice["ProcessingInputs"][1]["S3Input"]["LocalPath"] = "/opt/ml/processing/input/data/"
    with pytest.raises(ValidationError, match=r"already used by ProcessingInputs\[0\]"):
        sm.create_processing_job(**twice)
    outside = request("proc-outside", bucket, code, data)
    outside["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = "/data/out"
    with pytest.raises(UnsupportedFeature, match=r"LocalPath '/data/out' is outside /opt/ml"):
        sm.create_processing_job(**outside)
    no_resources = request("proc-nores", bucket, code, data)
    del no_resources["ProcessingResources"]
    with pytest.raises(ValidationError, match="ProcessingResources"):
        sm.create_processing_job(**no_resources)
    sm.wait_for_processing_job("proc-dup", timeout=120)


def test_processing_max_runtime(sm, bucket, put_s3):
    code = put_s3("slow/code/process.py", "import time\nprint('zz', flush=True)\ntime.sleep(60)\n")
    put_s3("slow/data/a.csv", "1\n")
    req = request(
        "proc-slow",
        bucket,
        code,
        f"s3://{bucket}/slow/data",
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    sm.create_processing_job(**req)
    desc = sm.wait_for_processing_job("proc-slow", timeout=60)
    assert desc["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds" in desc["ExitMessage"]


def test_continuous_output_uploads_during_the_job_and_stop(sm, bucket, put_s3, container_mode):
    from simulator.session import wait_until

    script = (
        "import os, time\n"
        "out = os.path.join(os.environ['SAGEMAKER_BASE_DIR'], 'processing/output/summary')\n"
        "os.makedirs(out, exist_ok=True)\n"
        "open(os.path.join(out, 'early.txt'), 'w').write('early')\n"
        "print('wrote early', flush=True)\n"
        "time.sleep(60)\n"
    )
    code = put_s3("cont/code/process.py", script)
    put_s3("cont/data/a.csv", "1\n")
    req = request("proc-cont", bucket, code, f"s3://{bucket}/cont/data")
    req["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] = "Continuous"
    sm.create_processing_job(**req)
    # Uploaded while the script still runs (S3UploadMode Continuous).
    assert wait_until(lambda: keys(sm, bucket, "proc-cont/") != [], 30)
    running = sm.describe_processing_job(ProcessingJobName="proc-cont")
    assert running["ProcessingJobStatus"] == "InProgress"
    sm.stop_processing_job(ProcessingJobName="proc-cont")
    desc = sm.wait_for_processing_job("proc-cont", timeout=60)
    assert desc["ProcessingJobStatus"] == "Stopped"
    assert keys(sm, bucket, "proc-cont/") == ["proc-cont/output/summary/early.txt"]


def test_a_failed_output_upload_still_ends_the_continuous_sync(sm, bucket, put_s3, fail_s3_uploads):
    """One output's upload fails at the end: the job fails, and the Continuous sync of
    another output ends with it instead of changing S3 after the job."""
    import threading

    from simulator.session import wait_until

    fail_s3_uploads("/summary/", "S3 refused the summary")
    script = (
        "import os\n"
        "base = os.path.join(os.environ['SAGEMAKER_BASE_DIR'], 'processing/output')\n"
        "for name in ('summary', 'live'):\n"
        "    os.makedirs(os.path.join(base, name), exist_ok=True)\n"
        "    open(os.path.join(base, name, 'x.txt'), 'w').write(name)\n"
    )
    code = put_s3("syncs/code/process.py", script)
    put_s3("syncs/data/a.csv", "1\n")
    req = request("proc-syncs", bucket, code, f"s3://{bucket}/syncs/data")
    req["ProcessingOutputConfig"]["Outputs"].append(
        {
            "OutputName": "live",
            "S3Output": {
                "S3Uri": f"s3://{bucket}/proc-syncs/output/live",
                "LocalPath": "/opt/ml/processing/output/live",
                "S3UploadMode": "Continuous",
            },
        }
    )
    sm.create_processing_job(**req)
    desc = sm.wait_for_processing_job("proc-syncs", timeout=60)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "S3 refused the summary" in desc["FailureReason"]
    assert keys(sm, bucket, "proc-syncs/") == ["proc-syncs/output/live/x.txt"]
    assert wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == "smsim-sync"], 5
    ), "a sync thread outlived its job"
