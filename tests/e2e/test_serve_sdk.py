"""The SageMaker Python SDK's own calls against `smsim serve`, from another process.

``Estimator.fit()``, ``Estimator.attach()``, ``training_job_analytics.dataframe()``,
``Processor.run()`` and a pipeline through ``Pipeline.upsert()`` / ``.start(parameters=…)``
/ ``execution.wait()`` / ``.describe()`` / ``.list_steps()``: each runs for real (the
scripts' outputs are in S3, the parameter reached the job), as it would on SageMaker.
No smsim import: the SDK only knows ``AWS_ENDPOINT_URL`` and dummy credentials.
"""

from __future__ import annotations

import boto3
import pytest

sagemaker = pytest.importorskip("sagemaker")

BUCKET = "sdk-serve-bucket"
TRAIN = """
import argparse, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
train = os.environ.get("SM_CHANNEL_TRAIN")
rows = len(pathlib.Path(train, "rows.txt").read_text().split()) if train else 0
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={1 / (epoch + 1)} rows={rows}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write(f"epochs={args.epochs} rows={rows}")
"""
PREPARE = """
import pathlib
out = pathlib.Path("/opt/ml/processing/output")
out.mkdir(parents=True, exist_ok=True)
(out / "rows.txt").write_text("a b c d")
"""


@pytest.fixture
def sdk_session(serve, client_env, kit):
    client_env(serve())
    boto = boto3.Session(region_name="us-east-1")
    boto.client("s3").create_bucket(Bucket=BUCKET)
    return sagemaker.Session(boto, default_bucket=BUCKET, sagemaker_config=kit.sdk_config)


def _estimator(pytorch_estimator, session, kit, tmp_path, **extra):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text(TRAIN)
    return pytorch_estimator(
        src,
        role=kit.role,
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9\.]+)"}],
        disable_profiler=True,
        sagemaker_session=session,
        **extra,
    )


def _processor(kit, session):
    """A ScriptProcessor running python3 on the processing image."""
    from sagemaker.processing import ScriptProcessor

    return ScriptProcessor(
        image_uri=kit.processing_image,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        role=kit.role,
        sagemaker_session=session,
    )


def test_estimator_fit_attach_and_analytics(sdk_session, kit, tmp_path, capsys, pytorch_estimator):
    from sagemaker.pytorch import PyTorch

    estimator = _estimator(
        pytorch_estimator, sdk_session, kit, tmp_path, hyperparameters={"epochs": 3}
    )
    estimator.fit(wait=True, logs="All")  # the SDK's own waiter and log reader
    assert "epoch=2 loss=0.333" in capsys.readouterr().out
    name = estimator.latest_training_job.name
    bucket, key = estimator.model_data[len("s3://") :].split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert kit.read_tar(body) == {"model.txt": b"epochs=3 rows=0"}
    # The metric series the SDK reads from CloudWatch: one value per matching line.
    frame = estimator.training_job_analytics.dataframe()
    assert not frame.empty
    assert set(frame["metric_name"]) == {"loss"}
    # The SDK asks for per-minute averages of the values 1, 1/2 and 1/3.
    assert frame["value"].between(1 / 3 - 1e-9, 1 + 1e-9).all()
    attached = PyTorch.attach(name, sagemaker_session=sdk_session)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters()["epochs"] == "3"


def test_processor_run(sdk_session, kit, tmp_path):
    from sagemaker.processing import ProcessingOutput

    script = tmp_path / "prepare.py"
    script.write_text(PREPARE)
    processor = _processor(kit, sdk_session)
    processor.run(
        code=str(script),
        outputs=[
            ProcessingOutput(
                source="/opt/ml/processing/output", destination=f"s3://{BUCKET}/prepared"
            )
        ],
        wait=True,
        logs=False,
    )
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="prepared/rows.txt")["Body"].read()
    assert body == b"a b c d"


def test_pipeline_upsert_start_wait_list_steps(serve, client_env, kit, tmp_path, pytorch_estimator):
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingOutput
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    client_env(serve())
    boto = boto3.Session(region_name="us-east-1")
    boto.client("s3").create_bucket(Bucket=BUCKET)
    session = PipelineSession(boto, default_bucket=BUCKET, sagemaker_config=kit.sdk_config)
    epochs = ParameterInteger("Epochs", default_value=1)
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE)
    processor = _processor(kit, session)
    prepare = ProcessingStep(
        "Prepare",
        step_args=processor.run(
            code=str(script),
            outputs=[ProcessingOutput(output_name="rows", source="/opt/ml/processing/output")],
        ),
    )
    estimator = _estimator(
        pytorch_estimator, session, kit, tmp_path, hyperparameters={"epochs": epochs}
    )
    rows = prepare.properties.ProcessingOutputConfig.Outputs["rows"].S3Output.S3Uri
    train = TrainingStep(
        "Train", step_args=estimator.fit(inputs={"train": TrainingInput(s3_data=rows)})
    )
    pipeline = Pipeline(
        "SdkServed", parameters=[epochs], steps=[prepare, train], sagemaker_session=session
    )
    pipeline.upsert(role_arn=kit.role)
    pipeline.upsert(role_arn=kit.role)  # a second upsert updates (the SDK's own logic)
    execution = pipeline.start(parameters={"Epochs": 3})
    execution.wait(delay=1, max_attempts=300)
    desc = execution.describe()
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    steps = execution.list_steps()
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [
        ("Train", "Succeeded"),
        ("Prepare", "Succeeded"),
    ]
    # The SDK describes a step's job by the last part of its (lower-cased) ARN.
    arn = steps[0]["Metadata"]["TrainingJob"]["Arn"]
    sm = boto.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=arn.split("/")[-1])
    assert job["HyperParameters"]["epochs"] == "3"  # the start's parameter reached the job
    assert [(m["MetricName"], round(m["Value"], 4)) for m in job["FinalMetricDataList"]] == [
        ("loss", 0.3333)
    ]
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"][len("s3://") :].split("/", 1)
    body = boto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert kit.read_tar(body) == {"model.txt": b"epochs=3 rows=4"}
    listed = sm.list_pipeline_executions(PipelineName="SdkServed")["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionStatus"] for e in listed] == ["Succeeded"]
