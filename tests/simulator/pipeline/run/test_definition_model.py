"""The definition model: parsing, flattening of condition branches, the DAG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.errors import ValidationError
from simulator.pipeline.run.definition import Parameter, PipelineDefinition

FIXTURE = Path(__file__).parents[3] / "fixtures" / "sdk_pipeline_definition.json"


def _doc() -> dict:
    return json.loads(FIXTURE.read_text())


def test_fixture_steps_are_flattened_with_their_branch() -> None:
    defn = PipelineDefinition.parse(FIXTURE.read_text())
    assert list(defn.steps) == [
        "TabularPreprocessing",
        "PyTorchTraining",
        "ModelEvaluation",
        "CheckAUC",
        "CreateBSMModel-RepackModel-0",
        "CreateBSMModel-CreateModel",
        "AucTooLow",
    ]
    assert defn.top_level == [
        "TabularPreprocessing",
        "PyTorchTraining",
        "ModelEvaluation",
        "CheckAUC",
    ]
    check = defn.steps["CheckAUC"]
    assert check.if_steps == ["CreateBSMModel-RepackModel-0", "CreateBSMModel-CreateModel"]
    assert check.else_steps == ["AucTooLow"]
    assert defn.steps["AucTooLow"].parent == "CheckAUC"
    assert defn.steps["AucTooLow"].branch == "ElseSteps"
    assert defn.steps["ModelEvaluation"].property_files[0].name == "EvaluationReport"
    assert defn.parameters["Epochs"] == Parameter("Epochs", "Integer", 3)


def test_dependencies_come_from_gets_property_files_and_branches() -> None:
    defn = PipelineDefinition.parse(_doc())
    assert defn.dependencies("TabularPreprocessing") == set()
    assert defn.dependencies("PyTorchTraining") == {"TabularPreprocessing"}
    assert defn.dependencies("ModelEvaluation") == {"TabularPreprocessing", "PyTorchTraining"}
    # The JsonGet on ModelEvaluation's property file is a dependency too.
    assert defn.dependencies("CheckAUC") == {"ModelEvaluation"}
    assert defn.dependencies("CreateBSMModel-CreateModel") == {
        "CheckAUC",
        "CreateBSMModel-RepackModel-0",
    }
    order = defn.topological_order()
    assert order.index("TabularPreprocessing") < order.index("PyTorchTraining")
    assert order.index("CheckAUC") < order.index("AucTooLow")
    assert defn.branch_descendants("CheckAUC", "ElseSteps") == ["AucTooLow"]


def test_depends_on_adds_an_edge_and_an_unknown_name_is_reported() -> None:
    doc = _doc()
    doc["Steps"][0]["DependsOn"] = ["CheckAUK"]
    with pytest.raises(ValidationError) as err:
        PipelineDefinition.parse(doc)
    text = str(err.value)
    assert "Steps[0].DependsOn[0]" in text and "did you mean 'CheckAUC'" in text


def test_cycle_is_reported_with_its_path() -> None:
    doc = _doc()
    doc["Steps"][0]["DependsOn"] = ["ModelEvaluation"]
    defn = PipelineDefinition.parse(doc)
    with pytest.raises(ValidationError, match="dependency cycle"):
        defn.topological_order()


def test_structural_problems_are_all_reported_at_once() -> None:
    doc = _doc()
    doc["Version"] = "2019-01-01"
    doc["Steps"][1]["Name"] = "TabularPreprocessing"
    doc["Parameters"][1]["DefaultValue"] = "three"
    with pytest.raises(ValidationError) as err:
        PipelineDefinition.parse(doc)
    paths = [p.path for p in err.value.problems]
    assert paths == ["Version", "Parameters[1].DefaultValue", "Steps[1].Name"]


def test_not_json_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        PipelineDefinition.parse("{nope")


@pytest.mark.parametrize(
    ("ptype", "given", "expected"),
    [
        ("Integer", "3", 3),
        ("Float", "0.25", 0.25),
        ("Boolean", "True", True),
        ("String", "s3://b/k", "s3://b/k"),
    ],
)
def test_parameter_values_are_coerced_to_their_type(
    ptype: str, given: str, expected: object
) -> None:
    assert Parameter("P", ptype).coerce(given) == expected


def test_a_parameter_value_of_the_wrong_type_names_parameter_and_value() -> None:
    with pytest.raises(ValueError, match="'Epochs' is Integer; '2.5'"):
        Parameter("Epochs", "Integer").coerce("2.5")
    with pytest.raises(ValueError, match="must be one of"):
        Parameter("Mode", "String", enum_values=("a", "b")).coerce("c")
