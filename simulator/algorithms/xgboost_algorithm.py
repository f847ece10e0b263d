"""The SageMaker XGBoost built-in algorithm ("algorithm mode"), on the rules it documents.

Run when a training job names the sagemaker-xgboost image and no ``sagemaker_program``
(the container's ``training.py`` runs its algorithm mode exactly then). The rules,
from the developer guide ("XGBoost algorithm", "XGBoost hyperparameters", "Tune an
XGBoost model") and aws/sagemaker-xgboost-container ``algorithm_mode/``:

- hyperparameters.json is read as it is: the built-in does not JSON-decode values, so
  a value the SDK's framework estimators JSON-encoded (``"\\"reg:squarederror\\""``)
  reaches it with its quotes and fails validation, as on the service;
- ``num_round`` is required; unknown names fail ("Extraneous hyperparameter found");
  numbers must parse; categorical values must be in range; ``eval_metric`` is a comma
  list; aliases learning_rate→eta, min_split_loss→gamma, reg_lambda→lambda,
  reg_alpha→alpha;
- channels ``train`` (required) and ``validation`` (optional); ContentType
  ``text/csv`` (label in the first column, no header) or ``text/libsvm`` (the
  default when a channel has none);
- each round prints ``[i]\\ttrain-<metric>:<v>\\tvalidation-<metric>:<v>`` (CloudWatch
  shows the tab as #011; the built-in's metric definitions match that);
- early stopping (``early_stopping_rounds``) on the validation channel's last
  eval_metric; checkpoints ``xgboost-checkpoint.<i>`` in the checkpoint directory,
  resumed from the newest; the model is ``/opt/ml/model/xgboost-model``;
- a failure is written to /opt/ml/output/failure, which becomes the FailureReason.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback

BASE_DIR = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
CONFIG_DIR = os.path.join(BASE_DIR, "input", "config")
DATA_DIR = os.path.join(BASE_DIR, "input", "data")
MODEL_PATH = os.path.join(BASE_DIR, "model", "xgboost-model")
FAILURE_PATH = os.path.join(BASE_DIR, "output", "failure")
CHECKPOINT_DIR = os.environ.get("SM_CHECKPOINT_DIR")  # set when CheckpointConfig is given
CHECKPOINT_NAME = "xgboost-checkpoint"

# The container's constants (xgb_constants.py): metrics early stopping maximises.
MAXIMIZE_METRICS = [
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map",
    "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro",
    "recall_micro",
]  # fmt: skip
MINIMIZE_METRICS = [
    "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
    "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe",
    "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
]  # fmt: skip
OBJECTIVES = [
    "aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge",
    "count:poisson", "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg",
    "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
    "reg:pseudohubererror", "reg:squaredlogerror", "reg:absoluteerror", "reg:tweedie",
    "survival:aft", "survival:cox",
]  # fmt: skip
CSV_TYPES = ("csv", "text/csv")
LIBSVM_TYPES = ("libsvm", "text/libsvm", "text/x-libsvm")
ACCEPTED_TYPES = (
    "csv", "libsvm", "parquet", "recordio-protobuf", "text/csv", "text/libsvm",
    "text/x-libsvm", "application/x-parquet", "application/x-recordio-protobuf",
)  # fmt: skip


class UserError(Exception):
    """The container's sagemaker_algorithm_toolkit.exceptions.UserError: the user's fix."""


# -- hyperparameters ----------------------------------------------------------------------
# (kind, range): ints and floats as (low, low_open, high, high_open), categoricals a list.
_INF = float("inf")
HYPERPARAMETERS: dict[str, tuple[str, object]] = {
    "num_round": ("int", (1, False, _INF, False)),
    "csv_weights": ("int", (0, False, 1, False)),
    "early_stopping_rounds": ("int", (1, False, _INF, False)),
    "booster": ("cat", ["gbtree", "gblinear", "dart"]),
    "verbosity": ("int", (0, False, 3, False)),
    "nthread": ("int", (1, False, _INF, False)),
    "eta": ("float", (0, False, 1, False)),
    "gamma": ("float", (0, False, _INF, False)),
    "max_depth": ("int", (0, False, _INF, False)),
    "min_child_weight": ("float", (0, False, _INF, False)),
    "max_delta_step": ("float", (0, False, _INF, False)),
    "subsample": ("float", (0, True, 1, False)),
    "colsample_bytree": ("float", (0, True, 1, False)),
    "colsample_bylevel": ("float", (0, True, 1, False)),
    "colsample_bynode": ("float", (0, True, 1, False)),
    "lambda": ("float", (0, False, _INF, False)),
    "alpha": ("float", (0, False, _INF, False)),
    "tree_method": ("cat", ["auto", "exact", "approx", "hist", "gpu_hist"]),
    "scale_pos_weight": ("float", (0, True, _INF, False)),
    "grow_policy": ("cat", ["depthwise", "lossguide"]),
    "max_leaves": ("int", (0, False, _INF, False)),
    "max_bin": ("int", (0, False, _INF, False)),
    "objective": ("cat", OBJECTIVES),
    "num_class": ("int", (2, False, _INF, False)),
    "base_score": ("float", (0, False, _INF, False)),
    "eval_metric": ("list", MAXIMIZE_METRICS + MINIMIZE_METRICS),
    "seed": ("int", (-(2**31), True, 2**31 - 1, True)),
    "num_parallel_tree": ("int", (1, False, _INF, False)),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda",
           "reg_alpha": "alpha"}  # fmt: skip


def _in_interval(value: float, spec: tuple) -> bool:
    low, low_open, high, high_open = spec
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    return not (below or above)


def validate_hyperparameters(raw: dict[str, str]) -> dict[str, object]:
    """The container's Hyperparameters.validate: aliases, required, parse, range, messages."""
    given = {ALIASES.get(k, k): v for k, v in raw.items()}
    if "num_round" not in given:
        raise UserError("Missing required hyperparameter: num_round")
    parsed: dict[str, object] = {}
    for name, value in given.items():
        if name not in HYPERPARAMETERS:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        kind, spec = HYPERPARAMETERS[name]
        try:
            if kind == "int":
                parsed[name] = int(value)
            elif kind == "float":
                parsed[name] = float(value)
            elif kind == "list":
                parsed[name] = str(value).split(",")
            else:
                parsed[name] = value
        except ValueError:
            raise UserError(
                f"Hyperparameter {name}: could not parse value (caused by ValueError)"
            ) from None
    for name, value in parsed.items():
        kind, spec = HYPERPARAMETERS[name]
        if kind in ("int", "float") and not _in_interval(value, spec):  # type: ignore[arg-type]
            raise UserError(f"Hyperparameter {name}: {value} is not in {_interval_text(spec)}")
        if kind == "cat" and value not in spec:  # type: ignore[operator]
            raise UserError(f"Hyperparameter {name}: {value} is not in {spec}")
        if kind == "list" and any(v not in spec for v in value):  # type: ignore[union-attr]
            raise UserError(f"Hyperparameter {name}: value {value} not in range {spec}")
    objective = str(parsed.get("objective", "reg:squarederror"))
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in parsed:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    metrics = parsed.get("eval_metric") or []
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):  # type: ignore[operator]
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    return parsed


