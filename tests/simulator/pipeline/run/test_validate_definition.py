"""Static validation of pipeline definitions (issue 6): the SDK's fixture is clean; every
broken reference is reported with its step, its path and a did-you-mean, all at once."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from simulator.pipeline.run.validate import validate_definition

FIXTURE = Path(__file__).parents[3] / "fixtures" / "sdk_pipeline_definition.json"
DOC = json.loads(FIXTURE.read_text())


def doc() -> dict:
    return copy.deepcopy(DOC)


def steps(d: dict) -> dict:
    out = {}
    for s in d["Steps"]:
        out[s["Name"]] = s
        for branch in ("IfSteps", "ElseSteps"):
            for inner in s["Arguments"].get(branch, []):
                out[inner["Name"]] = inner
    return out


def test_the_sdk_fixture_validates_clean() -> None:
    report = validate_definition(FIXTURE.read_text())
    assert report.problems == []
    assert report.ok
    by_name = {s["name"]: s for s in report.steps}
    assert by_name["ModelEvaluation"]["depends_on"] == ["PyTorchTraining", "TabularPreprocessing"]
    assert by_name["AucTooLow"]["branch"] == "ElseSteps"


def test_one_broken_get_path_names_step_path_and_did_you_mean() -> None:
    d = doc()
    ev = steps(d)["ModelEvaluation"]
    ev["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] = {
        "Get": "Steps.PyTorchTraining.ModelArtifact.S3ModelArtifacts"
    }
    report = validate_definition(d)
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.step == "ModelEvaluation"
    assert problem.path == "Arguments.ProcessingInputs[0].S3Input.S3Uri"
    assert "'ModelArtifact' is not a member" in problem.message
    assert problem.fix == "did you mean 'Steps.PyTorchTraining.ModelArtifacts.S3ModelArtifacts'?"


def test_every_problem_is_reported_at_once() -> None:
    d = doc()
    s = steps(d)
    train = s["PyTorchTraining"]["Arguments"]
    train["HyperParameters"]["max_epochs"]["Std:Join"]["Values"][0] = {"Get": "Parameters.Epoch"}
    train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]["Std:Join"]["Values"][0] = {
        "Get": "Steps.TabularPreprocessing.ProcessingOutputConfig.Outputs['processed']"
        ".S3Output.S3Uri"
    }
    train["ResourceConfig"]["InstanceCount"] = "1"
    cond = s["CheckAUC"]["Arguments"]["Conditions"][0]
    cond["LeftValue"]["Std:JsonGet"]["PropertyFile"] = {
        "Get": "Steps.ModelEvaluation.PropertyFiles.EvalReport"
    }
    s["CreateBSMModel-CreateModel"]["Arguments"]["PrimaryContainer"]["ModelDataUrl"] = {
        "Get": "Steps.CreateBSMModel-Repack.ModelArtifacts.S3ModelArtifacts"
    }
    s["AucTooLow"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"][1] = {
        "Get": "Execution.PipelineExecutionID"
    }
    report = validate_definition(d)
    got = {(p.step, p.path): p for p in report.problems}
    assert set(got) == {
        ("PyTorchTraining", "Arguments.HyperParameters.max_epochs.Std:Join.Values[0]"),
        (
            "PyTorchTraining",
            "Arguments.InputDataConfig[0].DataSource.S3DataSource.S3Uri.Std:Join.Values[0]",
        ),
        ("PyTorchTraining", "Arguments.ResourceConfig.InstanceCount"),
        ("CheckAUC", "Arguments.Conditions[0].LeftValue.Std:JsonGet.PropertyFile"),
        ("CreateBSMModel-CreateModel", "Arguments.PrimaryContainer.ModelDataUrl"),
        ("AucTooLow", "Arguments.ErrorMessage.Std:Join.Values[1]"),
    }
    fixes = {key: p.fix for key, p in got.items()}
    assert fixes[
        ("PyTorchTraining", "Arguments.HyperParameters.max_epochs.Std:Join.Values[0]")
    ] == ("did you mean 'Epochs'?")
    assert (
        "Outputs['processed_data']"
        in fixes[
            (
                "PyTorchTraining",
                "Arguments.InputDataConfig[0].DataSource.S3DataSource.S3Uri.Std:Join.Values[0]",
            )
        ]
    )
    assert fixes[("CheckAUC", "Arguments.Conditions[0].LeftValue.Std:JsonGet.PropertyFile")] == (
        "did you mean 'EvaluationReport'?"
    )
    assert fixes[("CreateBSMModel-CreateModel", "Arguments.PrimaryContainer.ModelDataUrl")] == (
        "did you mean 'CreateBSMModel-RepackModel-0'?"
    )
    assert fixes[("AucTooLow", "Arguments.ErrorMessage.Std:Join.Values[1]")] == (
        "did you mean 'PipelineExecutionId'?"
    )


def test_expression_types_must_fit_the_member() -> None:
    d = doc()
    hp = steps(d)["PyTorchTraining"]["Arguments"]["HyperParameters"]
    hp["max_epochs"] = {"Get": "Parameters.Epochs"}  # an Integer where a string goes
    model = steps(d)["CreateBSMModel-CreateModel"]["Arguments"]["PrimaryContainer"]
    model["ModelDataUrl"] = {"Get": "Steps.PyTorchTraining.FinalMetricDataList['val:loss'].Value"}
    report = validate_definition(d)
    messages = {p.path: (p.message, p.fix) for p in report.problems}
    assert messages["Arguments.HyperParameters.max_epochs"] == (
        "Get 'Parameters.Epochs' gives an integer, but this member is a string "
        "(HyperParameterValue)",
        "wrap it in Std:Join (On '') to make a string",
    )
    assert "gives a float" in messages["Arguments.PrimaryContainer.ModelDataUrl"][0]


def test_metric_names_are_checked_against_metric_definitions() -> None:
    d = doc()
    cond = steps(d)["CheckAUC"]["Arguments"]["Conditions"][0]
    cond["LeftValue"] = {"Get": "Steps.PyTorchTraining.FinalMetricDataList['val:auc'].Value"}
    report = validate_definition(d)
    [problem] = report.problems
    assert problem.step == "CheckAUC" and problem.path == "Arguments.Conditions[0].LeftValue"
    assert "FinalMetricDataList['val:auroc']" in problem.fix
    cond["LeftValue"] = {"Get": "Steps.PyTorchTraining.FinalMetricDataList['val:auroc'].Value"}
    assert validate_definition(d).ok


def test_property_file_must_name_an_output_of_its_step() -> None:
    d = doc()
    steps(d)["ModelEvaluation"]["PropertyFiles"][0]["OutputName"] = "metrics"
    [problem] = validate_definition(d).problems
    assert (problem.step, problem.path) == ("ModelEvaluation", "PropertyFiles[0].OutputName")
    assert problem.fix == "did you mean 'metrics_output'?"


def test_unsupported_step_types_are_listed() -> None:
    d = doc()
    d["Steps"].append({"Name": "Notify", "Type": "EMR", "Arguments": {}})
    d["Steps"].append({"Name": "Check", "Type": "ClarifyCheck", "Arguments": {}})
    d["Steps"].append({"Name": "Odd", "Type": "Procesing", "Arguments": {}})
    report = validate_definition(d)
    assert report.unsupported == ["Notify (EMR)", "Check (ClarifyCheck)", "Odd (Procesing)"]
    fixes = {p.step: p.fix for p in report.problems}
    assert fixes["Odd"] == "did you mean 'Processing'?"


def test_a_condition_step_has_no_properties() -> None:
    d = doc()
    model = steps(d)["CreateBSMModel-CreateModel"]["Arguments"]["PrimaryContainer"]
    model["ModelDataUrl"] = {"Get": "Steps.CheckAUC.Outcome"}
    [problem] = validate_definition(d).problems
    assert "Condition step 'CheckAUC' has no properties" in problem.message


@pytest.mark.parametrize("bad", ["{", "[]"])
def test_unparseable_definitions_are_problems_not_crashes(bad: str) -> None:
    report = validate_definition(bad)
    assert not report.ok and report.problems[0].step is None


def test_self_references_and_cycles_are_reported() -> None:
    d = doc()
    train = steps(d)["PyTorchTraining"]["Arguments"]
    train["OutputDataConfig"]["S3OutputPath"] = {
        "Get": "Steps.PyTorchTraining.ModelArtifacts.S3ModelArtifacts"
    }
    steps(d)["TabularPreprocessing"]["DependsOn"] = ["ModelEvaluation"]
    report = validate_definition(d)
    messages = [p.message for p in report.problems]
    assert any("a step cannot read its own properties" in m for m in messages)
    assert any(m.startswith("dependency cycle: ") for m in messages)


def _put(d: dict, path: tuple, value: object) -> dict:
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("step", "path", "value"),
    [
        # Malformed members a hand-edited definition may hold: each is a problem, no crash.
        ("ModelEvaluation", ("Arguments", "ProcessingOutputConfig"), "s3://b/out"),
        ("ModelEvaluation", ("Arguments", "ProcessingOutputConfig", "Outputs"), 3),
        (
            "TabularPreprocessing",
            ("Arguments", "ProcessingOutputConfig", "Outputs", 0, "OutputName"),
            None,
        ),
        ("PyTorchTraining", ("Arguments", "AlgorithmSpecification", "MetricDefinitions"), 1.5),
        ("CheckAUC", ("Arguments", "Conditions", 0, "Type"), {"Equals": 1}),
    ],
)
def test_malformed_members_are_problems_not_crashes(step: str, path: tuple, value: object) -> None:
    d = doc()
    _put(steps(d)[step], path, value)
    report = validate_definition(d)
    assert not report.ok
    assert any(p.step == step for p in report.problems)


def test_v3_top_level_keys_are_accepted_and_reported_ignored() -> None:
    d = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}],
        "MlflowConfig": {
            "MlflowResourceArn": "arn:aws:sagemaker:us-east-1:1:mlflow-tracking-server/t"
        },
    }
    report = validate_definition(d)
    assert report.ok
    assert [n.split(":")[0] for n in report.ignored] == ["MlflowConfig"]
    assert report.to_dict()["ignored"] == report.ignored
