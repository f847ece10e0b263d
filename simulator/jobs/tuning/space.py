"""The search space of a tuning job: its ParameterRanges as typed parameters.

SageMaker's rules (developer guide, "Define hyperparameter ranges"):
* Integer and Continuous ranges have MinValue ≤ MaxValue and a ScalingType:
  ``Linear``; ``Logarithmic`` (values > 0 only); ``ReverseLogarithmic``
  (Continuous only, 0 ≤ MinValue ≤ MaxValue < 1); ``Auto`` lets the service
  choose — here Linear, the choice that needs no assumption about the range.
* A Categorical range lists its values (strings) explicitly.
* Hyperparameter values reach the training job as strings.

Each parameter maps to an optuna distribution so that every strategy samples
through the same library; ReverseLogarithmic becomes a log-uniform ``1 - x``
(dense near 1, as the service describes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulator.errors import Problem


@dataclass(frozen=True)
class Parameter:
    """One tunable hyperparameter: ``kind`` Integer | Continuous | Categorical."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    # -- sampling ---------------------------------------------------------------------
    def suggest(self, trial: Any, key: str) -> Any:
        """Sample this parameter in an optuna trial under ``key``; returns the value."""
        if self.kind == "Categorical":
            return trial.suggest_categorical(key, list(self.values))
        if self.kind == "Integer":
            return trial.suggest_int(
                key, int(self.low), int(self.high), log=self.scaling == "Logarithmic"
            )
        if self.scaling == "ReverseLogarithmic":
            # Sampled as z = 1 - x, log-uniform on [1 - high, 1 - low].
            z = trial.suggest_float(key, 1.0 - self.high, 1.0 - self.low, log=True)
            return 1.0 - z
        return trial.suggest_float(key, self.low, self.high, log=self.scaling == "Logarithmic")

    def distribution(self) -> Any:
        """The optuna distribution ``suggest`` samples from (for warm-start trials)."""
        import optuna.distributions as d

        if self.kind == "Categorical":
            return d.CategoricalDistribution(list(self.values))
        if self.kind == "Integer":
            return d.IntDistribution(
                int(self.low), int(self.high), log=self.scaling == "Logarithmic"
            )
        if self.scaling == "ReverseLogarithmic":
            return d.FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return d.FloatDistribution(self.low, self.high, log=self.scaling == "Logarithmic")

    def internal(self, value: str) -> Any | None:
        """A hyperparameter string as the value ``distribution`` holds; None if outside."""
        if self.kind == "Categorical":
            return value if value in self.values else None
        try:
            number = float(value)
        except ValueError:
            return None
        if not self.low <= number <= self.high:
            return None
        if self.kind == "Integer":
            return int(number) if number.is_integer() else None
        return 1.0 - number if self.scaling == "ReverseLogarithmic" else number

    def render(self, value: Any) -> str:
        """The string the training job receives (SageMaker passes strings)."""
        if self.kind == "Integer":
            return str(int(value))
        if self.kind == "Continuous":
            return repr(float(value))
        return str(value)


@dataclass(frozen=True)
class SearchSpace:
    """The tunable parameters of one training job definition."""

    parameters: tuple[Parameter, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def categorical_only(self) -> bool:
        return all(p.kind == "Categorical" for p in self.parameters)


def parse_ranges(ranges: dict[str, Any], where: str) -> tuple[SearchSpace, list[Problem]]:
    """ParameterRanges → a SearchSpace, with every problem of the service's rules."""
    problems: list[Problem] = []
    params: list[Parameter] = []
    for kind in ("Integer", "Continuous"):
        for i, r in enumerate(ranges.get(f"{kind}ParameterRanges", [])):
            at = f"{where}.{kind}ParameterRanges[{i}]"
            param, found = _numeric(kind, r, at)
            problems += found
            if param is not None:
                params.append(param)
    for i, r in enumerate(ranges.get("CategoricalParameterRanges", [])):
        values = tuple(r.get("Values", []))
        at = f"{where}.CategoricalParameterRanges[{i}]"
        if len(set(values)) != len(values):
            problems.append(
                Problem(f"{at}.Values", "repeated values", list(values), "list each once")
            )
        params.append(Parameter(r["Name"], "Categorical", values=values))
    names = [p.name for p in params]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem(where, "a hyperparameter is in more than one range", dup, "tune it once")
        )
    if ranges.get("AutoParameters"):
        problems.append(
            Problem(
                f"{where}.AutoParameters",
                "Autotune parameters are not supported by smsim",
                None,
                "give explicit Integer/Continuous/Categorical ranges",
            )
        )
    return SearchSpace(tuple(params)), problems


def _numeric(kind: str, r: dict[str, Any], at: str) -> tuple[Parameter | None, list[Problem]]:
    scaling = r.get("ScalingType", "Auto")
    try:
        low, high = float(r["MinValue"]), float(r["MaxValue"])
    except ValueError:
        return None, [
            Problem(at, "MinValue and MaxValue must be numbers", [r["MinValue"], r["MaxValue"]])
        ]
    problems = []
    if kind == "Integer" and not (low.is_integer() and high.is_integer()):
        problems.append(Problem(at, "an IntegerParameterRange needs integer bounds", [low, high]))
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        problems.append(
            Problem(at, "MinValue must not exceed MaxValue", [r["MinValue"], r["MaxValue"]])
        )
    if scaling == "Logarithmic" and low <= 0:
        problems.append(
            Problem(
                f"{at}.ScalingType",
                "Logarithmic scaling needs a range of values greater than 0",
                r["MinValue"],
                "raise MinValue above 0 or use Linear",
            )
        )
    if scaling == "ReverseLogarithmic":
        if kind == "Integer":
            problems.append(
                Problem(
                    f"{at}.ScalingType",
                    "ReverseLogarithmic scaling applies to continuous ranges only",
                    scaling,
                    "use Linear or Logarithmic",
                )
            )
        elif not (low >= 0 and high < 1):
            problems.append(
                Problem(
                    f"{at}.ScalingType",
                    "ReverseLogarithmic scaling needs 0 <= MinValue <= MaxValue < 1",
                    [r["MinValue"], r["MaxValue"]],
                    "use Linear for this range",
                )
            )
    if problems:
        return None, problems
    return Parameter(r["Name"], kind, low, high, scaling), []