def _interval_text(spec: tuple) -> str:
    low, low_open, high, high_open = spec
    left = "(-inf, " if low == -_INF else f"{'(' if low_open else '['}{low}, "
    right = "+inf)" if high == _INF else f"{high}{')' if high_open else ']'}"
    return left + right


# -- channels and data ----------------------------------------------------------------------
def validate_channels(data_config: dict[str, dict]) -> str:
    """Channel names and content types; returns "csv" or "libsvm" (train's type)."""
    if "train" not in data_config:
        raise UserError("Missing required channel: train")
    for name in data_config:
        if name not in ("train", "validation", "code"):
            raise UserError(f"Extraneous channel found: {name}")
    kinds = set()
    for name in ("train", "validation"):
        if name not in data_config:
            continue
        content_type = data_config[name].get("ContentType") or "text/libsvm"  # the default
        base, *params = [p.strip() for p in content_type.lower().split(";")]
        if base not in ACCEPTED_TYPES:
            raise UserError(
                f"{content_type} is not an accepted ContentType: {', '.join(ACCEPTED_TYPES)}."
            )
        if base in CSV_TYPES:
            if any(p.replace(" ", "").startswith("label_size=") and p[-1] != "1" for p in params):
                raise UserError(
                    f"{content_type} is not an accepted csv ContentType. Optional parameter "
                    "label_size must be equal to 1"
                )
            kinds.add("csv")
        elif base in LIBSVM_TYPES:
            kinds.add("libsvm")
        else:  # parquet / recordio-protobuf: documented, not simulated here
            raise UserError(
                f"ContentType {content_type} of channel {name!r} is not simulated by smsim's "
                "XGBoost stand-in; use text/csv or text/libsvm"
            )
    if len(kinds) > 1:
        raise UserError("train and validation channels must have the same ContentType")
    return kinds.pop()


