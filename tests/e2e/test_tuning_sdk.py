"""The SageMaker Python SDK's HyperparameterTuner and TuningStep, unchanged, through smsim.

``tuner.fit()`` sends CreateHyperParameterTuningJob to the embedded moto, which hands it
to smsim: real training jobs run, the SDK's own waiter sees the tuning job end,
``best_training_job()`` and ``analytics().dataframe()`` read smsim's descriptions; a
TuningStep's ``get_top_model_s3_uri(0, …)`` feeds a ModelStep the best job's real
model.tar.gz.
"""

from __future__ import annotations

import io
import json
import tarfile
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest

sagemaker = pytest.importorskip("sagemaker")

from tests.support import INFERENCE_IMAGE, ROLE, SDK_CONFIG  # noqa: E402

BUCKET = "tuning-bucket"
# The objective is a known function of the hyperparameters: best at lr = 0.1, layers = 2.
SCRIPT = """
import argparse, json, math, os
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--layers", type=int)
p.add_argument("--epochs", type=int)
args, _ = p.parse_known_args()
loss = (math.log10(args.lr) + 1) ** 2 + (args.layers - 2) ** 2
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch}: val_loss={loss + 1 / epoch:.6f}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "params.json"), "w") as f:
    json.dump({"lr": args.lr, "layers": args.layers}, f)
"""


def _session() -> Any:
    return sagemaker.Session(
        boto3.Session(region_name="us-east-1"),
        default_bucket=BUCKET,
        sagemaker_config=SDK_CONFIG,
    )


def _tuner(pytorch_estimator: Any, session: Any, src: Path, **kwargs: Any) -> Any:
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner

    estimator = pytorch_estimator(
        src,
        role=ROLE,
        hyperparameters={"epochs": 2},
        output_path=f"s3://{BUCKET}/tuning-out",
        disable_profiler=True,
        sagemaker_session=session,
    )
    return HyperparameterTuner(
        estimator,
        objective_metric_name="val_loss",
        objective_type="Minimize",
        hyperparameter_ranges={
            "lr": ContinuousParameter(0.001, 1.0, scaling_type="Logarithmic"),
            "layers": CategoricalParameter([1, 2, 3]),
        },
        metric_definitions=[{"Name": "val_loss", "Regex": r"val_loss=([0-9\.]+)"}],
        strategy="Bayesian",
        max_jobs=5,
        max_parallel_jobs=2,
        **kwargs,
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "train.py").write_text(SCRIPT)
    return d


def _model_params(s3: Any, uri: str) -> dict[str, Any]:
    bucket, key = uri[len("s3://") :].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile("params.json")
        assert member is not None
        return json.loads(member.read())


def test_tuner_fit_best_training_job_and_analytics(
    sm: Any, src: Path, pytorch_estimator: Any
) -> None:
    sm.s3.create_bucket(Bucket=BUCKET)
    tuner = _tuner(pytorch_estimator, _session(), src)
    tuner.fit(wait=False)
    name = tuner.latest_tuning_job.name
    sm.wait_for_hyper_parameter_tuning_job(name, timeout=300)
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    # The SDK's DescribeHyperParameterTuningJob (through moto's endpoint) sees the same job.
    seen = tuner.describe()
    assert seen["HyperParameterTuningJobStatus"] == "Completed"
    assert seen["TrainingJobStatusCounters"] == desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 5

    best = tuner.best_training_job()
    assert best == desc["BestTrainingJob"]["TrainingJobName"]
    frame = tuner.analytics().dataframe()
    assert len(frame) == 5
    assert set(frame["TrainingJobName"]) == {
        j["TrainingJobName"]
        for j in sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )["TrainingJobSummaries"]
    }
    # The objective column is the jobs' real final val_loss: the known function of lr, layers.
    for _, row in frame.iterrows():
        lr, layers = float(row["lr"]), int(str(row["layers"]).strip('"'))
        expected = (__import__("math").log10(lr) + 1) ** 2 + (layers - 2) ** 2 + 0.5
        assert row["FinalObjectiveValue"] == pytest.approx(expected, abs=1e-5)
    assert frame["FinalObjectiveValue"].min() == pytest.approx(
        desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    # The best job is a real training job with the tuned hyperparameters in its model.
    train = sm.describe_training_job(TrainingJobName=best)
    assert train["TuningJobArn"] == desc["HyperParameterTuningJobArn"]
    params = _model_params(sm.s3, train["ModelArtifacts"]["S3ModelArtifacts"])
    tuned = desc["BestTrainingJob"]["TunedHyperParameters"]
    assert params["lr"] == pytest.approx(float(tuned["lr"]))
    assert str(params["layers"]) == tuned["layers"].strip('"')


def test_tuning_step_feeds_the_best_model_to_a_model_step(
    sm: Any, src: Path, pytorch_estimator: Any
) -> None:
    from sagemaker.model import Model
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import TuningStep

    sm.s3.create_bucket(Bucket=BUCKET)
    session = PipelineSession(
        boto_session=boto3.Session(region_name="us-east-1"),
        default_bucket=BUCKET,
        sagemaker_config=SDK_CONFIG,
    )
    tuner = _tuner(pytorch_estimator, session, src)
    tune = TuningStep("Tune", step_args=tuner.fit())
    best_uri = tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix="tuning-out")
    model = Model(
        image_uri=INFERENCE_IMAGE, model_data=best_uri, role=ROLE, sagemaker_session=session
    )
    create = ModelStep("BestModel", step_args=model.create(instance_type="ml.m5.large"))
    pipeline = Pipeline("tuned", steps=[tune, create], sagemaker_session=session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        definition = pipeline.definition()
    sm.create_pipeline(PipelineName="tuned", PipelineDefinition=definition, RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="tuned")["PipelineExecutionArn"]
    execution = sm.wait_for_pipeline_execution(arn)
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert execution["PipelineExecutionStatus"] == "Succeeded", steps
    tuning_arn = steps["Tune"]["Metadata"]["TuningJob"]["Arn"]
    tuning_name = tuning_arn.rsplit("/", 1)[1]
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    best = desc["BestTrainingJob"]
    [model_step] = [s for n, s in steps.items() if n.startswith("BestModel")]  # …-CreateModel
    model_name = model_step["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    container = sm.describe_model(ModelName=model_name)["PrimaryContainer"]
    # top_k=0 is the best job: its real model.tar.gz, which holds its hyperparameters.
    expected = f"s3://{BUCKET}/tuning-out/{best['TrainingJobName']}/output/model.tar.gz"
    assert container["ModelDataUrl"] == expected
    params = _model_params(sm.s3, expected)
    assert params["lr"] == pytest.approx(float(best["TunedHyperParameters"]["lr"]))
