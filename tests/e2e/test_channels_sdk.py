"""The SDK's ``TrainingInput`` input modes run through smsim (#13 req. 6): a Pipe channel
(Gzip, ShardedByS3Key) and a FastFile channel in one ``estimator.fit`` call."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import boto3
import pytest

sagemaker = pytest.importorskip("sagemaker")
pytestmark = pytest.mark.sdk(2)


SCRIPT = """
import json, os, time
config = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
pipe = os.environ["SM_CHANNEL_TRAIN"] + "_0"
while not os.path.exists(pipe):
    time.sleep(0.05)
with open(pipe) as f:
    train = f.read()
val_dir = os.environ["SM_CHANNEL_VAL"]
val = {n: open(os.path.join(val_dir, n)).read() for n in sorted(os.listdir(val_dir))}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump({"train": train, "val": val, "config": config}, f)
"""


def test_training_inputs_pipe_and_fast_file_through_the_sdk(sm, sdk_estimator):
    from sagemaker.inputs import TrainingInput

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sdk-bucket")
    for name, body in {"b.csv.gz": b"2\n", "a.csv.gz": b"1\n"}.items():
        s3.put_object(Bucket="sdk-bucket", Key=f"in/train/{name}", Body=gzip.compress(body))
    s3.put_object(Bucket="sdk-bucket", Key="in/val/v.csv", Body=b"9\n")
    estimator = sdk_estimator(SCRIPT)
    estimator.fit(
        {
            "train": TrainingInput(
                "s3://sdk-bucket/in/train/",
                distribution="ShardedByS3Key",
                compression="Gzip",
                input_mode="Pipe",
            ),
            "val": TrainingInput("s3://sdk-bucket/in/val/", input_mode="FastFile"),
        },
        wait=False,
    )
    name = estimator.latest_training_job.name
    desc = sm.wait_for_training_job(name, timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        seen = json.loads(tar.extractfile("seen.json").read())
    assert seen["train"] == "1\n2\n"  # decompressed, in key order (a.csv.gz, b.csv.gz)
    assert seen["val"] == {"v.csv": "9\n"}
    assert seen["config"]["train"]["TrainingInputMode"] == "Pipe"
    assert seen["config"]["train"]["S3DistributionType"] == "ShardedByS3Key"
    assert seen["config"]["val"]["TrainingInputMode"] == "File"  # FastFile, as the guide says
