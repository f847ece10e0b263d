"""A tiny training script whose objective is a known function of its hyperparameters.

``objective.py`` prints ``epoch=<k> val_loss=<v>`` once per epoch, with
    v = (alpha - 0.3)² + (beta + 0.2)² + KIND[kind] + 1/k
so the final objective (k = epochs) is minimal at alpha = 0.3, beta = -0.2, kind = "b",
and every job's curve falls towards its final value. It writes its hyperparameters
to the model dir (model.tar.gz then says which job it came from).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import ROLE, job_resources
from tests.support import TRAINING_IMAGE as IMAGE

KIND = {"a": 0.5, "b": 0.0, "c": 1.0}

OBJECTIVE_PY = f"""
import argparse, json, os, time
KIND = {KIND!r}
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float, default=0.0)
p.add_argument("--beta", type=float, default=0.0)
p.add_argument("--kind", default="a")
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--epoch-seconds", type=float, default=0.0)
args, _ = p.parse_known_args()
loss = (args.alpha - 0.3) ** 2 + (args.beta + 0.2) ** 2 + KIND[args.kind]
for epoch in range(1, args.epochs + 1):
    print(f"epoch={{epoch}} val_loss={{loss + 1.0 / epoch:.6f}}", flush=True)
    time.sleep(args.epoch_seconds)
model = os.environ["SM_MODEL_DIR"]
os.makedirs(model, exist_ok=True)
with open(os.path.join(model, "hyperparameters.json"), "w") as f:
    json.dump(vars(args), f)
"""


@pytest.fixture
def objective_code(upload_code: Callable[..., str]) -> str:
    return upload_code({"objective.py": OBJECTIVE_PY}, key="tuning/code/sourcedir.tar.gz")


@pytest.fixture
def tuning_request(objective_code: str, bucket: str) -> Callable[..., dict[str, Any]]:
    """A CreateHyperParameterTuningJob request as boto3 takes it, over objective.py."""

    def build(
        name: str,
        strategy: str,
        ranges: dict[str, Any],
        *,
        max_jobs: int | None = 4,
        parallel: int = 2,
        static: dict[str, Any] | None = None,
        **config: Any,
    ) -> dict[str, Any]:
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
        if max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = max_jobs
        statics = {
            "sagemaker_program": json.dumps("objective.py"),
            "sagemaker_submit_directory": json.dumps(objective_code),
            **{k: json.dumps(v) for k, v in (static or {}).items()},
        }
        return {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {
                "Strategy": strategy,
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
                "ResourceLimits": limits,
                "ParameterRanges": ranges,
                **config,
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": statics,
                "AlgorithmSpecification": {
                    "TrainingImage": IMAGE,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [
                        {"Name": "val_loss", "Regex": r"val_loss=([0-9\.]+)"},
                        {"Name": "epoch", "Regex": r"epoch=([0-9]+)"},
                    ],
                },
                "RoleArn": ROLE,
                **job_resources(
                    f"s3://{bucket}/tuning/output",
                    instance_type="ml.m5.large",
                    volume_gb=5,
                    max_runtime=300,
                ),
            },
        }

    return build