def data_files(directory: str) -> list[str]:
    """The container's _is_data_file: files not starting with '.' or '_', any depth."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [os.path.join(root, n) for n in sorted(names) if not n.startswith((".", "_"))]
    return found


def load_matrix(directory: str, kind: str, csv_weights: int):  # noqa: ANN201 - xgb.DMatrix
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    files = data_files(directory)
    if not files:
        return None
    if kind == "libsvm":
        with open(files[0]) as handle:
            first = handle.readline().strip()
        if first and not re.match(r"^[-+0-9.eE]+(\s+[0-9]+:[-+0-9.eE]+)*\s*$", first):
            raise UserError(
                f"First line '{first[:50]}...' of file '{os.path.basename(files[0])}' is not "
                "'LIBSVM' format. Please ensure the file is in 'LIBSVM' format."
            )
        parts = [xgb.DMatrix(f"{path}?format=libsvm") for path in files]
        if len(parts) == 1:
            return parts[0]
        raise UserError("several libsvm files per channel are not simulated; concatenate them")
    rows = []
    for path in files:
        with open(path) as handle:
            first = handle.readline()
        if first and any(c.isalpha() and c not in "eE" for c in first.split(",")[0]):
            raise UserError(
                f"the first line of {os.path.basename(path)} looks like a header "
                f"({first[:50].strip()!r}); the built-in reads CSV without a header, label first"
            )
        # Empty cells are missing values (NaN), as xgboost's own CSV parser reads them.
        rows.append(pd.read_csv(path, header=None).to_numpy(dtype=np.float32))
    data = np.vstack(rows)
    label, start = data[:, 0], 1
    weight = None
    if csv_weights == 1:
        weight, start = data[:, 1], 2
    return xgb.DMatrix(data[:, start:], label=label, weight=weight, missing=np.nan)


# -- checkpoints --------------------------------------------------------------------------
def latest_checkpoint(directory: str | None) -> tuple[str | None, int]:
    """The container's load_checkpoint: newest xgboost-checkpoint.<i>, next iteration i+1."""
    if not directory or not os.path.isdir(directory):
        return None, 0
    pattern = re.compile(rf"^{CHECKPOINT_NAME}\.([0-9]+)$")
    rounds = sorted(int(m.group(1)) for n in os.listdir(directory) if (m := pattern.match(n)))
    if not rounds:
        return None, 0
    return os.path.join(directory, f"{CHECKPOINT_NAME}.{rounds[-1]}"), rounds[-1] + 1


