"""The SageMaker XGBoost built-in algorithm's conventions: a training job that names the
sagemaker-xgboost image and no script (no sagemaker_program) runs the algorithm.

CSV channels with the label first and no header (or libsvm), ContentType on each channel,
hyperparameters as raw strings (objective, num_round, eval_metric, …), the built-in's own
metric names in FinalMetricDataList, xgboost-model in model.tar.gz.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.support import training_request

xgb = pytest.importorskip("xgboost")

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def label_first(frame: pd.DataFrame) -> pd.DataFrame:
    """BSM rows as the built-in wants them: label, then numeric features (one-hot categories)."""
    from simulator.datasets import CATEGORICAL_FIELDS, LABEL_FIELD, NUMERIC_FIELDS

    features = pd.get_dummies(frame[list(CATEGORICAL_FIELDS)].astype(str), dtype=float)
    return pd.concat([frame[[LABEL_FIELD, *NUMERIC_FIELDS]], features], axis=1)


@pytest.fixture(scope="module")
def splits() -> dict[str, pd.DataFrame]:
    from simulator.datasets import generate

    table = label_first(generate(900, seed=5))
    return {"train": table[:600], "validation": table[600:750], "test": table[750:]}


def put_csv(sm: Any, bucket: str, key: str, frame: pd.DataFrame) -> str:
    body = frame.to_csv(header=False, index=False)  # no header: the built-in's CSV rule
    sm.s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"s3://{bucket}/{key.rsplit('/', 1)[0]}"


def request(
    name: str, bucket: str, channels: dict[str, tuple[str, str]], hps: dict[str, str], **extra
):
    return training_request(
        name,
        IMAGE,
        hps,
        channels,
        f"s3://{bucket}/xgb/output",
        resources={"volume_gb": 5},
        **extra,
    )


def model_from(sm: Any, desc: dict[str, Any]) -> Any:
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        raw = tar.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


# Raw strings, as a boto3 user (or the SDK's generic Estimator) sends them.
HPS = {
    "objective": "binary:logistic",
    "num_round": "60",
    "eta": "0.2",
    "max_depth": "3",
    "eval_metric": "logloss,auc",
    "early_stopping_rounds": "10",
}


def test_builtin_csv_training_learns_and_reports_its_metrics(sm, bucket, splits) -> None:
    channels = {
        name: (put_csv(sm, bucket, f"xgb/{name}/{name}.csv", splits[name]), "text/csv")
        for name in ("train", "validation")
    }
    sm.create_training_job(
        **request(
            "xgb-builtin-csv",
            bucket,
            channels,
            HPS,
            CheckpointConfig={"S3Uri": f"s3://{bucket}/xgb/checkpoints"},
        )
    )
    desc = sm.wait_for_training_job("xgb-builtin-csv", timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert {"train:auc", "train:logloss", "validation:auc", "validation:logloss"} <= set(metrics)
    assert 0.5 < metrics["validation:auc"] <= 1.0

    booster = model_from(sm, desc)
    test = splits["test"].to_numpy(dtype=np.float32)
    assert auroc(test[:, 0], booster.predict(xgb.DMatrix(test[:, 1:]))) > 0.75
    keys = sm.s3.list_objects_v2(Bucket=bucket, Prefix="xgb/checkpoints/").get("Contents", [])
    assert any(k["Key"].split("/")[-1].startswith("xgboost-checkpoint.") for k in keys)


def libsvm(table: np.ndarray) -> str:
    """label index:value … per row; a missing value (NaN) is left out, as libsvm does."""
    return "".join(
        f"{row[0]:g} "
        + " ".join(f"{j}:{v:g}" for j, v in enumerate(row[1:]) if not np.isnan(v))
        + "\n"
        for row in table
    )


def test_builtin_reads_libsvm_the_default_content_type(sm, bucket, splits) -> None:
    channels = {}
    for name in ("train", "validation"):
        body = libsvm(splits[name].to_numpy(dtype=np.float64))
        sm.s3.put_object(Bucket=bucket, Key=f"svm/{name}/{name}.libsvm", Body=body.encode())
        channels[name] = f"s3://{bucket}/svm/{name}"
    req = request(
        "xgb-builtin-libsvm", bucket, {c: (u, "text/libsvm") for c, u in channels.items()}, HPS
    )
    for channel in req["InputDataConfig"]:
        del channel["ContentType"]  # no ContentType: the built-in reads libsvm
    sm.create_training_job(**req)
    desc = sm.wait_for_training_job("xgb-builtin-libsvm", timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    booster = model_from(sm, desc)
    test = splits["test"].to_numpy(dtype=np.float32)
    assert auroc(test[:, 0], booster.predict(xgb.DMatrix(test[:, 1:]))) > 0.75


def test_bad_requests_fail_with_the_builtins_messages(sm, bucket, splits) -> None:
    # The trap: hyperparameters JSON-encoded the way the SDK's framework estimators do
    # reach the built-in, which reads them verbatim and does not recognise the value.
    train = put_csv(sm, bucket, "q/train/t.csv", splits["train"])
    hps = {k: json.dumps(v) for k, v in {"objective": "reg:squarederror", "num_round": 5}.items()}
    assert hps["objective"] == '"reg:squarederror"'
    sm.create_training_job(**request("xgb-quoted", bucket, {"train": (train, "text/csv")}, hps))
    desc = sm.wait_for_training_job("xgb-quoted", timeout=120)
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("AlgorithmError: framework error:")
    assert 'UserError: Hyperparameter objective: "reg:squarederror" is not in [' in reason
    assert "'binary:logistic'" in reason and "'reg:squarederror'" in reason

    # A channel the built-in does not know, and CSV with a header row.
    channels = {"train": (train, "text/csv"), "val": (train, "text/csv")}
    sm.create_training_job(**request("xgb-channel", bucket, channels, HPS))
    uri = f"s3://{bucket}/h/train"
    body = splits["train"].to_csv(index=False)  # with a header row
    sm.s3.put_object(Bucket=bucket, Key="h/train/t.csv", Body=body.encode())
    sm.create_training_job(**request("xgb-header", bucket, {"train": (uri, "text/csv")}, HPS))
    desc = sm.wait_for_training_job("xgb-channel", timeout=120)
    assert "Extraneous channel found: val" in desc["FailureReason"]
    desc = sm.wait_for_training_job("xgb-header", timeout=120)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "header" in desc["FailureReason"] and "label first" in desc["FailureReason"]
