"""Constants and helpers of the SDK v3 tests: what a new v3 user has, and nothing more.

The user's environment is the one ``LocalSageMaker`` exports (``AWS_ENDPOINT_URL``, a
region, dummy credentials), plus one SDK defaults file (``SAGEMAKER_USER_CONFIG_OVERRIDE``,
the SDK's documented switch) naming the default bucket: without it the SDK derives
``sagemaker-<region>-<account>`` by calling STS at the explicit URL
``https://sts.<region>.amazonaws.com`` (``sts_regional_endpoint``), which bypasses
``AWS_ENDPOINT_URL``. The tests build no SageMaker session or client of their own unless
a v3 user must (``PipelineSession`` for pipeline steps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import ONE_THREAD, ROLE, TRAINING_IMAGE, script_processor

ROOT = Path(__file__).resolve().parents[3]
BSM = ROOT / "dockers" / "pytorch_bsm"
BUCKET = "smsim-sdk3"
# The BSM script's per-epoch and final lines (dockers/pytorch_bsm/README.md).
METRICS = {
    "val:auroc": r"val_auroc=([0-9\.]+)",
    "test:auroc": r"test_auroc=([0-9\.]+)",
}
# The SDK's defaults file (same schema in v2 and v3); telemetry off: the machine is offline.
SDK_CONFIG = f"""\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session:
        DefaultS3Bucket: {BUCKET}
      TelemetryOptOut: true
"""


def metric_definitions() -> list[Any]:
    from sagemaker.core.shapes import MetricDefinition

    return [MetricDefinition(name=name, regex=regex) for name, regex in METRICS.items()]


def build_pipeline(session: Any, name: str) -> Any:
    """A v3 pipeline as a new user writes it: ``sagemaker.mlops.workflow`` steps over
    ``sagemaker.core.workflow`` primitives. preprocess.py (processing) → train.py (training)
    on the processing step's output of the same execution."""
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        OutputDataConfig,
        SourceCode,
        StoppingCondition,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.train import ModelTrainer

    input_data = ParameterString(name="InputData", default_value=f"s3://{BUCKET}/raw/bsm/")
    # A string parameter: v3's ModelTrainer puts a pipeline variable into HyperParameters
    # as it is (v2 wrapped it in Std:Join), and HyperParameters values are strings.
    epochs = ParameterString(name="Epochs", default_value="2")
    execution_id = ExecutionVariables.PIPELINE_EXECUTION_ID

    processor = script_processor(ScriptProcessor, session, env=ONE_THREAD)
    preprocess = ProcessingStep(
        name="TabularPreprocessing",
        step_args=processor.run(
            code=str(BSM / "preprocess.py"),
            inputs=[
                ProcessingInput(
                    input_name="data",
                    s3_input=ProcessingS3Input(
                        s3_uri=input_data,
                        local_path="/opt/ml/processing/input/data",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="processed_data",
                    s3_output=ProcessingS3Output(
                        s3_uri=Join(on="/", values=[f"s3://{BUCKET}/bsm", execution_id]),
                        local_path="/opt/ml/processing/output",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=["--job_type", "training"],
        ),
    )
    processed = preprocess.properties.ProcessingOutputConfig.Outputs[
        "processed_data"
    ].S3Output.S3Uri

    trainer = ModelTrainer(
        training_image=TRAINING_IMAGE,
        source_code=SourceCode(source_dir=str(BSM), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        hyperparameters={"max_epochs": epochs, "model_class": "multimodal_cnn", "lr": 0.01},
        stopping_condition=StoppingCondition(max_runtime_in_seconds=900),
        output_data_config=OutputDataConfig(
            s3_output_path=Join(on="/", values=[f"s3://{BUCKET}/models", execution_id])
        ),
        environment=ONE_THREAD,
        role=ROLE,
        sagemaker_session=session,
        base_job_name="bsm-v3-pipeline",
    ).with_metric_definitions(metric_definitions())
    train = TrainingStep(
        name="Training",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name=c, data_source=Join(on="/", values=[processed, c]))
                for c in ("train", "val", "test")
            ]
        ),
    )
    return Pipeline(
        name=name,
        parameters=[input_data, epochs],
        steps=[preprocess, train],
        sagemaker_session=session,
    )


def upload_raw_data(sm: Any, directory: Path) -> None:
    """Unsplit synthetic BSM rows under s3://BUCKET/raw/bsm/ (the pipeline's InputData)."""
    from simulator.datasets import write_dataset

    data = write_dataset(directory, rows=240, seed=7, split=False)
    for path in Path(data["dir"]).rglob("*.csv"):
        sm.s3.upload_file(str(path), BUCKET, f"raw/bsm/{path.name}")
