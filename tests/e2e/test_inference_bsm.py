"""The trained BSM model served by smsim: batch transform through the SageMaker Python SDK.

One tiny model is trained once for the module with the SDK's ``PyTorch(...).fit()``;
``PyTorchModel(entry_point="inference.py", source_dir=dockers/pytorch_bsm)`` repacks it
with its code as the SDK does for the service, and ``Transformer(...).transform()`` runs
transform jobs on the test split. The probabilities must be the training run's own.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

sagemaker = pytest.importorskip("sagemaker")

from simulator.datasets import write_dataset  # noqa: E402
from simulator.session import LocalSageMaker  # noqa: E402

BSM = Path(__file__).parents[2] / "dockers" / "pytorch_bsm"
BUCKET = "inference-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TINY = {"max_epochs": 1, "lr": 0.01, "max_sen_len": 32, "embed_dim": 16, "hidden_dim": 16}


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    lines: list[str] = []
    with LocalSageMaker(workspace=tmp_path_factory.mktemp("ws"), log_sink=lines.append) as local:
        local.s3.create_bucket(Bucket=BUCKET)
        yield local


@pytest.fixture(scope="module")
def session(sm: LocalSageMaker) -> Any:
    import boto3

    return sagemaker.Session(
        boto3.Session(region_name=sm.region), default_bucket=BUCKET, sagemaker_config=SDK_CONFIG
    )


@pytest.fixture(scope="module")
def trained(
    sm: LocalSageMaker,
    session: Any,
    tmp_path_factory: pytest.TempPathFactory,
    pytorch_estimator: Any,
) -> dict:

    data = write_dataset(tmp_path_factory.mktemp("data"), rows=240, seed=7)
    for split, path in data["files"].items():
        sm.s3.upload_file(path, BUCKET, f"bsm/{split}/{split}.csv")
    estimator = pytorch_estimator(
        BSM,
        role=ROLE,
        hyperparameters=TINY,
        environment=ONE_THREAD,
        disable_profiler=True,
        sagemaker_session=session,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        channels = {s: f"s3://{BUCKET}/bsm/{s}/" for s in ("train", "val", "test")}
        estimator.fit(channels, wait=False)
    # smsim's waiter: the SDK's polls every 5 s (it returns at once once the job ended).
    job = sm.wait_for_training_job(estimator.latest_training_job.name, timeout=300)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    host = sm.workspace / "jobs" / job["TrainingJobName"] / "hosts" / "algo-1"
    results = torch.load(host / "output/data/predict_results.pth", weights_only=True)
    test = pd.read_csv(data["files"]["test"])
    # Transform input: the test split as a batch would hold it — no header line.
    sm.s3.put_object(
        Bucket=BUCKET, Key="batch/test.csv", Body=test.to_csv(index=False, header=False).encode()
    )
    lines = "".join(json.dumps(row) + "\n" for row in test.to_dict(orient="records"))
    sm.s3.put_object(Bucket=BUCKET, Key="batch-json/test.jsonl", Body=lines.encode())
    return {
        "estimator": estimator,
        "model_data": estimator.model_data,
        "test": test,
        "expected": dict(
            zip(results["test"]["ids"], results["test"]["probabilities"].tolist(), strict=True)
        ),
        "metrics": json.loads((host / "output/data/metrics.json").read_text()),
    }


def _bsm_model(trained: dict, session: Any) -> Any:
    """The SDK's PyTorchModel of the trained artifacts with our inference.py."""
    from sagemaker.pytorch import PyTorchModel

    return PyTorchModel(
        model_data=trained["model_data"],
        entry_point="inference.py",
        source_dir=str(BSM),
        framework_version="2.1",
        py_version="py310",
        role=ROLE,
        env=ONE_THREAD,
        sagemaker_session=session,
    )


