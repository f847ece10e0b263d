"""Get / Std:Join / Std:JsonGet evaluation, against a context holding known values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from simulator.pipeline.run.expressions import (
    ExpressionError,
    evaluate,
    iter_expressions,
    split_reference,
    step_references,
)


class Ctx:
    """An EvaluationContext with fixed values (the executor's is tested end to end)."""

    def __init__(self) -> None:
        self.files = {
            ("Eval", "Report"): {
                "metrics": {"auroc": {"value": 0.91}, "f1": {"value": 0.7}},
                "per_class": [{"label": "a", "n": 3}, {"label": "b", "n": 5}],
            }
        }
        self.s3 = {"s3://b/result.json": {"score": 12}}

    def parameter(self, name: str) -> Any:
        return {"Epochs": 3, "Rate": 0.5, "Flag": True, "Bucket": "b"}[name]

    def execution_variable(self, name: str) -> Any:
        return {
            "PipelineExecutionId": "abcdef123456",
            "StartDateTime": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        }[name]

    def step_property(self, step: str, path: str) -> Any:
        return {("Train", "ModelArtifacts.S3ModelArtifacts"): "s3://b/m/model.tar.gz"}[(step, path)]

    def property_file(self, step: str, name: str) -> Any:
        return self.files[(step, name)]

    def read_json(self, s3_uri: str) -> Any:
        return self.s3[s3_uri]


def test_get_forms() -> None:
    ctx = Ctx()
    assert evaluate({"Get": "Parameters.Epochs"}, ctx) == 3
    assert evaluate({"Get": "Execution.PipelineExecutionId"}, ctx) == "abcdef123456"
    assert evaluate({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, ctx).endswith(
        "model.tar.gz"
    )


def test_join_renders_values_as_sagemaker_does() -> None:
    expr = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                {"Get": "Parameters.Bucket"},
                {"Get": "Execution.PipelineExecutionId"},
                {"Get": "Parameters.Epochs"},
                {"Get": "Parameters.Rate"},
                {"Get": "Parameters.Flag"},
            ],
        }
    }
    assert evaluate(expr, Ctx()) == "s3://b/abcdef123456/3/0.5/true"
    assert evaluate(
        {"Std:Join": {"On": "", "Values": [{"Get": "Execution.StartDateTime"}]}}, Ctx()
    ) == ("2026-01-02T03:04:05+00:00")


def test_nested_structures_are_evaluated_throughout() -> None:
    args = {"A": [{"B": {"Get": "Parameters.Epochs"}}, "plain"], "C": {"Get": "Parameters.Bucket"}}
    assert evaluate(args, Ctx()) == {"A": [{"B": 3}, "plain"], "C": "b"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("metrics.auroc.value", 0.91),
        ("$.metrics.f1.value", 0.7),
        ("per_class[1].n", 5),
        ("per_class[?label=='a'].n", 3),  # JSONPath filters: more than dotted keys
    ],
)
def test_json_get_on_a_property_file_is_jsonpath(path: str, expected: Any) -> None:
    expr = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
            "Path": path,
        }
    }
    assert evaluate(expr, Ctx()) == expected


def test_json_get_on_an_s3_uri_built_by_join() -> None:
    expr = {
        "Std:JsonGet": {
            "S3Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": ["s3:/", {"Get": "Parameters.Bucket"}, "result.json"],
                }
            },
            "Path": "score",
        }
    }
    assert evaluate(expr, Ctx()) == 12


def test_json_get_with_no_match_names_the_file_and_its_keys() -> None:
    expr = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
            "Path": "metrics.auc.value",
        }
    }
    with pytest.raises(
        ExpressionError, match=r"matched nothing in property file 'Report' of step 'Eval'"
    ):
        evaluate(expr, Ctx())


def test_malformed_expressions_are_errors() -> None:
    with pytest.raises(ExpressionError, match="Parameters., Execution. or Steps."):
        evaluate({"Get": "Params.X"}, Ctx())
    with pytest.raises(ExpressionError, match="Std:Join needs"):
        evaluate({"Std:Join": {"On": "/"}}, Ctx())
    with pytest.raises(ExpressionError, match="PropertyFile must be"):
        evaluate({"Std:JsonGet": {"PropertyFile": "Report", "Path": "a"}}, Ctx())


def test_references_and_locations() -> None:
    assert split_reference("Steps.Pre-1.ProcessingOutputConfig.Outputs['x'].S3Output.S3Uri") == (
        "Steps",
        "Pre-1",
        "ProcessingOutputConfig.Outputs['x'].S3Output.S3Uri",
    )
    assert split_reference("Steps.T.FinalMetricDataList['val:loss'].Value")[2] == (
        "FinalMetricDataList['val:loss'].Value"
    )
    value = {
        "X": [{"Std:Join": {"On": "", "Values": [{"Get": "Steps.A.B"}]}}],
        "Y": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.C.PropertyFiles.P"}, "Path": "a"}},
    }
    assert step_references(value) == {"A", "C"}
    assert [p for p, _ in iter_expressions(value)] == ["X[0]", "Y"]
