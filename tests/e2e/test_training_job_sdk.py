"""The SageMaker Python SDK, unchanged, runs a real job through smsim.

Inside ``LocalSageMaker`` every boto3 client reaches the embedded moto; smsim
routes CreateTrainingJob/StopTrainingJob (and processing) that arrive there to
its runner, so ``Estimator.fit()`` trains for real and ``model_data`` exists.
"""

from __future__ import annotations

import io
import tarfile

import pytest

sagemaker = pytest.importorskip("sagemaker")
# v2's PyTorch estimator; the v3 ModelTrainer counterpart is tests/e2e/sdk3/.
pytestmark = pytest.mark.sdk(2)

SCRIPT = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={1 / (epoch + 1)}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write("trained by the SDK's job")
"""


def test_sdk_estimator_fit_runs_the_script(sm, capsys, sdk_estimator):
    estimator = sdk_estimator(
        SCRIPT,
        hyperparameters={"epochs": 3},
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9\\.]+)"}],
    )
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name
    sm.wait_for_training_job(name, timeout=120)
    # The SDK's own waiter (DescribeTrainingJob through moto) sees the finished job, and
    # its log reader finds the job's lines in CloudWatch Logs.
    estimator.latest_training_job.wait(logs="All")
    assert "epoch=2 loss=0.333" in capsys.readouterr().out
    desc = sm.describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert [(m["MetricName"], round(m["Value"], 4)) for m in desc["FinalMetricDataList"]] == [
        ("loss", 0.3333)
    ]
    assert estimator.model_data == desc["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = estimator.model_data[len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile("model.txt").read() == b"trained by the SDK's job"
