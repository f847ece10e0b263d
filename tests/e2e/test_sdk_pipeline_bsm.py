"""A pipeline built with the SageMaker Python SDK's own classes, run by smsim unmodified.

The SDK builds it inside the simulator's embedded AWS, so its uploads of code
(ScriptProcessor code, the PyTorch estimator's sourcedir.tar.gz) land in our S3; the
definition it writes (``Pipeline.definition()``) goes to ``sm.create_pipeline`` as it
is, and the steps run the real BSM scripts of ``dockers/pytorch_bsm``. What the SDK's
local mode cannot do is exercised on purpose: ``FinalMetricDataList['…'].Value`` in a
condition, ``Execution.PipelineExecutionId`` inside S3 paths, JSONPath in ``JsonGet``,
a failed training step that is still described, 12-character execution ids; and the
ConditionStep both ways (the FailStep of the else branch ends the execution).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sagemaker = pytest.importorskip("sagemaker")  # the test-only extra
# v2's sagemaker.workflow; the v3 pipeline counterpart is tests/e2e/sdk3/.
pytestmark = pytest.mark.sdk(2)

from simulator.datasets import write_dataset  # noqa: E402
from simulator.session import LocalSageMaker  # noqa: E402
from tests.support import (  # noqa: E402
    BSM_STEPS,
    INFERENCE_IMAGE,
    ONE_THREAD,
    ROLE,
    SDK_CONFIG,
    assert_steps_succeeded,
    finish_execution,
    script_processor,
    start_execution,
)

ROOT = Path(__file__).parents[2]
BSM = ROOT / "dockers" / "pytorch_bsm"
BUCKET = "sim-bucket"


def build_pipeline(session: Any, pytorch_estimator: Any) -> Any:
    """BSM: preprocess → train → evaluate → condition → create + register model | fail."""
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    input_data = ParameterString("InputData", default_value=f"s3://{BUCKET}/raw/bsm/")
    epochs = ParameterInteger("Epochs", default_value=1)
    threshold = ParameterFloat("AucThreshold", default_value=0.0)
    model_class = ParameterString("ModelClass", default_value="text_cnn")

    processor = script_processor(ScriptProcessor, session, env=ONE_THREAD)
    preprocess = ProcessingStep(
        "TabularPreprocessing",
        step_args=processor.run(
            code=str(BSM / "preprocess.py"),
            inputs=[
                ProcessingInput(source=input_data, destination="/opt/ml/processing/input/data")
            ],
            outputs=[
                ProcessingOutput(
                    output_name="processed_data",
                    source="/opt/ml/processing/output",
                    destination=Join(
                        on="/",
                        values=[
                            f"s3://{BUCKET}",
                            "bsm",
                            ExecutionVariables.PIPELINE_EXECUTION_ID,
                            "processed",
                        ],
                    ),
                )
            ],
            arguments=["--job_type", "training"],
        ),
    )
    processed = preprocess.properties.ProcessingOutputConfig.Outputs[
        "processed_data"
    ].S3Output.S3Uri

    estimator = pytorch_estimator(
        BSM,
        role=ROLE,
        sagemaker_session=session,
        output_path=Join(
            on="/",
            values=[f"s3://{BUCKET}/models", ExecutionVariables.PIPELINE_EXECUTION_ID],
        ),
        hyperparameters={"max_epochs": epochs, "model_class": model_class, "lr": 0.01},
        metric_definitions=[
            {"Name": "val:loss", "Regex": "val_loss=([0-9\\.]+)"},
            {"Name": "val:auroc", "Regex": "val_auroc=([0-9\\.]+)"},
        ],
        environment=ONE_THREAD,
    )
    train = TrainingStep(
        "PyTorchTraining",
        step_args=estimator.fit(
            {
                c: TrainingInput(Join(on="/", values=[processed, c]))
                for c in ("train", "val", "test")
            }
        ),
    )
    artifacts = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(
        name="EvaluationReport", output_name="metrics_output", path="evaluation.json"
    )
    evaluate = ProcessingStep(
        "ModelEvaluation",
        step_args=processor.run(
            code=str(BSM / "evaluate.py"),
            inputs=[
                ProcessingInput(source=artifacts, destination="/opt/ml/processing/input/model"),
                ProcessingInput(
                    source=Join(on="/", values=[processed, "test"]),
                    destination="/opt/ml/processing/input/eval_data",
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="metrics_output", source="/opt/ml/processing/output/metrics"
                ),
                ProcessingOutput(
                    output_name="eval_output", source="/opt/ml/processing/output/eval"
                ),
            ],
        ),
        property_files=[report],
    )
    metrics_uri = evaluate.properties.ProcessingOutputConfig.Outputs[
        "metrics_output"
    ].S3Output.S3Uri

    model = Model(
        image_uri=INFERENCE_IMAGE,
        model_data=artifacts,
        role=ROLE,
        sagemaker_session=session,
    )
    create_model = ModelStep("CreateBSMModel", step_args=model.create(instance_type="ml.m5.large"))
    register = ModelStep(
        "RegisterBSMModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name="bsm-models",
            approval_status="PendingManualApproval",
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="/", values=[metrics_uri, "evaluation.json"]),
                    content_type="application/json",
                )
            ),
        ),
    )
    too_low = FailStep(
        "AucTooLow", error_message=Join(on=" ", values=["test AUROC below", threshold])
    )
    check = ConditionStep(
        "CheckAUC",
        conditions=[
            # JSONPath, not just dotted keys.
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name,
                    property_file=report,
                    json_path="$.metrics['auroc'].value",
                ),
                right=threshold,
            ),
            # A final metric looked up by name (the SDK's local mode fails on this).
            ConditionGreaterThanOrEqualTo(
                left=train.properties.FinalMetricDataList["val:auroc"].Value, right=0.0
            ),
        ],
        if_steps=[create_model, register],
        else_steps=[too_low],
    )
    return Pipeline(
        "SdkBsmPipeline",
        parameters=[input_data, epochs, threshold, model_class],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=session,
    )


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    lines: list[str] = []
    workspace = tmp_path_factory.mktemp("sdk-ws")
    with LocalSageMaker(workspace=workspace, log_sink=lines.append) as local:
        local.s3.create_bucket(Bucket=BUCKET)
        data = write_dataset(tmp_path_factory.mktemp("data"), rows=240, seed=7, split=False)
        for path in Path(data["dir"]).rglob("*.csv"):
            local.s3.upload_file(str(path), BUCKET, f"raw/bsm/{path.name}")
        yield local


@pytest.fixture(scope="module")
def definition(sm: LocalSageMaker, pytorch_estimator: Any) -> str:
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    # The SDK talks to the embedded AWS: boto3 sessions made inside the context reach it.
    session = PipelineSession(
        boto_session=boto3.Session(region_name=sm.region),
        default_bucket=BUCKET,
        sagemaker_config=SDK_CONFIG,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = build_pipeline(session, pytorch_estimator).definition()
    sm.create_pipeline(PipelineName="SdkBsmPipeline", PipelineDefinition=text, RoleArn=ROLE)
    return text


def start(sm: LocalSageMaker, **parameters: str) -> str:
    return start_execution(sm, "SdkBsmPipeline", parameters)


def finish(sm: LocalSageMaker, arn: str) -> tuple[dict[str, Any], dict[str, dict]]:
    return finish_execution(sm, arn, timeout=900)


def run(sm: LocalSageMaker, **parameters: str) -> tuple[dict[str, Any], dict[str, dict]]:
    return finish(sm, start(sm, **parameters))


@pytest.fixture(scope="module")
def executions(sm: LocalSageMaker, definition: str) -> dict[str, tuple]:
    # Started together: the service runs executions side by side, as SageMaker does.
    # "gated" asks for an AUROC no model reaches, so the ConditionStep takes its else branch.
    arns = {"passed": start(sm), "gated": start(sm, AucThreshold="1.01")}
    return {key: finish(sm, arn) for key, arn in arns.items()}


@pytest.fixture(scope="module")
def succeeded(executions: dict[str, tuple]) -> tuple[dict[str, Any], dict[str, dict]]:
    return executions["passed"]


def test_the_sdk_uploaded_its_code_to_the_simulators_s3(
    sm: LocalSageMaker, definition: str
) -> None:
    doc = json.loads(definition)
    hp = doc["Steps"][1]["Arguments"]["HyperParameters"]
    submit = json.loads(hp["sagemaker_submit_directory"])
    bucket, key = submit[len("s3://") :].split("/", 1)
    assert sm.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert key.startswith("SdkBsmPipeline/code/") and key.endswith("sourcedir.tar.gz")


def test_every_step_succeeds_and_the_if_branch_runs(succeeded: tuple) -> None:
    desc, steps = succeeded
    assert_steps_succeeded(
        desc,
        steps,
        [*BSM_STEPS, "CreateBSMModel-CreateModel", "RegisterBSMModel-RegisterModel"],
    )
    assert steps["CheckAUC"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert re.fullmatch(r"[a-z0-9]{12}", desc["PipelineExecutionArn"].rsplit("/", 1)[1])


def test_values_resolve_to_this_execution(sm: LocalSageMaker, succeeded: tuple) -> None:
    desc, steps = succeeded
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    execution_id = record.execution_id
    train = record.steps["PyTorchTraining"].description
    artifacts = train["ModelArtifacts"]["S3ModelArtifacts"]
    # Execution.PipelineExecutionId inside the estimator's output path.
    assert artifacts.startswith(f"s3://{BUCKET}/models/{execution_id}/")
    assert any(m["MetricName"] == "val:auroc" for m in train["FinalMetricDataList"])
    # The training channels were joined onto the preprocessing output of this execution.
    channels = {c["ChannelName"]: c for c in train["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{BUCKET}/bsm/{execution_id}/processed/train"
    )
    # The model points at the trained artifacts.
    model_name = steps["CreateBSMModel-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    model = sm.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifacts
    # The model package's metrics point at this execution's evaluation.json.
    package_arn = steps["RegisterBSMModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    package = sm.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelPackageGroupName"] == "bsm-models"
    stats_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert execution_id in stats_uri and stats_uri.endswith("evaluation.json")


def test_the_model_is_better_than_chance_on_held_out_data(
    sm: LocalSageMaker, succeeded: tuple
) -> None:
    desc, _ = succeeded
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    report = record.property_files["ModelEvaluation"]["EvaluationReport"]
    auroc = report["metrics"]["auroc"]["value"]
    assert 0.5 < auroc <= 1.0


def test_the_else_branch_fail_step_fails_the_execution_with_its_message(
    executions: dict[str, tuple],
) -> None:
    desc, steps = executions["gated"]
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert steps["CheckAUC"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    # The FailStep's Join over the AucThreshold parameter, evaluated for this execution.
    assert steps["AucTooLow"]["StepStatus"] == "Failed"
    assert steps["AucTooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "test AUROC below 1.01"}}
    assert "test AUROC below 1.01" in desc["FailureReason"]
    # The if branch never ran: no model, no package.
    assert not {"CreateBSMModel-CreateModel", "RegisterBSMModel-RegisterModel"} & set(steps)


def test_a_failed_training_step_fails_the_execution_and_is_still_described(
    sm: LocalSageMaker, definition: str
) -> None:
    desc, steps = run(sm, ModelClass="no_such_model")
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert set(steps) == {"TabularPreprocessing", "PyTorchTraining"}  # nothing after it started
    failed = steps["PyTorchTraining"]
    assert failed["StepStatus"] == "Failed"
    assert "no_such_model" in failed["FailureReason"]
    assert "PyTorchTraining" in desc["FailureReason"]
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    job_name = record.steps["PyTorchTraining"].job_name
    job = sm.describe_training_job(TrainingJobName=job_name)
    assert job["TrainingJobStatus"] == "Failed" and "no_such_model" in job["FailureReason"]
    # What the preprocessing step uploaded stays.
    prefix = f"bsm/{record.execution_id}/processed/train"
    assert sm.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["KeyCount"] > 0
