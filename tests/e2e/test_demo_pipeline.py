"""The BSM demo pipeline end to end on tiny data, with the real scripts of dockers/pytorch_bsm.

Executions are started together (the local service runs them in the background, as
SageMaker does) and waited for once; each test then reads one of them:

- ``passed``: threshold 0, the gate is true, the model is created and registered;
- ``gated``: threshold 1.5 (no AUROC reaches it), the Fail step ends the execution;
- ``broken``: raw data missing, the first step fails and nothing after it starts;
- ``reimported``: the definition written by ``smsim pipeline export``, read back from
  the file, created as another pipeline and run with ``passed``'s parameters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.datasets import write_dataset
from simulator.pipeline.build.assembly import assemble
from simulator.pipeline.build.config import PipelineConfig
from simulator.pipeline.build.dags import BSM
from simulator.pipeline.build.step_code import upload_code
from simulator.properties import resolve_property_path
from simulator.session import LocalSageMaker

ROWS = 240
CONFIG = PipelineConfig(
    hyperparameters={"max_epochs": 1, "model_class": "multimodal_cnn", "lr": 0.01},
    max_runtime_seconds=600,
)
TIMEOUT = 540


def _params(threshold: float, **extra: str) -> list[dict[str, str]]:
    values = {"AurocThreshold": str(threshold), "MaxEpochs": "1", **extra}
    return [{"Name": k, "Value": v} for k, v in values.items()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    workspace = tmp_path_factory.mktemp("demo-e2e")
    exported = workspace / "exported.json"
    result = CliRunner().invoke(main, ["pipeline", "export", "--dag", "bsm", "-o", str(exported)])
    assert result.exit_code == 0, result.output

    with LocalSageMaker(workspace=workspace, log_sink=lambda line: None) as sm:
        data = write_dataset(workspace / "data", ROWS, seed=3, split=False)
        sm.s3.create_bucket(Bucket=CONFIG.bucket)
        sm.s3.upload_file(data["files"]["raw"], CONFIG.bucket, "bsm/raw/data.csv")
        assembled = assemble(BSM, CONFIG)
        upload_code(sm.s3, assembled.code)
        sm.create_pipeline(
            PipelineName="Bsm", PipelineDefinition=assembled.to_json(), RoleArn=CONFIG.role_arn
        )
        # The exported file, deployed as it would be to SageMaker (its code URIs are the
        # default config's content-addressed keys: the same objects were just uploaded).
        sm.create_pipeline(
            PipelineName="BsmExported",
            PipelineDefinition=exported.read_text(),
            RoleArn=CONFIG.role_arn,
        )
        starts = {
            "passed": ("Bsm", _params(0.0)),
            "gated": ("Bsm", _params(1.5)),
            "broken": ("Bsm", _params(0.0, InputData="s3://smsim-demo/no-such-prefix/")),
            "reimported": ("BsmExported", _params(0.0)),
        }
        arns = {
            key: sm.start_pipeline_execution(PipelineName=name, PipelineParameters=params)[
                "PipelineExecutionArn"
            ]
            for key, (name, params) in starts.items()
        }
        executions = {
            key: sm.wait_for_pipeline_execution(arn, timeout=TIMEOUT) for key, arn in arns.items()
        }
        yield _Run(sm, arns, executions, assembled)


class _Run:
    def __init__(self, sm: Any, arns: dict, executions: dict, assembled: Any) -> None:
        self.sm, self.arns, self.executions, self.assembled = sm, arns, executions, assembled

    def status(self, key: str) -> str:
        return self.sm.describe_pipeline_execution(PipelineExecutionArn=self.arns[key])[
            "PipelineExecutionStatus"
        ]

    def steps(self, key: str) -> dict[str, dict[str, Any]]:
        items = self.sm.list_pipeline_execution_steps(PipelineExecutionArn=self.arns[key])
        return {s["StepName"]: s for s in items["PipelineExecutionSteps"]}

    def job_description(self, key: str, step: str) -> dict[str, Any]:
        meta = self.steps(key)[step]["Metadata"]
        if "TrainingJob" in meta:
            jobs = self.sm.list_training_jobs()["TrainingJobSummaries"]
            arn = meta["TrainingJob"]["Arn"]
            name = next(j["TrainingJobName"] for j in jobs if j["TrainingJobArn"].lower() == arn)
            return self.sm.describe_training_job(TrainingJobName=name)
        jobs = self.sm.list_processing_jobs()["ProcessingJobSummaries"]
        arn = meta["ProcessingJob"]["Arn"]
        name = next(j["ProcessingJobName"] for j in jobs if j["ProcessingJobArn"].lower() == arn)
        return self.sm.describe_processing_job(ProcessingJobName=name)

    def read_json(self, uri: str) -> Any:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return json.loads(self.sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_gate_true_runs_every_step_and_registers_the_model(run: _Run) -> None:
    assert run.status("passed") == "Succeeded"
    steps = run.steps("passed")
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "TabularPreprocessing": "Succeeded",
        "PyTorchTraining": "Succeeded",
        "ModelEvaluation": "Succeeded",
        "CheckAUROC": "Succeeded",
        "CreateBSMModel": "Succeeded",
        "RegisterBSMModel": "Succeeded",
        "BatchTransformTest": "Succeeded",
    }
    assert steps["CheckAUROC"]["Metadata"] == {"Condition": {"Outcome": "True"}}

    # The registered package carries the evaluation report the gate read.
    package = run.sm.describe_model_package(
        ModelPackageName=steps["RegisterBSMModel"]["Metadata"]["RegisterModel"]["Arn"]
    )
    report = run.read_json(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    auroc = report["metrics"]["auroc"]["value"]
    assert 0.0 <= auroc <= 1.0

    # The package and the model serve the model.tar.gz the training job produced.
    training = run.job_description("passed", "PyTorchTraining")
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifact
    model_arn = steps["CreateBSMModel"]["Metadata"]["Model"]["Arn"]
    models = run.sm.list_models()["Models"]
    model_name = next(m["ModelName"] for m in models if m["ModelArn"].lower() == model_arn.lower())
    model = run.sm.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifact


def test_every_spec_output_resolves_on_the_step_descriptions(run: _Run) -> None:
    for step in ("TabularPreprocessing", "PyTorchTraining", "ModelEvaluation"):
        description = run.job_description("passed", step)
        for output in run.assembled.specs[step].outputs.values():
            value = resolve_property_path(description, output.property_path, step_name=step)
            assert value not in (None, "", []), (step, output.logical_name)
    # What the evaluation step wired in is what the upstream outputs resolved to.
    pre = run.job_description("passed", "TabularPreprocessing")
    processed = resolve_property_path(
        pre, "properties.ProcessingOutputConfig.Outputs['processed_data'].S3Output.S3Uri"
    )
    evaluation = run.job_description("passed", "ModelEvaluation")
    eval_data = resolve_property_path(
        evaluation, "properties.ProcessingInputs['processed_data'].S3Input.S3Uri"
    )
    assert eval_data.rstrip("/") == processed.rstrip("/") + "/test"
    keys = run.sm.s3.list_objects_v2(
        Bucket="smsim-demo", Prefix=processed.removeprefix("s3://smsim-demo/")
    )["Contents"]
    splits = {
        k["Key"].removeprefix(processed.removeprefix("s3://smsim-demo/")).split("/")[1]
        for k in keys
    }
    assert {"train", "val", "test"} <= splits


def test_gate_false_fails_the_execution_with_the_fail_step_message(run: _Run) -> None:
    assert run.status("gated") == "Failed"
    steps = run.steps("gated")
    assert steps["CheckAUROC"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["AurocTooLow"]["StepStatus"] == "Failed"
    message = steps["AurocTooLow"]["Metadata"]["Fail"]["ErrorMessage"]
    assert "below the threshold" in message and "1.5" in message
    # The if-branch never ran.
    assert not {"CreateBSMModel", "RegisterBSMModel", "BatchTransformTest"} & set(steps)
    execution = run.sm.describe_pipeline_execution(PipelineExecutionArn=run.arns["gated"])
    assert "below the threshold" in execution["FailureReason"]


def test_a_failing_step_stops_the_execution_with_its_reason(run: _Run) -> None:
    assert run.status("broken") == "Failed"
    steps = run.steps("broken")
    assert steps["TabularPreprocessing"]["StepStatus"] == "Failed"
    reason = steps["TabularPreprocessing"]["FailureReason"]
    assert "s3://smsim-demo/no-such-prefix/" in reason  # the reason names the bad input
    assert set(steps) == {"TabularPreprocessing"}  # nothing downstream started
    execution = run.sm.describe_pipeline_execution(PipelineExecutionArn=run.arns["broken"])
    assert "TabularPreprocessing" in execution["FailureReason"]


def test_exported_definition_reimported_runs_the_same(run: _Run) -> None:
    direct = {name: s["StepStatus"] for name, s in run.steps("passed").items()}
    reimported = {name: s["StepStatus"] for name, s in run.steps("reimported").items()}
    assert reimported == direct
    assert run.status("reimported") == run.status("passed") == "Succeeded"


def test_independent_steps_run_side_by_side(run: _Run) -> None:
    # CreateBSMModel and RegisterBSMModel depend on the same steps, not on each other:
    # SageMaker runs them in parallel, so each starts before the other ends.
    steps = run.steps("passed")
    model, package = steps["CreateBSMModel"], steps["RegisterBSMModel"]
    assert model["StartTime"] <= package["EndTime"]
    assert package["StartTime"] <= model["EndTime"]


def test_step_listings_match_botocores_shapes(run: _Run) -> None:
    # Every kind of step metadata (ProcessingJob, TrainingJob, Model, RegisterModel,
    # Condition, Fail) and the failure reasons, as boto3 would parse them.
    from simulator.shapes import check, output_shape

    kinds = set()
    for key in ("passed", "gated", "broken"):
        listing = run.sm.list_pipeline_execution_steps(PipelineExecutionArn=run.arns[key])
        assert check(listing, output_shape("ListPipelineExecutionSteps")) == []
        kinds |= {k for s in listing["PipelineExecutionSteps"] for k in s["Metadata"]}
    assert kinds == {
        "ProcessingJob",
        "TrainingJob",
        "Model",
        "RegisterModel",
        "TransformJob",
        "Condition",
        "Fail",
    }
