"""Condition step conditions, as the SDK writes them (``sagemaker.workflow.conditions``).

- comparisons ``{"Type": Equals|GreaterThan|GreaterThanOrEqualTo|LessThan|
  LessThanOrEqualTo, "LeftValue", "RightValue"}``;
- ``{"Type": "In", "QueryValue", "Values": [...]}``;
- ``{"Type": "Not", "Condition": {...}}`` (``Expression`` accepted too);
- ``{"Type": "Or", "Conditions": [...]}``.

The ``Conditions`` list of a ConditionStep is ANDed, as in SageMaker. Values may be
expressions; they are evaluated through the callable the executor passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.errors import Problem
from simulator.pipeline.run.expressions import ExpressionError

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}
CONDITION_TYPES: tuple[str, ...] = ("Equals", *COMPARISONS, "In", "Not", "Or")

Evaluator = Callable[[Any], Any]


def evaluate_conditions(conditions: list[Any], evaluate: Evaluator) -> bool:
    """True when every condition holds (SageMaker ANDs a ConditionStep's list)."""
    return all(
        evaluate_condition(c, evaluate, f"Conditions[{i}]") for i, c in enumerate(conditions)
    )


def evaluate_condition(condition: Any, evaluate: Evaluator, where: str = "Condition") -> bool:
    """One condition's truth value; ExpressionError naming ``where`` when it cannot be decided."""
    if not isinstance(condition, dict):
        raise ExpressionError(f"{where}: a condition must be an object; got {condition!r}")
    ctype = condition.get("Type")
    if not isinstance(ctype, str) or ctype not in CONDITION_TYPES:
        raise ExpressionError(
            f"{where}.Type: unknown condition type {ctype!r}; "
            f"use one of {', '.join(CONDITION_TYPES)}"
        )
    if ctype == "Equals":
        return _equals(evaluate(condition.get("LeftValue")), evaluate(condition.get("RightValue")))
    if ctype in COMPARISONS:
        left = _number(evaluate(condition.get("LeftValue")), f"{where}.LeftValue", ctype)
        right = _number(evaluate(condition.get("RightValue")), f"{where}.RightValue", ctype)
        return COMPARISONS[ctype](left, right)
    if ctype == "In":
        query = evaluate(condition.get("QueryValue"))
        values = condition.get("Values")
        if not isinstance(values, list):
            raise ExpressionError(f"{where}.Values: In needs a list of values; got {values!r}")
        return any(_equals(query, evaluate(v)) for v in values)
    if ctype == "Not":
        inner = condition.get("Condition", condition.get("Expression"))
        return not evaluate_condition(inner, evaluate, f"{where}.Condition")
    # What is left is "Or".
    inner = condition.get("Conditions")
    if not isinstance(inner, list):
        raise ExpressionError(f"{where}.Conditions: Or needs a list of conditions")
    return any(
        evaluate_condition(c, evaluate, f"{where}.Conditions[{i}]") for i, c in enumerate(inner)
    )


def condition_problems(condition: Any, where: str) -> list[Problem]:
    """Structural problems of one condition (for static validation)."""
    if not isinstance(condition, dict):
        return [Problem(where, "a condition must be an object", condition)]
    ctype = condition.get("Type")
    if not isinstance(ctype, str) or ctype not in CONDITION_TYPES:
        return [
            Problem(
                f"{where}.Type",
                "unknown condition type",
                ctype,
                f"use one of {', '.join(CONDITION_TYPES)}",
            )
        ]
    if ctype == "Equals" or ctype in COMPARISONS:
        return [
            Problem(f"{where}.{side}", f"{ctype} needs a {side}")
            for side in ("LeftValue", "RightValue")
            if side not in condition
        ]
    if ctype == "In":
        out = []
        if "QueryValue" not in condition:
            out.append(Problem(f"{where}.QueryValue", "In needs a QueryValue"))
        if not isinstance(condition.get("Values"), list):
            out.append(
                Problem(f"{where}.Values", "In needs a list of Values", condition.get("Values"))
            )
        return out
    if ctype == "Not":
        inner = condition.get("Condition", condition.get("Expression"))
        return condition_problems(inner, f"{where}.Condition")
    # What is left is "Or".
    inner = condition.get("Conditions")
    if not isinstance(inner, list) or not inner:
        return [Problem(f"{where}.Conditions", "Or needs a non-empty list of conditions", inner)]
    out = []
    for i, c in enumerate(inner):
        out += condition_problems(c, f"{where}.Conditions[{i}]")
    return out


def operands(condition: Any, where: str = "") -> list[tuple[str, Any]]:
    """Every value a condition reads, with its path (for finding and checking references)."""
    if not isinstance(condition, dict):
        return []
    prefix = f"{where}." if where else ""
    out = [
        (f"{prefix}{k}", condition[k])
        for k in ("LeftValue", "RightValue", "QueryValue")
        if k in condition
    ]
    values = condition.get("Values")
    if isinstance(values, list):
        out += [(f"{prefix}Values[{i}]", v) for i, v in enumerate(values)]
    for key in ("Condition", "Expression"):
        out += operands(condition.get(key), f"{prefix}{key}")
    inner = condition.get("Conditions")
    if isinstance(inner, list):
        for i, c in enumerate(inner):
            out += operands(c, f"{prefix}Conditions[{i}]")
    return out


def _equals(left: Any, right: Any) -> bool:
    # A number read from a JSON file and a Float parameter compare by value (1 == 1.0).
    if _is_number(left) and _is_number(right):
        return float(left) == float(right)
    return left == right


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, where: str, ctype: str) -> float:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ExpressionError(f"{where}: {ctype} compares numbers; got {value!r}")
