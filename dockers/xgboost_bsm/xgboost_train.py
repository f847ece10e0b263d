"""Train a BSM (buyer–seller messaging) classifier with XGBoost in a SageMaker XGBoost container.

Read top to bottom, like the job runs: config (paths, hyperparameters) → data
(features fitted on train) → boosting (per-round checkpoints, early stopping on val)
→ export (model dir, predictions, metrics); ``main`` strings the sections together.
The building blocks live in the ``xgb_bsm/`` package beside this file.

SageMaker contract (framework mode of the sagemaker-xgboost image, ``sagemaker_program``):
- channels train, val (required) and test (optional) under input/data/<channel>/,
  csv / tsv / parquet, one file or many part files — the same layout as the PyTorch trainer;
- hyperparameters from input/config/hyperparameters.json (strings, SDK-JSON-encoded);
  the same values also arrive as ``--key value`` arguments, which are ignored;
- model/ becomes model.tar.gz: ``xgboost-model`` (the name the SageMaker XGBoost container
  gives its model and its serving stack loads), ``xgboost-model.json``, ``preprocessor.json``;
- output/data/ becomes output.tar.gz: predictions.csv and metrics.json;
- checkpoints/ is synced with CheckpointConfig.S3Uri; a restarted job resumes from it;
- each round prints ``[N]#011train-logloss:…#011validation-auc:…``, the XGBoost metric line
  (logloss and auc on train and validation; early stopping on one of them);
- on error the reason goes to output/failure (the job's FailureReason) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from xgb_bsm.features import data_fingerprint, encode, encode_labels, fit_features
from xgb_bsm.hyperparameters import MAXIMIZED_METRICS, Hyperparameters, load_hyperparameters
from xgb_bsm.io import read_channel
from xgb_bsm.rounds import (
    Progress,
    RoundCallback,
    Stopping,
    clear_checkpoints,
    load_checkpoint,
)

# =============================================================================================
# Config
# =============================================================================================
# Container paths; SAGEMAKER_BASE_DIR is the training toolkit's override of /opt/ml.
BASE_DIR = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
TRAIN_DIR = os.path.join(BASE_DIR, "input", "data", "train")
VAL_DIR = os.path.join(BASE_DIR, "input", "data", "val")
TEST_DIR = os.path.join(BASE_DIR, "input", "data", "test")
HYPERPARAMETERS_PATH = os.path.join(BASE_DIR, "input", "config", "hyperparameters.json")
MODEL_DIR = os.path.join(BASE_DIR, "model")
OUTPUT_DATA_DIR = os.path.join(BASE_DIR, "output", "data")
FAILURE_PATH = os.path.join(BASE_DIR, "output", "failure")
# CheckpointConfig.LocalPath defaults to /opt/ml/checkpoints.
CHECKPOINT_DIR = os.environ.get("SM_CHECKPOINT_DIR", os.path.join(BASE_DIR, "checkpoints"))
MODEL_NAME = "xgboost-model"  # the SageMaker XGBoost container's model file name


def log(message: str) -> None:
    print(message, flush=True)


def metric_line(row: dict[str, float]) -> str:
    """The line SageMaker's XGBoost prints each round, as CloudWatch shows it (a tab is #011
    there), for MetricDefinitions such as `#011validation-auc:([0-9\\.]+)`."""
    return (
        f"[{row['round']}]#011train-logloss:{row['train-logloss']:.5f}"
        f"#011train-auc:{row['train-auc']:.5f}"
        f"#011validation-logloss:{row['validation-logloss']:.5f}"
        f"#011validation-auc:{row['validation-auc']:.5f}"
    )


def configure(argv: list[str]) -> Hyperparameters:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    # The toolkit also passes every hyperparameter as `--key value`; hyperparameters.json
    # is the source of truth (typed, validated), so those arguments are accepted and ignored.
    _, ignored = parser.parse_known_args(argv)
    if ignored:
        log(f"ignoring command-line arguments (read from hyperparameters.json): {ignored}")
    hp = load_hyperparameters(HYPERPARAMETERS_PATH)
    log(
        f"xgboost {xgb.__version__}: num_round={hp.num_round} eta={hp.eta} "
        f"max_depth={hp.max_depth} early_stop_metric=validation-{hp.early_stop_metric} "
        f"early_stopping_rounds={hp.early_stopping_rounds}"
    )
    return hp


# =============================================================================================
# Data
# =============================================================================================
def _without_rounds(hps: dict) -> dict:
    return {k: v for k, v in hps.items() if k != "num_round"}


def load_data(hp: Hyperparameters) -> dict:
    """The splits as DMatrix, the fitted preprocessing, and the checkpoint to resume, if any."""
    train = read_channel(TRAIN_DIR, "train")
    val = read_channel(VAL_DIR, "val")
    test = read_channel(TEST_DIR, "test") if os.path.isdir(TEST_DIR) else None
    fingerprint = data_fingerprint(train, val)
    resumed = load_checkpoint(CHECKPOINT_DIR)
    if resumed is not None:
        context = resumed[1].context
        # num_round may grow between runs (train on from a checkpoint); nothing else may.
        if _without_rounds(context.get("hyperparameters", {})) != _without_rounds(hp.to_dict()):
            reason = "it was written with other hyperparameters"
        elif context.get("data_fingerprint") != fingerprint:
            reason = "it was written for other training data"
        else:
            reason = ""
        if reason:
            log(f"WARNING: not resuming the checkpoint in {CHECKPOINT_DIR}: {reason}")
            clear_checkpoints(CHECKPOINT_DIR)
            resumed = None
    # A resumed run keeps the exact vocabulary and categories of its first start.
    state = resumed[1].context["preprocessor"] if resumed else fit_features(train, hp)
    frames = {"train": train, "val": val} | ({"test": test} if test is not None else {})
    matrices = {
        name: xgb.DMatrix(
            encode(frame, state),
            label=encode_labels(frame, state, name),
            feature_names=state["feature_names"],
        )
        for name, frame in frames.items()
    }
    log(
        f"rows train={len(train)} val={len(val)} test={len(test) if test is not None else 0} "
        f"features={len(state['feature_names'])} classes={state['labels']}"
    )
    return {
        "frames": frames,
        "matrices": matrices,
        "state": state,
        "fingerprint": fingerprint,
        "resumed": resumed,
    }


# =============================================================================================
# Boosting: rounds from the checkpoint (or 0) to num_round, or until early stopping
# =============================================================================================
def fit(hp: Hyperparameters, data: dict) -> tuple[xgb.Booster, Progress]:
    matrices = data["matrices"]
    if data["resumed"] is not None:
        booster, progress = data["resumed"]
        log(
            f"resumed from checkpoint of round {booster.num_boosted_rounds() - 1} "
            f"in {CHECKPOINT_DIR}"
        )
    else:
        booster = None
        stopping = Stopping(
            metric=hp.early_stop_metric,
            maximize=hp.early_stop_metric in MAXIMIZED_METRICS,
            patience=hp.early_stopping_rounds,
        )
        context = {
            "preprocessor": data["state"],
            "hyperparameters": hp.to_dict(),
            "data_fingerprint": data["fingerprint"],
        }
        progress = Progress(stopping=stopping, context=context)
    done = booster.num_boosted_rounds() if booster is not None else 0
    remaining = 0 if progress.stopping.stopped else hp.num_round - done
    if remaining > 0:
        booster = xgb.train(
            hp.booster_params(),
            matrices["train"],
            num_boost_round=remaining,
            evals=[(matrices["train"], "train"), (matrices["val"], "validation")],
            callbacks=[RoundCallback(progress, CHECKPOINT_DIR, log, metric_line)],
            xgb_model=booster,
            verbose_eval=False,
        )
    stopping = progress.stopping
    if stopping.stopped:
        log(
            f"early stopping: no validation-{stopping.metric} improvement for "
            f"{stopping.bad_rounds} rounds; best round {stopping.best_round}"
        )
    # Keep the trees up to the best validation round (what SageMaker's built-in serves).
    if 0 <= stopping.best_round < booster.num_boosted_rounds() - 1:
        booster = booster[: stopping.best_round + 1]
    return booster, progress


# =============================================================================================
# Export: model/ (xgboost-model, JSON model, preprocessing) and output/data/ (predictions,
# metrics)
# =============================================================================================
def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float | None]:
    both = len(np.unique(labels)) > 1
    predicted = (probs >= 0.5).astype(int)
    return {
        "auroc": float(roc_auc_score(labels, probs)) if both else None,
        "average_precision": float(average_precision_score(labels, probs)) if both else None,
        "loss": float(log_loss(labels, probs, labels=[0, 1])),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(labels, predicted)),
    }


def export(hp: Hyperparameters, data: dict, booster: xgb.Booster, progress: Progress) -> None:
    os.makedirs(MODEL_DIR, exist_ok=True)
    os.makedirs(OUTPUT_DATA_DIR, exist_ok=True)
    state = data["state"]
    with open(os.path.join(MODEL_DIR, MODEL_NAME), "wb") as handle:
        handle.write(booster.save_raw("ubj"))  # xgboost's default binary format
    booster.save_model(os.path.join(MODEL_DIR, f"{MODEL_NAME}.json"))
    with open(os.path.join(MODEL_DIR, "preprocessor.json"), "w") as handle:
        json.dump({**state, "hyperparameters": hp.to_dict()}, handle)

    final, rows = {}, []
    for name in ("val", "test"):
        if name not in data["matrices"]:
            continue
        matrix, frame = data["matrices"][name], data["frames"][name]
        probs = booster.predict(matrix)
        labels = matrix.get_label().astype(int)
        final[name] = classification_metrics(labels, probs)
        ids = frame[hp.id_name] if hp.id_name in frame else pd.Series(range(len(frame)))
        rows.append(
            pd.DataFrame(
                {
                    hp.id_name: ids.astype(str),
                    "split": name,
                    hp.label_name: [state["labels"][k] for k in labels],
                    f"prob_{state['labels'][1]}": probs,
                }
            )
        )
    pd.concat(rows).to_csv(os.path.join(OUTPUT_DATA_DIR, "predictions.csv"), index=False)
    summary = {
        **final,
        "best_round": progress.stopping.best_round,
        "rounds_run": len(progress.history),
        "stopped_early": progress.stopping.stopped,
        "early_stop_metric": f"validation-{progress.stopping.metric}",
        "history": progress.history,
        "feature_importance": booster.get_score(importance_type="gain"),
    }
    with open(os.path.join(OUTPUT_DATA_DIR, "metrics.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    # The kept round's line last: FinalMetricDataList (the last match of each regex) then
    # holds the metrics of the model that was saved, not of the rounds after it.
    best = progress.stopping.best_round
    if best >= 0:
        log("kept " + metric_line(progress.history[best]))
    if "test" in final and final["test"]["auroc"] is not None:
        log(f"test_loss={final['test']['loss']:.4f} test_auroc={final['test']['auroc']:.4f}")


# =============================================================================================
def main(argv: list[str]) -> None:
    hp = configure(argv)
    data = load_data(hp)
    booster, progress = fit(hp, data)
    export(hp, data, booster, progress)


def fail(exc: BaseException) -> None:
    """SageMaker reports the first 1024 characters of output/failure as FailureReason."""
    reason = f"{type(exc).__name__}: {exc}"
    traceback.print_exc(file=sys.stderr)
    try:
        os.makedirs(os.path.dirname(FAILURE_PATH), exist_ok=True)
        with open(FAILURE_PATH, "w") as handle:
            handle.write(reason)
    except OSError as write_error:
        print(f"could not write {FAILURE_PATH}: {write_error}", file=sys.stderr)
    print(reason, file=sys.stderr, flush=True)


if __name__ == "__main__":
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *_: f"WARNING {cat.__name__}: {msg}\n"
    try:
        main(sys.argv[1:])
    except Exception as error:  # every failure must reach output/failure
        fail(error)
        sys.exit(1)
