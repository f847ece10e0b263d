"""The BSM DAG with a Tuning step (``bsm-tuning``): planned, assembled as the SDK's
TuningStep writes it, and run end to end on tiny data — the evaluated, served and
registered model is the best training job's model.tar.gz."""

from __future__ import annotations

import json
import warnings
from typing import Any

import boto3
import pytest

from simulator.pipeline.build.assembly import assemble, iter_steps
from simulator.pipeline.build.dags import get_dag
from tests.support import MODEL_CONSUMERS, planned_wiring


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return assemble(get_dag("bsm-tuning")).definition


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in iter_steps(definition)}


def _shape(value: Any) -> Any:
    """The keys of nested dicts (what a request's structure is, whatever its values)."""
    if isinstance(value, dict) and not {"Get", "Std:Join"} & set(value):  # not an expression
        return {k: _shape(v) for k, v in value.items() if not k.endswith("HyperParameters")}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return None


def test_plan_wires_every_model_consumer_to_the_tuning_step() -> None:
    wired = planned_wiring("bsm-tuning")
    for consumer, dependency in MODEL_CONSUMERS:
        assert wired[(consumer, dependency)] == "Tune", wired
    assert wired[("Tune", "input_path")] == "TabularPreprocessing"


def test_tuning_step_is_shaped_as_the_sdks_tuning_step(definition: dict[str, Any]) -> None:
    """The real SDK's TuningStep of a PyTorch estimator over the same ranges is the oracle
    for the structure of the step's Arguments and of get_top_model_s3_uri(0)."""
    pytest.importorskip("sagemaker.tuner")
    from sagemaker.inputs import TrainingInput
    from sagemaker.pytorch import PyTorch
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import TuningStep

    ours = _steps(definition)["Tune"]
    session = PipelineSession(
        boto_session=boto3.Session(
            region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        ),
        default_bucket="b",
    )
    metrics = [{"Name": "val:auroc", "Regex": "val_auroc=([0-9.]+)"}]
    estimator = PyTorch(
        entry_point="train.py",
        source_dir="s3://b/code/sourcedir.tar.gz",  # an S3 source dir: nothing uploaded
        role="arn:aws:iam::123456789012:role/R",
        framework_version="2.1",
        py_version="py310",
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
        hyperparameters={"max_epochs": 2},
        output_path="s3://b/out",
        checkpoint_s3_uri="s3://b/checkpoints",
        metric_definitions=metrics,
    )
    tuner = HyperparameterTuner(
        estimator,
        "val:auroc",
        {
            "lr": ContinuousParameter(0.001, 0.05, scaling_type="Logarithmic"),
            "dropout": ContinuousParameter(0.0, 0.5, scaling_type="Linear"),
        },
        metric_definitions=metrics,
        max_jobs=4,
        max_parallel_jobs=2,
        objective_type="Maximize",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = TuningStep(
            "Tune",
            step_args=tuner.fit(
                inputs={c: TrainingInput(f"s3://b/{c}") for c in ("train", "val", "test")}
            ),
        )
        sdk = json.loads(Pipeline("p", steps=[step], sagemaker_session=session).definition())
    sdk_step = sdk["Steps"][0]
    assert ours["Type"] == sdk_step["Type"] == "Tuning"
    assert _shape(ours["Arguments"]) == _shape(sdk_step["Arguments"])
    ranges = ours["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges == sdk_step["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    # The tuned hyperparameters are not static ones.
    static = ours["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "lr" not in static and "dropout" not in static
    assert json.loads(static["sagemaker_program"]) == "train.py"

    # Every model consumer reads the top model as get_top_model_s3_uri(0, …) spells it.
    top = step.get_top_model_s3_uri(top_k=0, s3_bucket="b", prefix="out").expr["Std:Join"]
    evaluation = _steps(definition)["ModelEvaluation"]["Arguments"]
    [model_input] = [i for i in evaluation["ProcessingInputs"] if i["InputName"] == "model_input"]
    ours_top = model_input["S3Input"]["S3Uri"]["Std:Join"]
    assert ours_top["On"] == top["On"] == "/"
    assert ours_top["Values"][-2:] == top["Values"][-2:]  # the best job's name, its model
    assert ours_top["Values"][-2] == {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}
    model = _steps(definition)["CreateBSMModel"]["Arguments"]["PrimaryContainer"]
    assert model["ModelDataUrl"] == model_input["S3Input"]["S3Uri"]


def test_demo_runs_the_tuning_dag_and_serves_the_best_model(tmp_path) -> None:
    from simulator.demo import run_demo
    from simulator.session import LocalSageMaker

    ws = tmp_path / "ws"
    result = run_demo(
        ws,
        rows=400,
        epochs=1,
        threshold=0.0,
        dag_name="bsm-tuning",
        timeout=600,
        config={"tuning_max_jobs": 2, "tuning_max_parallel_jobs": 2},
    )
    assert result["pipeline_execution_status"] == "Succeeded", result["failure_reason"]
    statuses = {s["name"]: s["status"] for s in result["steps"]}
    assert statuses["Tune"] == statuses["BatchTransformTest"] == "Succeeded", statuses
    with LocalSageMaker(workspace=ws) as sm:
        [tuning] = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        desc = sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning["HyperParameterTuningJobName"]
        )
        assert desc["TrainingJobStatusCounters"]["Completed"] == 2
        best = desc["BestTrainingJob"]
        tuned = best["TunedHyperParameters"]
        assert 0.001 <= float(tuned["lr"]) <= 0.05 and 0.0 <= float(tuned["dropout"]) <= 0.5
        job = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
        # The model created, served and registered is the best job's own model.tar.gz
        # (as DescribeModel answered during the run: models live in the run's moto).
        served = result["outputs"]["CreateBSMModel"]["model_data_url"]["value"]
        assert served == job["ModelArtifacts"]["S3ModelArtifacts"]
    # The transform scored the test split with that model: evaluate.py's AUROC again.
    transform = result["transform"]
    assert transform["auroc"] == pytest.approx(transform["evaluation_auroc"], abs=1e-6)
