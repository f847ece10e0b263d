"""Hyperparameters of xgboost_train.py: SageMaker's string map, typed and checked.

``/opt/ml/input/config/hyperparameters.json`` is a map of strings. The SageMaker
Python SDK's framework estimators (``sagemaker.xgboost.XGBoost``) JSON-encode every
value (``"200"``, ``"\\"auc\\""``); a boto3 user may pass raw strings (``auc``). Like
the training toolkit, each value is ``json.loads``-ed when that works and kept as the
raw string otherwise; then each is converted to its field's type, and a bad one fails
the job naming the field, the value and what is expected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field, fields
from typing import Any

# The metrics every round reports on train and validation (xgboost's names); early
# stopping watches one of them on the validation channel.
EVAL_METRICS = ("logloss", "auc")
MAXIMIZED_METRICS = ("auc",)


class HyperparameterError(ValueError):
    """An invalid hyperparameter; the message names the field, the value and the fix."""


@dataclass(frozen=True)
class Hyperparameters:
    """Every hyperparameter of xgboost_train.py; defaults fit ``smsim data synth`` columns."""

    # Columns.
    id_name: str = "order_id"
    text_name: str = "dialogue"
    label_name: str = "label"
    tab_field_list: list[str] = field(
        default_factory=lambda: [
            "order_amount",
            "seller_rating",
            "buyer_prior_claims",
            "delivery_delay_days",
            "num_messages",
        ]
    )
    cat_field_list: list[str] = field(
        default_factory=lambda: [
            "product_category",
            "shipping_method",
            "payment_method",
            "marketplace",
        ]
    )
    # Text features: counts of the vocab_size words found in most training dialogues.
    vocab_size: int = 300
    min_df: int = 2
    # Boosting (xgboost's names; `lambda` is reg_lambda, as in the SageMaker built-in).
    num_round: int = 200
    early_stopping_rounds: int = 20
    eta: float = 0.1
    max_depth: int = 4
    min_child_weight: float = 1.0
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    early_stop_metric: str = "auc"
    seed: int = 0
    nthread: int = 0  # 0: 1 thread on a 2-core host, else half the cores (at most 4)

    def booster_params(self) -> dict[str, Any]:
        """The xgboost.train params (deterministic: hist method, fixed threads, seed)."""
        cpus = os.cpu_count() or 1
        return {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "eta": self.eta,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "alpha": self.reg_alpha,
            "eval_metric": list(EVAL_METRICS),
            "seed": self.seed,
            "nthread": self.nthread or (1 if cpus <= 2 else min(4, cpus // 2)),
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ALIASES = {"lambda": "reg_lambda", "alpha": "reg_alpha", "learning_rate": "eta"}
_FIELDS = {f.name: f for f in fields(Hyperparameters)}
_LIMITS = {
    "num_round": (1, None),
    "early_stopping_rounds": (0, None),
    "vocab_size": (0, None),
    "min_df": (1, None),
    "max_depth": (1, 32),
    "eta": (0.0, 1.0),
    "subsample": (0.0, 1.0),
    "colsample_bytree": (0.0, 1.0),
    "nthread": (0, None),
}


def decode(value: str) -> Any:
    """The toolkit's rule: a JSON-decodable value is decoded, anything else stays a string."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _convert(name: str, raw: Any, default: Any) -> Any:
    def bad(expected: str) -> HyperparameterError:
        return HyperparameterError(
            f"hyperparameter {name!r}: {raw!r} is not {expected}; set it to {expected} "
            f"(default {default!r})"
        )

    if isinstance(default, bool):
        raise AssertionError("no boolean hyperparameters")
    if isinstance(default, int):
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise bad("an integer")
        try:
            value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
        except ValueError:
            value = None
        if value is None:
            raise bad("an integer")
    elif isinstance(default, float):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise bad("a number") from None
    elif isinstance(default, list):
        value = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else raw
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of names (JSON list or comma-separated)")
    else:
        if not isinstance(raw, str):
            raise bad("a string")
        value = raw
    low, high = _LIMITS.get(name, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        raise HyperparameterError(
            f"hyperparameter {name!r}: {value!r} is outside [{low}, {high or 'inf'}]"
        )
    return value


def parse(raw: dict[str, str]) -> Hyperparameters:
    """Hyperparameters from the string map; unknown keys warn, ``sagemaker_*`` are ignored."""
    defaults = Hyperparameters()
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key.startswith("sagemaker_"):
            continue  # the platform's (sagemaker_program, sagemaker_submit_directory, …)
        name = _ALIASES.get(key, key)
        if name not in _FIELDS:
            warnings.warn(f"unknown hyperparameter {key!r} ignored", stacklevel=2)
            continue
        values[name] = _convert(name, decode(text), getattr(defaults, name))
    hp = dataclasses.replace(defaults, **values)
    if hp.early_stop_metric not in EVAL_METRICS:
        raise HyperparameterError(
            f"hyperparameter 'early_stop_metric': {hp.early_stop_metric!r} is not one of "
            f"{', '.join(EVAL_METRICS)}"
        )
    return hp


def load_hyperparameters(path: str) -> Hyperparameters:
    """Read and parse hyperparameters.json (absent: all defaults)."""
    if not os.path.exists(path):
        return Hyperparameters()
    with open(path) as handle:
        try:
            raw = json.load(handle)
        except ValueError as exc:
            raise HyperparameterError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise HyperparameterError(f"{path} must hold a JSON object of strings")
    return parse(raw)
