"""Condition step conditions: every type SageMaker defines, ANDed as a list."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.pipeline.run.conditions import condition_problems, evaluate_conditions
from simulator.pipeline.run.expressions import ExpressionError


def ident(value: Any) -> Any:
    return value


def cmp(ctype: str, left: Any, right: Any) -> dict[str, Any]:
    return {"Type": ctype, "LeftValue": left, "RightValue": right}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cmp("Equals", 1, 1.0), True),
        (cmp("Equals", "a", "b"), False),
        (cmp("GreaterThan", 0.8, 0.6), True),
        (cmp("GreaterThan", 0.6, 0.6), False),
        (cmp("GreaterThanOrEqualTo", 0.6, 0.6), True),
        (cmp("LessThan", 1, 2), True),
        (cmp("LessThanOrEqualTo", 3, 2), False),
        (cmp("GreaterThan", "0.9", 0.5), True),  # a number read as text from JSON
        ({"Type": "In", "QueryValue": "b", "Values": ["a", "b"]}, True),
        ({"Type": "In", "QueryValue": 2, "Values": [1.0, 3]}, False),
        ({"Type": "Not", "Condition": cmp("Equals", 1, 2)}, True),
        ({"Type": "Or", "Conditions": [cmp("Equals", 1, 2), cmp("LessThan", 1, 2)]}, True),
        ({"Type": "Or", "Conditions": [cmp("Equals", 1, 2), cmp("LessThan", 3, 2)]}, False),
    ],
)
def test_condition_types(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate_conditions([condition], ident) is expected


def test_the_list_is_anded() -> None:
    assert evaluate_conditions([cmp("Equals", 1, 1), cmp("LessThan", 1, 2)], ident) is True
    assert evaluate_conditions([cmp("Equals", 1, 1), cmp("LessThan", 3, 2)], ident) is False


def test_values_go_through_the_evaluator() -> None:
    values = {"left": 0.9, "right": 0.7}
    cond = cmp("GreaterThanOrEqualTo", "left", "right")
    assert evaluate_conditions([cond], lambda v: values.get(v, v)) is True


def test_ordering_non_numbers_is_an_error_naming_the_side() -> None:
    with pytest.raises(
        ExpressionError, match=r"Conditions\[0\].LeftValue: GreaterThan compares numbers"
    ):
        evaluate_conditions([cmp("GreaterThan", "high", 1)], ident)


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unknown condition type 'Between'"):
        evaluate_conditions([{"Type": "Between"}], ident)


def test_structural_problems() -> None:
    assert [p.path for p in condition_problems({"Type": "Equals", "LeftValue": 1}, "C")] == [
        "C.RightValue"
    ]
    assert condition_problems({"Type": "Or", "Conditions": []}, "C")[0].path == "C.Conditions"
    assert condition_problems({"Type": "Not", "Condition": {"Type": "Nope"}}, "C")[0].path == (
        "C.Condition.Type"
    )


def test_a_type_that_is_not_a_string_is_an_unknown_type() -> None:
    with pytest.raises(ExpressionError, match="unknown condition type"):
        evaluate_conditions([{"Type": {"Equals": 1}}], ident)
    [problem] = condition_problems({"Type": ["In"]}, "C")
    assert (problem.path, problem.value) == ("C.Type", ["In"])