def checkpoint_callback(directory: str, start: int):  # noqa: ANN201 - a TrainingCallback
    import xgboost as xgb

    class SaveCheckpoint(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:  # noqa: ANN001
            os.makedirs(directory, exist_ok=True)
            i = start + epoch
            path = os.path.join(directory, f"{CHECKPOINT_NAME}.{i}")
            with open(path + ".tmp", "wb") as handle:
                handle.write(model.save_raw("json"))
            os.replace(path + ".tmp", path)  # a checkpoint is whole or absent
            stale = os.path.join(directory, f"{CHECKPOINT_NAME}.{i - 2}")
            if os.path.exists(stale):
                os.remove(stale)
            return False

    return SaveCheckpoint()


# -- training -------------------------------------------------------------------------------
def train() -> None:
    with open(os.path.join(CONFIG_DIR, "hyperparameters.json")) as handle:
        raw = json.load(handle)
    with open(os.path.join(CONFIG_DIR, "inputdataconfig.json")) as handle:
        data_config = json.load(handle)
    params = validate_hyperparameters(raw)
    kind = validate_channels(data_config)
    csv_weights = int(params.pop("csv_weights", 0))  # type: ignore[call-overload]
    import xgboost as xgb  # after validation: a bad request fails without loading it

    dtrain = load_matrix(os.path.join(DATA_DIR, "train"), kind, csv_weights)
    if dtrain is None:
        raise UserError(f"No data in training channel path {os.path.join(DATA_DIR, 'train')}")
    dval = None
    if "validation" in data_config:
        dval = load_matrix(os.path.join(DATA_DIR, "validation"), kind, csv_weights)
        if dval is None:
            path = os.path.join(DATA_DIR, "validation")
            raise UserError(f"No data in validation channel path {path}")
    num_round = int(params.pop("num_round"))  # type: ignore[call-overload]
    patience = params.pop("early_stopping_rounds", None)
    metrics = params.get("eval_metric")
    print(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns", flush=True)

    model, start = latest_checkpoint(CHECKPOINT_DIR)
    if model is not None:
        print(f"Checkpoint loaded from {model}; resuming from iteration {start}", flush=True)
    callbacks = [xgb.callback.EvaluationMonitor()]  # the `[i]\ttrain-…` lines
    if CHECKPOINT_DIR:
        callbacks.append(checkpoint_callback(CHECKPOINT_DIR, start))
    if patience and dval is not None and metrics:
        metric = metrics[-1]  # type: ignore[index]
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=int(patience),  # type: ignore[call-overload]
                data_name="validation",
                metric_name=metric,
                maximize=metric in MAXIMIZE_METRICS,
                save_best=True,
            )
        )
    evals = [(dtrain, "train")] + ([(dval, "validation")] if dval is not None else [])
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=max(num_round - start, 0),
            evals=evals,
            callbacks=callbacks,
            xgb_model=model,
            verbose_eval=False,
        )
    except xgb.core.XGBoostError as exc:
        raise UserError(f"XGB train call failed with exception:\n {exc}") from exc
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    with open(MODEL_PATH, "wb") as handle:
        handle.write(booster.save_raw("ubj"))
    print(f"Stored trained model at {MODEL_PATH}", flush=True)


def fail(exc: BaseException) -> None:
    # The container's trainer reports any exception as "framework error:" plus the
    # traceback and message; the service shows it prefixed with "AlgorithmError: ".
    # Ours keeps the message first so that the first 1024 characters (FailureReason) hold it.
    name = "sagemaker_algorithm_toolkit.exceptions.UserError"
    kind = name if isinstance(exc, UserError) else type(exc).__name__
    reason = f"AlgorithmError: framework error: \n{kind}: {exc}\n\n{traceback.format_exc()}"
    print(reason, file=sys.stderr, flush=True)
    try:
        os.makedirs(os.path.dirname(FAILURE_PATH), exist_ok=True)
        with open(FAILURE_PATH, "w") as handle:
            handle.write(reason)
    except OSError as write_error:
        print(f"could not write {FAILURE_PATH}: {write_error}", file=sys.stderr)


if __name__ == "__main__":
    try:
        train()
    except Exception as error:  # every failure must reach output/failure
        fail(error)
        sys.exit(1)
