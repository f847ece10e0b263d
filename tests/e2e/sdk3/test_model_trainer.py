"""SDK v3 unmodified: ``ModelTrainer(...).train()`` as a new v3 user writes it.

The real ``dockers/pytorch_bsm/train.py`` trains on tiny synthetic data from
``simulator.datasets``: source code from a local directory (``SourceCode``), three
``InputData`` channels, hyperparameters, ``Compute``, ``StoppingCondition`` and a
``CheckpointConfig``. No session, client or config is built by the test: the SDK finds
the simulator through the environment ``LocalSageMaker`` exports (``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sagemaker")

from tests.e2e.sdk3.common import (  # noqa: E402
    BSM,
    BUCKET,
    ONE_THREAD,
    ROLE,
    TRAINING_IMAGE,
    metric_definitions,
)

pytestmark = pytest.mark.sdk(3)
HYPERPARAMETERS = {"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01}


def read_tar(sm: Any, uri: str) -> dict[str, bytes]:
    bucket, key = uri[len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def trainer(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sagemaker.core.training.configs import (
        CheckpointConfig,
        Compute,
        InputData,
        OutputDataConfig,
        SourceCode,
        StoppingCondition,
    )
    from sagemaker.train import ModelTrainer

    from simulator.datasets import write_dataset

    data = write_dataset(tmp_path_factory.mktemp("bsm-data"), rows=240, seed=7)
    channels = []
    for split, path in data["files"].items():
        sm.s3.upload_file(path, BUCKET, f"data/{split}/{Path(path).name}")
        channels.append(InputData(channel_name=split, data_source=f"s3://{BUCKET}/data/{split}"))

    model_trainer = ModelTrainer(
        training_image=TRAINING_IMAGE,
        source_code=SourceCode(source_dir=str(BSM), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        hyperparameters=HYPERPARAMETERS,
        stopping_condition=StoppingCondition(max_runtime_in_seconds=900),
        checkpoint_config=CheckpointConfig(s3_uri=f"s3://{BUCKET}/checkpoints/bsm"),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{BUCKET}/models"),
        environment=ONE_THREAD,
        role=ROLE,
        base_job_name="bsm-v3",
    ).with_metric_definitions(metric_definitions())
    model_trainer.train(input_data_config=channels)  # wait=True, logs=True: the defaults
    return model_trainer


@pytest.fixture(scope="module")
def job(sm: Any, trainer: Any) -> dict[str, Any]:
    return sm.describe_training_job(TrainingJobName=trainer._latest_training_job.training_job_name)


def test_train_returns_with_the_job_completed(trainer: Any, job: dict[str, Any]) -> None:
    latest = trainer._latest_training_job  # the SDK's own view, refreshed by its wait()
    assert latest.training_job_status == "Completed"
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobName"].startswith("bsm-v3-")
    assert job["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 900
    assert {c["ChannelName"] for c in job["InputDataConfig"]} >= {"train", "val", "test"}


def test_the_hyperparameters_reached_the_script(sm: Any, job: dict[str, Any]) -> None:
    log = (sm.workspace / "jobs" / job["TrainingJobName"] / "logs" / "algo-1.log").read_text()
    assert "epoch=1 " in log and "epoch=2 " in log
    assert "epoch=3 " not in log  # max_epochs=2 was applied


def test_model_tar_gz_is_in_s3_with_the_trained_model(sm: Any, job: dict[str, Any]) -> None:
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/models/{job['TrainingJobName']}/output/model.tar.gz"
    model = read_tar(sm, uri)
    assert {"model.pth", "model_artifacts.pth", "model.onnx"} <= set(model), sorted(model)


def test_the_model_learned_on_held_out_data(sm: Any, job: dict[str, Any]) -> None:
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"val:auroc", "test:auroc"}
    assert metrics["test:auroc"] > 0.6, metrics  # test split: never seen in training
    output = job["ModelArtifacts"]["S3ModelArtifacts"].replace("model.tar.gz", "output.tar.gz")
    report = json.loads(read_tar(sm, output)["metrics.json"])
    assert report["epochs_run"] == 2
    assert report["test"]["auroc"] == pytest.approx(metrics["test:auroc"], abs=1e-4)


def test_checkpoints_were_synced_to_the_checkpoint_uri(sm: Any, job: dict[str, Any]) -> None:
    assert job["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/checkpoints/bsm"
    listed = sm.s3.list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/bsm/")
    assert listed.get("KeyCount", 0) > 0
