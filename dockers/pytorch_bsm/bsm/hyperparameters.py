"""Hyperparameters: parse SageMaker's string map, validate it, name the bad field.

SageMaker writes ``/opt/ml/input/config/hyperparameters.json`` as a map of
strings; the SageMaker Python SDK JSON-encodes every value (``"3"``,
``"\\"adam\\""``, ``"[\\"a\\", \\"b\\"]"``, ``"true"``) and a boto3 user may
pass raw strings (``"adam"``). Like the training toolkit, each value is
``json.loads``-ed when that works and kept as the raw string otherwise;
pydantic then coerces and validates the result.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ModelClass = Literal["multimodal_cnn", "multimodal_transformer", "text_cnn", "lstm", "tabular_mlp"]
MODEL_CLASSES: tuple[str, ...] = get_args(ModelClass)
TEXT_MODELS = ("multimodal_cnn", "multimodal_transformer", "text_cnn", "lstm")
TABULAR_MODELS = ("multimodal_cnn", "multimodal_transformer", "tabular_mlp")


class HyperparameterError(ValueError):
    """An invalid hyperparameter; the message names the field, the value and the fix."""


class Hyperparameters(BaseModel):
    """Every hyperparameter of train.py; defaults fit ``smsim data synth`` columns."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Columns.
    id_name: str = "order_id"
    text_name: str = "dialogue"
    label_name: str = "label"
    tab_field_list: list[str] = Field(
        default_factory=lambda: [
            "order_amount",
            "seller_rating",
            "buyer_prior_claims",
            "delivery_delay_days",
            "num_messages",
        ]
    )
    cat_field_list: list[str] = Field(
        default_factory=lambda: [
            "product_category",
            "shipping_method",
            "payment_method",
            "marketplace",
        ]
    )
    # Task.
    is_binary: bool = True
    num_classes: int = Field(2, ge=2)
    class_weights: list[float] | None = None
    # Model.
    model_class: ModelClass = "multimodal_cnn"
    vocab_size: int = Field(4000, ge=16, le=200_000)
    max_sen_len: int = Field(96, ge=4, le=4096)
    embed_dim: int = Field(48, ge=4, le=1024)
    hidden_dim: int = Field(64, ge=4, le=4096)
    num_filters: int = Field(32, ge=1, le=1024)
    kernel_sizes: list[int] = Field(default_factory=lambda: [2, 3, 4])
    num_layers: int = Field(2, ge=1, le=12)
    num_heads: int = Field(4, ge=1, le=32)
    cat_embed_dim: int = Field(8, ge=1, le=256)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # Optimisation.
    batch_size: int = Field(32, ge=1, le=65536)
    max_epochs: int = Field(3, ge=1, le=10_000)
    lr: float = Field(0.005, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0, ge=0.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    lr_scheduler: Literal["cosine", "constant", "step"] = "cosine"
    early_stop_patience: int = Field(3, ge=0)
    early_stop_metric: Literal["val_auroc", "val_loss", "val_f1"] = "val_auroc"
    seed: int = 42
    num_threads: int = Field(0, ge=0, le=256)
    # Export.
    export_onnx: bool = True
    onnx_tolerance: float = Field(1e-4, gt=0.0)

    @field_validator("tab_field_list", "cat_field_list", "kernel_sizes", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # A raw boto3 user may pass "a,b,c" instead of the SDK's JSON list.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("kernel_sizes")
    @classmethod
    def _kernels_positive(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError("must be a non-empty list of positive integers")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Hyperparameters:
        if self.is_binary and self.num_classes != 2:
            raise ValueError(
                f"is_binary is true but num_classes is {self.num_classes}; "
                "set num_classes to 2 or is_binary to false"
            )
        if self.class_weights is not None and len(self.class_weights) != self.num_classes:
            raise ValueError(
                f"class_weights has {len(self.class_weights)} values but num_classes is "
                f"{self.num_classes}; give one weight per class"
            )
        if self.model_class in TEXT_MODELS and not self.text_name:
            raise ValueError(f"model_class {self.model_class} needs text_name")
        if self.model_class == "tabular_mlp" and not (self.tab_field_list or self.cat_field_list):
            raise ValueError("model_class tabular_mlp needs tab_field_list or cat_field_list")
        if self.model_class == "multimodal_transformer" and self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}"
            )
        return self

    @property
    def uses_text(self) -> bool:
        return self.model_class in TEXT_MODELS

    @property
    def uses_tabular(self) -> bool:
        return self.model_class in TABULAR_MODELS


def load_hyperparameters(path: str) -> Hyperparameters:
    """Parse and validate the hyperparameters.json at ``path`` (absent: every default)."""
    if not os.path.exists(path):
        return parse_hyperparameters({})
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise HyperparameterError(
            f"{path} is not valid JSON ({exc}); SageMaker writes HyperParameters there as a "
            'JSON object of strings, e.g. {"lr": "0.01", "model_class": "\\"text_cnn\\""}'
        ) from None
    return parse_hyperparameters(raw)


def decode_value(raw: Any) -> Any:
    """One hyperparameter value as the training toolkit reads it: JSON if it parses, else raw."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_hyperparameters(raw: dict[str, Any]) -> Hyperparameters:
    """Validate a hyperparameters.json map; warn on unknown keys, raise on bad values.

    Keys starting with ``sagemaker_`` belong to the platform (``sagemaker_program``,
    ``sagemaker_submit_directory``, ``sagemaker_region``, ...: the toolkit keeps
    them out of SM_HPS) and are ignored silently.
    """
    if not isinstance(raw, dict):
        raise HyperparameterError(
            f"hyperparameters.json must hold a JSON object, got {type(raw).__name__}"
        )
    values = {key: decode_value(value) for key, value in raw.items()}
    known = set(Hyperparameters.model_fields)
    for key in sorted(values):
        if key not in known and not key.startswith("sagemaker_"):
            warnings.warn(
                f"unknown hyperparameter {key!r} ignored (known: {', '.join(sorted(known))})",
                stacklevel=2,
            )
    user = {key: value for key, value in values.items() if key in known}
    try:
        return Hyperparameters(**user)
    except ValidationError as exc:
        raise HyperparameterError(_describe(exc, user)) from None


def _describe(exc: ValidationError, values: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "<hyperparameters>"
        head = str(err["loc"][0]) if err["loc"] else ""
        shown = f" (got {values[head]!r})" if head in values else ""
        lines.append(f"hyperparameter {field}: {err['msg']}{shown}")
    return "invalid hyperparameters: " + "; ".join(lines)
