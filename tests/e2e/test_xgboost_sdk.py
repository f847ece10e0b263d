"""The SageMaker Python SDK v2, unchanged, runs XGBoost both ways SageMaker does.

- framework (script) mode: ``sagemaker.xgboost.XGBoost(entry_point=…)`` with our
  dockers/xgboost_bsm trainer on the BSM channels;
- the built-in algorithm: ``sagemaker.estimator.Estimator(image_uri=<xgboost image>,
  hyperparameters={…})`` on label-first CSV channels, no script at all.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")
xgb = pytest.importorskip("xgboost")

CODE_DIR = Path(__file__).resolve().parents[2] / "dockers" / "xgboost_bsm"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
# Keeps the SDK from phoning home (offline machine): its documented config switch.
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def session() -> object:
    return sagemaker.Session(
        boto3.Session(region_name="us-east-1"),
        default_bucket="sdk-bucket",
        sagemaker_config=SDK_CONFIG,
    )


def model_files(sm, model_data: str) -> dict[str, bytes]:
    bucket, key = model_data[len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_sdk_xgboost_framework_estimator_runs_our_script(sm, tiny_bsm_data) -> None:
    from sagemaker.xgboost import XGBoost

    from contracts.xgboost_train import XGBOOST_TRAIN_CONTRACT

    sm.s3.create_bucket(Bucket="sdk-bucket")
    channels = {}
    for split, path in tiny_bsm_data["files"].items():
        sm.s3.upload_file(path, "sdk-bucket", f"bsm/{split}/{Path(path).name}")
        channels[split] = f"s3://sdk-bucket/bsm/{split}"
    estimator = XGBoost(
        entry_point="xgboost_train.py",
        source_dir=str(CODE_DIR),
        framework_version="1.7-1",
        instance_type="ml.m5.xlarge",
        instance_count=1,
        role=ROLE,
        hyperparameters={"num_round": 40, "eta": 0.2, "early_stopping_rounds": 10},
        metric_definitions=XGBOOST_TRAIN_CONTRACT.metric_definitions,
        disable_profiler=True,
        sagemaker_session=session(),
    )
    assert estimator.training_image_uri().endswith("/sagemaker-xgboost:1.7-1")
    estimator.fit(channels, wait=False)
    name = estimator.latest_training_job.name
    desc = sm.wait_for_training_job(name, timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert set(metrics) == {"train:logloss", "train:auc", "validation:logloss", "validation:auc"}
    assert metrics["validation:auc"] > 0.6
    files = model_files(sm, estimator.model_data)
    assert {"xgboost-model", "xgboost-model.json", "preprocessor.json"} <= set(files)


def test_sdk_generic_estimator_runs_the_builtin_algorithm(sm) -> None:
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    from simulator.datasets import LABEL_FIELD, NUMERIC_FIELDS, generate

    frame = generate(600, seed=9)
    table = frame[[LABEL_FIELD, *NUMERIC_FIELDS]]  # label first, numeric features
    sm.s3.create_bucket(Bucket="sdk-bucket")
    inputs = {}
    for channel, part in (("train", table[:450]), ("validation", table[450:])):
        body = part.to_csv(header=False, index=False).encode()
        sm.s3.put_object(Bucket="sdk-bucket", Key=f"csv/{channel}/part.csv", Body=body)
        inputs[channel] = TrainingInput(f"s3://sdk-bucket/csv/{channel}", content_type="text/csv")
    image = image_uris.retrieve("xgboost", "us-east-1", "1.7-1")
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        hyperparameters={
            "objective": "binary:logistic",
            "num_round": 40,
            "max_depth": 3,
            "eval_metric": "auc",
        },
        disable_profiler=True,
        sagemaker_session=session(),
    )
    estimator.fit(inputs, wait=False)
    name = estimator.latest_training_job.name
    desc = sm.wait_for_training_job(name, timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    # The built-in's own metric definitions: the request named none.
    metrics = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert {"train:auc", "validation:auc"} <= set(metrics)
    booster = xgb.Booster()
    booster.load_model(bytearray(model_files(sm, estimator.model_data)["xgboost-model"]))
    held_out = table[450:].to_numpy(dtype=np.float32)
    scores = booster.predict(xgb.DMatrix(held_out[:, 1:]))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(held_out[:, 0], scores) == pytest.approx(
        metrics["validation:auc"], abs=1e-3
    )
