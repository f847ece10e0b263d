"""Assembly: specs + contracts + config → the SageMaker pipeline definition the SDK would write."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from simulator.errors import ValidationError
from simulator.pipeline.build.assembly import assemble, check_definition, iter_steps
from simulator.pipeline.build.config import PipelineConfig
from simulator.pipeline.build.dags import BSM, PipelineDAG
from simulator.pipeline.build.resolver import UnresolvedDependencyError
from simulator.pipeline.build.step_code import CodeLocations
from simulator.pipeline.run.validate import validate_definition

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "sdk_pipeline_definition.json"
CODE = CodeLocations(
    processing_prefix="s3://smsim-demo/bsm/code/abc/processing/",
    sourcedir="s3://smsim-demo/bsm/code/abc/sourcedir.tar.gz",
)


@pytest.fixture(scope="module")
def definition() -> dict:
    return assemble(BSM, PipelineConfig(), code=CODE).definition


def _steps(definition: dict) -> dict[str, dict]:
    return {s["Name"]: s for s in iter_steps(definition)}


def _sdk_steps() -> dict[str, dict]:
    return _steps(json.loads(FIXTURE.read_text()))


def test_definition_passes_the_pipeline_validator(definition: dict) -> None:
    report = validate_definition(definition)
    assert report.ok, [str(p) for p in report.problems]
    check_definition(definition)  # every job's Arguments fit botocore's request shape
    assert definition["Version"] == "2020-12-01"


def test_step_types_and_gate_layout(definition: dict) -> None:
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        ("TabularPreprocessing", "Processing"),
        ("PyTorchTraining", "Training"),
        ("ModelEvaluation", "Processing"),
        ("CheckAUROC", "Condition"),
    ]
    cond = definition["Steps"][-1]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in cond["IfSteps"]] == [
        ("CreateBSMModel", "Model"),
        ("BatchTransformTest", "Transform"),
        ("RegisterBSMModel", "RegisterModel"),
    ]
    assert [(s["Name"], s["Type"]) for s in cond["ElseSteps"]] == [("AurocTooLow", "Fail")]


def test_transform_step_serves_the_created_model_on_the_headerless_test_split(
    definition: dict,
) -> None:
    cond = definition["Steps"][-1]["Arguments"]
    steps = {s["Name"]: s for s in cond["IfSteps"]}
    args = steps["BatchTransformTest"]["Arguments"]
    assert args["ModelName"] == {"Get": "Steps.CreateBSMModel.ModelName"}
    source = args["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source["Std:Join"]["Values"][-1] == "batch"
    assert source["Std:Join"]["Values"][0] == {
        "Get": "Steps.TabularPreprocessing.ProcessingOutputConfig.Outputs['processed_data']"
        ".S3Output.S3Uri"
    }
    assert args["DataProcessing"]["JoinSource"] == "Input"
    # The served model finds its inference script in the training code, as the SDK sets it.
    env = steps["CreateBSMModel"]["Arguments"]["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == "inference.py"
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"].endswith("sourcedir.tar.gz")


def test_parameters_are_declared_with_config_defaults(definition: dict) -> None:
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["InputData"] == {
        "Name": "InputData",
        "Type": "String",
        "DefaultValue": "s3://smsim-demo/bsm/raw/",
    }
    assert params["MaxEpochs"]["Type"] == "Integer"
    assert params["AurocThreshold"] == {
        "Name": "AurocThreshold",
        "Type": "Float",
        "DefaultValue": 0.6,
    }


def test_wired_inputs_are_the_expressions_the_sdk_emits(definition: dict) -> None:
    ours, sdk = _steps(definition), _sdk_steps()
    # Training channels: Std:Join over the preprocessing output's property, per split.
    assert (
        ours["PyTorchTraining"]["Arguments"]["InputDataConfig"]
        == sdk["PyTorchTraining"]["Arguments"]["InputDataConfig"]
    )

    def inputs(step: dict) -> dict:
        return {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}

    our_eval, sdk_eval = inputs(ours["ModelEvaluation"]), inputs(sdk["ModelEvaluation"])
    for name in ("model_input", "processed_data"):
        assert our_eval[name] == sdk_eval[name]
    assert inputs(ours["TabularPreprocessing"])["DATA"]["S3Uri"] == {"Get": "Parameters.InputData"}


def test_condition_reads_the_property_file_like_the_sdk(definition: dict) -> None:
    ours, sdk = _steps(definition), _sdk_steps()
    assert ours["ModelEvaluation"]["PropertyFiles"] == sdk["ModelEvaluation"]["PropertyFiles"]
    our_cond = ours["CheckAUROC"]["Arguments"]["Conditions"][0]
    sdk_cond = sdk["CheckAUC"]["Arguments"]["Conditions"][0]
    assert our_cond["Type"] == sdk_cond["Type"] == "GreaterThanOrEqualTo"
    assert our_cond["LeftValue"] == sdk_cond["LeftValue"]
    assert our_cond["RightValue"] == {"Get": "Parameters.AurocThreshold"}


def test_outputs_are_per_execution_s3_uris(definition: dict) -> None:
    step = _steps(definition)["ModelEvaluation"]["Arguments"]
    outputs = {o["OutputName"]: o["S3Output"] for o in step["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["metrics_output"]["LocalPath"] == "/opt/ml/processing/output/metrics"
    assert outputs["metrics_output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                "smsim-demo",
                "bsm",
                {"Get": "Execution.PipelineExecutionId"},
                "ModelEvaluation",
                "output",
                "metrics_output",
            ],
        }
    }
    training = _steps(definition)["PyTorchTraining"]["Arguments"]
    values = training["OutputDataConfig"]["S3OutputPath"]["Std:Join"]["Values"]
    assert {"Get": "Execution.PipelineExecutionId"} in values


def test_code_is_wired_the_sdk_way(definition: dict) -> None:
    steps = _steps(definition)
    for name, script in (
        ("TabularPreprocessing", "preprocess.py"),
        ("ModelEvaluation", "evaluate.py"),
    ):
        args = steps[name]["Arguments"]
        code = next(i for i in args["ProcessingInputs"] if i["InputName"] == "code")["S3Input"]
        assert code["S3Uri"] == CODE.processing_prefix
        assert code["LocalPath"] == "/opt/ml/processing/input/code"
        assert args["AppSpecification"]["ContainerEntrypoint"] == [
            "python3",
            f"/opt/ml/processing/input/code/{script}",
        ]
    hps = steps["PyTorchTraining"]["Arguments"]["HyperParameters"]
    assert json.loads(hps["sagemaker_submit_directory"]) == CODE.sourcedir
    assert json.loads(hps["sagemaker_program"]) == "train.py"
    # Values JSON-encoded as the SDK writes them; epochs from the pipeline parameter.
    assert hps["model_class"] == '"multimodal_cnn"'
    assert hps["max_epochs"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxEpochs"}]}
    }


def test_model_steps_point_at_the_trained_model(definition: dict) -> None:
    steps = _steps(definition)
    model_data = {"Get": "Steps.PyTorchTraining.ModelArtifacts.S3ModelArtifacts"}
    assert steps["CreateBSMModel"]["Arguments"]["PrimaryContainer"]["ModelDataUrl"] == model_data
    register = steps["RegisterBSMModel"]["Arguments"]
    assert register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_data
    stats = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert stats["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"


def test_config_values_reach_the_requests() -> None:
    config = PipelineConfig(
        bucket="team-bucket",
        prefix="exp/1",
        training_instance_type="ml.c5.2xlarge",
        hyperparameters={"max_epochs": 5, "model_class": "text_cnn", "lr": 0.001},
        processing_environment={"LABEL_FIELD": "refund_claim"},
    )
    steps = _steps(assemble(BSM, config, code=CODE).definition)
    training = steps["PyTorchTraining"]["Arguments"]
    assert training["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert training["HyperParameters"]["model_class"] == '"text_cnn"'
    assert training["HyperParameters"]["lr"] == "0.001"
    for name in ("TabularPreprocessing", "ModelEvaluation"):
        assert steps[name]["Arguments"]["Environment"] == {"LABEL_FIELD": "refund_claim"}
    s3 = training["OutputDataConfig"]["S3OutputPath"]["Std:Join"]["Values"]
    assert s3[:3] == ["s3:/", "team-bucket", "exp/1"]


def test_unknown_environment_variable_is_refused() -> None:
    config = PipelineConfig(processing_environment={"LABLE_FIELD": "x"})
    with pytest.raises(ValidationError, match="processing_environment.LABLE_FIELD.*LABEL_FIELD"):
        assemble(BSM, config, code=CODE)


def test_missing_edge_leaves_a_required_dependency_unresolved() -> None:
    dag = PipelineDAG(
        name="broken",
        description="evaluation without the training edge",
        steps={
            "TabularPreprocessing": "TabularPreprocessing",
            "ModelEvaluation": "ModelEvaluation",
        },
        edges=(("TabularPreprocessing", "ModelEvaluation"),),
    )
    with pytest.raises(UnresolvedDependencyError, match="ModelEvaluation.model_input"):
        assemble(dag, code=CODE)


def test_check_definition_rejects_an_invalid_request(definition: dict) -> None:
    broken = copy.deepcopy(definition)
    broken["Steps"][1]["Arguments"]["ResourceConfig"]["InstanceType"] = "ml.bogus.huge"
    del broken["Steps"][0]["Arguments"]["AppSpecification"]["ImageUri"]
    with pytest.raises(ValidationError) as info:
        check_definition(broken)
    text = str(info.value)
    assert "PyTorchTraining: Arguments.ResourceConfig.InstanceType" in text
    assert "TabularPreprocessing: Arguments.AppSpecification" in text and "ImageUri" in text