@pytest.fixture(scope="module")
def model(trained: dict, session: Any) -> Any:
    """The SDK's model, created once (each ``model.transformer()`` would repack it anew)."""

    model = _bsm_model(trained, session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.create(instance_type="ml.m5.large")
    return model


def _read(sm: LocalSageMaker, uri: str) -> str:
    bucket, key = uri[len("s3://") :].split("/", 1)
    return sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.fixture
def transform(sm: LocalSageMaker, model: Any) -> Any:
    """A factory: ``transform(data, output=..., **options)`` runs a batch transform of
    ``model`` to its end and returns the job's description, checked Completed."""

    def run(data: str, **kwargs: Any) -> dict[str, Any]:
        names = ("strategy", "assemble_with", "accept")
        options = {k: kwargs.pop(k) for k in names if k in kwargs}
        from sagemaker.transformer import Transformer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transformer = Transformer(
                model_name=model.name,
                instance_count=1,
                instance_type="ml.m5.large",
                output_path=kwargs.pop("output"),
                sagemaker_session=model.sagemaker_session,
                **options,
            )
            transformer.transform(data, wait=False, **kwargs)
        # smsim's waiter, then the SDK's (which polls every 5 s, and raises for a failed job).
        sm.wait_for_transform_job(transformer.latest_transform_job.name, timeout=300)
        transformer.wait(logs=False)
        name = transformer.latest_transform_job.name
        desc = sm.describe_transform_job(TransformJobName=name)
        assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
        return desc

    return run


def test_multirecord_csv_with_filters_gives_the_training_runs_probabilities(
    sm: LocalSageMaker, trained: dict, transform: Any
) -> None:
    from sklearn.metrics import roc_auc_score

    desc = transform(
        f"s3://{BUCKET}/batch/",
        output=f"s3://{BUCKET}/scored/csv",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        content_type="text/csv",
        split_type="Line",
        input_filter="$[:-1]",  # the label column stays out of the model's input
        join_source="Input",
        output_filter="$[0,-1]",  # order id, refund-claim probability
    )
    assert desc["BatchStrategy"] == "MultiRecord"
    rows = list(csv.reader(io.StringIO(_read(sm, f"s3://{BUCKET}/scored/csv/test.csv.out"))))
    test = trained["test"]
    assert [r[0] for r in rows] == test["order_id"].astype(str).tolist()  # record by record
    for order_id, probability in rows:
        assert abs(float(probability) - trained["expected"][order_id][1]) <= 1e-5
    auroc = roc_auc_score(test["label"], [float(p) for _, p in rows])
    assert abs(auroc - trained["metrics"]["test"]["auroc"]) <= 1e-6


def test_singlerecord_json_lines_join_each_prediction_to_its_record(
    sm: LocalSageMaker, trained: dict, transform: Any
) -> None:
    transform(
        f"s3://{BUCKET}/batch-json/",
        output=f"s3://{BUCKET}/scored/json",
        strategy="SingleRecord",
        assemble_with="Line",
        accept="application/jsonlines",
        content_type="application/json",
        split_type="Line",
        join_source="Input",
        output_filter="$['order_id','label','SageMakerOutput']",
    )
    out = _read(sm, f"s3://{BUCKET}/scored/json/test.jsonl.out").splitlines()
    records = [json.loads(line) for line in out]
    test = trained["test"]
    assert len(records) == len(test)
    for record, (_, row) in zip(records, test.iterrows(), strict=True):
        assert set(record) == {"order_id", "label", "SageMakerOutput"}
        assert (record["order_id"], record["label"]) == (row["order_id"], row["label"])
        expected = trained["expected"][row["order_id"]]
        got = record["SageMakerOutput"]["probabilities"]
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 1e-5
        assert record["SageMakerOutput"]["label"] == str(int(expected[1] > expected[0]))


def test_deploy_predict_and_delete_with_the_sdk(
    sm: LocalSageMaker, trained: dict, session: Any
) -> None:
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.serializers import CSVSerializer

    model = _bsm_model(trained, session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = model.deploy(
            initial_instance_count=1,
            instance_type="ml.m5.large",
            endpoint_name="bsm-endpoint",
            serializer=CSVSerializer(),
            deserializer=CSVDeserializer(),
            wait=False,
        )
    # smsim's waiter (the SDK's polls every 30 s); then the SDK's sees InService at once.
    assert sm.wait_for_endpoint("bsm-endpoint", timeout=300)["EndpointStatus"] == "InService"
    session.wait_for_endpoint("bsm-endpoint")
    rows = trained["test"].head(4)
    got = predictor.predict(rows.drop(columns=["label"]).to_csv(index=False, header=False))
    assert len(got) == 4
    for row, (_, source) in zip(got, rows.iterrows(), strict=True):
        expected = trained["expected"][source["order_id"]]
        assert max(abs(float(a) - b) for a, b in zip(row, expected, strict=True)) <= 1e-5
    predictor.delete_endpoint()
    assert sm.list_endpoints()["Endpoints"] == []


def test_transform_step_in_an_sdk_pipeline(sm: LocalSageMaker, trained: dict, model: Any) -> None:
    import boto3
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import TransformStep

    session = PipelineSession(
        boto_session=boto3.Session(region_name=sm.region),
        default_bucket=BUCKET,
        sagemaker_config=SDK_CONFIG,
    )
    # The model as the SDK repacked it (code/ inside model.tar.gz): no repack step needed.
    container = sm.describe_model(ModelName=model.name)["PrimaryContainer"]
    output = Join(
        on="/", values=[f"s3://{BUCKET}/pipeline", ExecutionVariables.PIPELINE_EXECUTION_ID]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = Model(
            image_uri=container["Image"],
            model_data=container["ModelDataUrl"],
            env=container["Environment"],
            role=ROLE,
            sagemaker_session=session,
        )
        create = ModelStep("CreateBSMModel", step_args=served.create(instance_type="ml.m5.large"))
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type="ml.m5.large",
            strategy="MultiRecord",
            assemble_with="Line",
            accept="text/csv",
            output_path=output,
            sagemaker_session=session,
        )
        transform = TransformStep(
            "ScoreTestSplit",
            step_args=transformer.transform(
                data=f"s3://{BUCKET}/batch/",
                content_type="text/csv",
                split_type="Line",
                input_filter="$[:-1]",
                join_source="Input",
                output_filter="$[0,-1]",
            ),
        )
        check = ConditionStep(
            "CheckOutputPath",
            conditions=[
                ConditionEquals(
                    left=transform.properties.TransformOutput.S3OutputPath, right=output
                )
            ],
            if_steps=[],
            else_steps=[FailStep("WrongOutputPath", error_message="unexpected S3OutputPath")],
        )
        definition = Pipeline(
            "BsmBatchScoring", steps=[create, transform, check], sagemaker_session=session
        ).definition()
    sm.create_pipeline(PipelineName="BsmBatchScoring", PipelineDefinition=definition, RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="BsmBatchScoring")["PipelineExecutionArn"]
    desc = sm.wait_for_pipeline_execution(arn, timeout=600)
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    assert steps["ScoreTestSplit"]["StepStatus"] == "Succeeded"
    assert steps["CheckOutputPath"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    job_name = steps["ScoreTestSplit"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_transform_job(TransformJobName=job_name)
    execution_id = arn.rsplit("/", 1)[1]
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/pipeline/{execution_id}"
    rows = list(
        csv.reader(io.StringIO(_read(sm, f"s3://{BUCKET}/pipeline/{execution_id}/test.csv.out")))
    )
    assert [r[0] for r in rows] == trained["test"]["order_id"].astype(str).tolist()
    for order_id, probability in rows:
        assert abs(float(probability) - trained["expected"][order_id][1]) <= 1e-5
