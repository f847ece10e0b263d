"""ModelEvaluation: score held-out data with a trained BSM model and report its metrics.

A SageMaker processing job (``python3 evaluate.py [--job_type testing]``), self-contained
on purpose: the SDK ships a processing script as a single file (``code=evaluate.py``), so
this imports nothing from ``bsm/``. It scores either model type the BSM pipeline trains:
- PyTorch (train.py): ``model.onnx`` in ONNX Runtime (what a deployment serves; no torch
  in the processing image), rows encoded exactly as train.py did from ``preprocessor.json``;
- XGBoost (dockers/xgboost_bsm): ``xgboost-model``, rows encoded as xgb_bsm/features.py
  does from its ``preprocessor.json`` (``"model_type": "xgboost"``).

Inputs processing/input/model (model.tar.gz as training uploaded it) and
processing/input/eval_data (the test split: csv / tsv / parquet, any depth). Outputs
processing/output/metrics/evaluation.json — a PropertyFile ``{"metrics": {"auroc":
{"value": …}, …}}`` read by ``Std:JsonGet`` conditions — and processing/output/eval/
(predictions.csv, roc_curve.png, pr_curve.png). Env: ID_FIELD (default "order_id"),
LABEL_FIELD (default "label"). On error the reason goes to output/message
(DescribeProcessingJob's ExitMessage) and to stderr, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tarfile
import tempfile
import traceback
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # imported when scoring: a job failing on its input fails fast
    from collections.abc import Callable

# --- Container paths (smsim sets SAGEMAKER_BASE_DIR for processing jobs too) ---
BASE_DIR = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
MODEL_INPUT_DIR = os.path.join(BASE_DIR, "processing", "input", "model")
EVAL_DATA_DIR = os.path.join(BASE_DIR, "processing", "input", "eval_data")
METRICS_DIR = os.path.join(BASE_DIR, "processing", "output", "metrics")
EVAL_OUTPUT_DIR = os.path.join(BASE_DIR, "processing", "output", "eval")
MESSAGE_PATH = os.path.join(BASE_DIR, "output", "message")

# --- Environment (contract: all optional) ---
ID_FIELD = os.environ.get("ID_FIELD", "order_id")
LABEL_FIELD = os.environ.get("LABEL_FIELD", "label")

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
# xgboost_train.py's text features: words, without the BSM turn markup.
WORD = re.compile(r"[a-z][a-z']*")
MARKUP = {"bom", "eom", "buyer", "seller"}
PAD_ID = 0
BATCH = 512
BINARY_STATISTICS = ("f1", "precision", "recall", "accuracy")


# --- Model -------------------------------------------------------------------------------
MODEL_FILES = ("model.onnx", "xgboost-model")  # PyTorch's ONNX export, XGBoost's model


def unpack_model(model_dir: str, work_dir: str) -> str:
    """The directory holding the model + preprocessor.json (model.tar.gz extracted)."""
    for root, _dirs, files in os.walk(model_dir):
        if "model.tar.gz" in files:
            with tarfile.open(os.path.join(root, "model.tar.gz")) as archive:
                # The "data" filter refuses absolute paths, links out of the tree, devices.
                archive.extractall(work_dir, filter="data")
            return work_dir
        if "preprocessor.json" in files and any(m in files for m in MODEL_FILES):
            return root  # an already extracted model dir
    raise FileNotFoundError(
        f"no model.tar.gz under {model_dir}; the model_input ProcessingInput should point "
        "at the training step's ModelArtifacts.S3ModelArtifacts"
    )


def load_model(directory: str) -> tuple[dict, Callable[[pd.DataFrame], np.ndarray]]:
    """The preprocessing state and a scorer: rows → class probabilities (N, C)."""
    if not os.path.exists(os.path.join(directory, "preprocessor.json")):
        raise FileNotFoundError("preprocessor.json missing from model.tar.gz")
    with open(os.path.join(directory, "preprocessor.json")) as handle:
        state = json.load(handle)
    if state.get("model_type") == "xgboost":
        return state, xgboost_scorer(directory, state)
    import onnxruntime as ort

    if not os.path.exists(os.path.join(directory, "model.onnx")):
        raise FileNotFoundError("model.onnx missing from model.tar.gz; train with export_onnx=true")
    session = ort.InferenceSession(
        os.path.join(directory, "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return state, lambda frame: predict(session, encode(frame, state))


def xgboost_scorer(directory: str, state: dict) -> Callable[[pd.DataFrame], np.ndarray]:
    import xgboost as xgb

    path = os.path.join(directory, "xgboost-model")
    if not os.path.exists(path):
        raise FileNotFoundError("xgboost-model missing from model.tar.gz")
    booster = xgb.Booster()
    with open(path, "rb") as handle:
        booster.load_model(bytearray(handle.read()))

    def score(frame: pd.DataFrame) -> np.ndarray:
        matrix = xgb.DMatrix(encode_xgboost(frame, state), feature_names=state["feature_names"])
        positive = booster.predict(matrix).astype(np.float64)
        return np.column_stack([1.0 - positive, positive])

    return score


# --- Data (the same encoding as bsm/data.py) -------------------------------------------
def read_eval_data(directory: str) -> pd.DataFrame:
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [
            os.path.join(root, n)
            for n in sorted(names)
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in SUFFIXES
        ]
    if not files:
        raise FileNotFoundError(f"no .csv, .tsv or .parquet file under {directory}")
    readers = {"parquet": pd.read_parquet, "csv": pd.read_csv}
    readers["tsv"] = lambda path: pd.read_csv(path, sep="\t")
    frames = [readers[SUFFIXES[os.path.splitext(p)[1].lower()]](p) for p in files]
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise ValueError(f"{len(files)} file(s) under {directory} but no data rows to evaluate")
    return frame


def label_key(value) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def read_labels(frame: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """The LABEL_FIELD column as class indices of the model's label order."""
    if LABEL_FIELD not in frame.columns:
        raise ValueError(
            f"label column {LABEL_FIELD!r} (environment variable LABEL_FIELD) not in the "
            f"evaluation data; columns: {', '.join(map(str, frame.columns))}"
        )
    holes = frame[LABEL_FIELD].isna().to_numpy()
    if holes.any():
        raise ValueError(
            f"{int(holes.sum())} evaluation row(s) without a value in {LABEL_FIELD!r} "
            f"(first at row {int(holes.argmax())}); drop or label them"
        )
    index = {v: i for i, v in enumerate(classes)}
    raw = [label_key(v) for v in frame[LABEL_FIELD]]
    unknown = sorted({v for v in raw if v not in index})
    if unknown:
        raise ValueError(
            f"label value(s) {unknown[:10]} in {LABEL_FIELD!r} were not seen in training "
            f"(known: {classes})"
        )
    return np.array([index[v] for v in raw], dtype=np.int64)


def require_columns(frame: pd.DataFrame, state: dict) -> None:
    wanted = [*([state["text_name"]] if state["text_name"] else []), *state["numeric"]]
    missing = [c for c in [*wanted, *state["categorical"]] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"evaluation data lacks column(s) {missing} the model was trained on; columns "
            f"present: {', '.join(map(str, frame.columns))}. Point the eval_data "
            "ProcessingInput at data with the training columns"
        )


def encode(frame: pd.DataFrame, state: dict) -> dict[str, np.ndarray]:
    """input_ids / tab / cat arrays exactly as train.py built them."""
    n = len(frame)
    require_columns(frame, state)
    if state["text_name"]:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(state["tokenizer"])
        tokenizer.enable_truncation(max_length=state["max_sen_len"])
        tokenizer.enable_padding(length=state["max_sen_len"], pad_id=PAD_ID, pad_token="[PAD]")
        texts = ["" if pd.isna(v) else str(v) for v in frame[state["text_name"]]]
        input_ids = np.array([e.ids for e in tokenizer.encode_batch(texts)], dtype=np.int64)
        input_ids = input_ids.reshape(n, state["max_sen_len"])
    else:
        input_ids = np.zeros((n, 1), dtype=np.int64)
    tab = np.zeros((n, len(state["numeric"])), dtype=np.float32)
    for j, (column, s) in enumerate(state["numeric"].items()):
        values = pd.to_numeric(frame[column], errors="coerce").fillna(s["fill"])
        tab[:, j] = ((values - s["mean"]) / s["std"]).to_numpy(dtype=np.float32)
    cat = np.zeros((n, len(state["categorical"])), dtype=np.int64)
    for j, (column, vocab) in enumerate(state["categorical"].items()):
        index = {v: i for i, v in enumerate(vocab)}
        cat[:, j] = [0 if pd.isna(v) else index.get(str(v), 0) for v in frame[column]]
    return {"input_ids": input_ids, "tab": tab, "cat": cat}


def _words(text) -> list[str]:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [w for w in WORD.findall(str(text).lower()) if w not in MARKUP]


def encode_xgboost(frame: pd.DataFrame, state: dict) -> np.ndarray:
    """The feature matrix exactly as xgboost_train.py built it (xgb_bsm/features.py)."""
    require_columns(frame, state)
    parts = [
        pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float32)[:, None]
        for c in state["numeric"]
    ]
    for column, values in state["categorical"].items():
        index = {v: i for i, v in enumerate(values)}
        onehot = np.zeros((len(frame), len(values)), dtype=np.float32)
        for row, value in enumerate(frame[column]):
            j = None if pd.isna(value) else index.get(str(value))
            if j is not None:
                onehot[row, j] = 1.0
        parts.append(onehot)
    if state["text_name"]:
        index = {w: i for i, w in enumerate(state["vocabulary"])}
        counts = np.zeros((len(frame), 1 + len(index)), dtype=np.float32)
        for row, text in enumerate(frame[state["text_name"]]):
            tokens = _words(text)
            counts[row, 0] = len(tokens)
            for w in tokens:
                if w in index:
                    counts[row, 1 + index[w]] += 1.0
        parts.append(counts)
    return np.hstack(parts).astype(np.float32)


def predict(session, features: dict[str, np.ndarray]) -> np.ndarray:  # noqa: ANN001
    wanted = [i.name for i in session.get_inputs()]
    n = len(next(iter(features.values())))
    out = [
        session.run(None, {k: features[k][start : start + BATCH] for k in wanted})[0]
        for start in range(0, n, BATCH)
    ]
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


# --- Metrics and reports ------------------------------------------------------------------
def compute_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    preds = probs.argmax(axis=1)
    binary = probs.shape[1] == 2
    average = "binary" if binary else "macro"
    both = len(np.unique(labels)) > 1
    auroc = ap = math.nan  # undefined with a single class; AP is binary-only
    if both and binary:
        auroc = skm.roc_auc_score(labels, probs[:, 1])
        ap = skm.average_precision_score(labels, probs[:, 1])
    elif both:
        auroc = skm.roc_auc_score(
            labels, probs, multi_class="ovr", labels=list(range(probs.shape[1]))
        )
    scores = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
    return {
        "auroc": float(auroc),
        "average_precision": float(ap),
        **{
            name: float(score(labels, preds, average=average, zero_division=0))
            for name, score in scores.items()
        },
        "accuracy": float(skm.accuracy_score(labels, preds)),
        "log_loss": float(skm.log_loss(labels, probs, labels=list(range(probs.shape[1])))),
    }


def plot(labels: np.ndarray, probs: np.ndarray, classes: list[str], out_dir: str) -> list[str]:
    """ROC and PR curves: of the positive class (binary), one-vs-rest per class (multi-class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(classes) == 2:
        curves = {None: (labels, probs[:, 1])}
    else:
        curves = {
            f"class {c}": ((labels == k).astype(int), probs[:, k]) for k, c in enumerate(classes)
        }
    kinds = {  # kind -> (x, y) of a curve, axis labels and title
        "roc": (lambda t, s: roc_curve(t, s)[:2], "false positive rate", "true positive rate"),
        "pr": (lambda t, s: precision_recall_curve(t, s)[1::-1], "recall", "precision"),
    }
    written = []
    for kind, (xy, xlabel, ylabel) in kinds.items():
        fig, ax = plt.subplots(figsize=(5, 4))
        for name, (truth, scores) in curves.items():
            if len(np.unique(truth)) > 1:  # undefined for a class absent from (alone in) data
                ax.plot(*xy(truth, scores), label=name)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        title = "ROC (eval)" if kind == "roc" else "Precision-recall (eval)"
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        if len(curves) > 1:
            ax.legend(loc="best")
        path = os.path.join(out_dir, f"{kind}_curve.png")
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


def write_predictions(frame: pd.DataFrame, probs: np.ndarray, classes: list[str]) -> None:
    """eval/predictions.csv: id, true label, one probability per class, predicted label."""
    os.makedirs(EVAL_OUTPUT_DIR, exist_ok=True)
    ids = frame[ID_FIELD].astype(str) if ID_FIELD in frame.columns else pd.Series(range(len(frame)))
    if ID_FIELD not in frame.columns:
        print(f"id column {ID_FIELD!r} (ID_FIELD) not found; using row numbers", flush=True)
    predictions = pd.DataFrame({ID_FIELD: ids, LABEL_FIELD: frame[LABEL_FIELD]})
    for j, name in enumerate(classes):
        predictions[f"prob_{name}"] = probs[:, j]
    predictions["predicted"] = [classes[k] for k in probs.argmax(axis=1)]
    predictions.to_csv(os.path.join(EVAL_OUTPUT_DIR, "predictions.csv"), index=False)


def json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a trained BSM model.")
    parser.add_argument("--job_type", default="testing", help="recorded in evaluation.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bsm-eval-") as work:
        state, score = load_model(unpack_model(MODEL_INPUT_DIR, work))
        frame = read_eval_data(EVAL_DATA_DIR)
        labels = read_labels(frame, state["labels"])
        probs = score(frame)
    model_name = state.get("model_class") or state.get("model_type", "model")
    print(f"scored {len(frame)} rows with {model_name}", flush=True)

    metrics = compute_metrics(labels, probs)
    if len(np.unique(labels)) < 2:
        # AUROC needs both classes; JSON gets null, which a ConditionStep reports as such.
        print(
            f"WARNING: the evaluation data holds a single class ({state['labels'][labels[0]]!r} "
            f"in {LABEL_FIELD!r}): auroc and average_precision are undefined (null)",
            flush=True,
        )
    report = {
        # Std:JsonGet paths such as metrics.auroc.value read this block.
        "metrics": {k: {"value": json_number(v)} for k, v in metrics.items()},
        "job_type": args.job_type,
        "num_rows": len(frame),
        "model_class": model_name,
        "label_field": LABEL_FIELD,
        "classes": state["labels"],
    }
    if probs.shape[1] == 2:
        # The SageMaker model-quality statistics layout, for ModelMetrics in the registry.
        report["binary_classification_metrics"] = {
            name: {"value": json_number(metrics[key]), "standard_deviation": "NaN"}
            for name, key in [("auc", "auroc"), *((k, k) for k in BINARY_STATISTICS)]
        }
    os.makedirs(METRICS_DIR, exist_ok=True)
    with open(os.path.join(METRICS_DIR, "evaluation.json"), "w") as handle:
        json.dump(report, handle, indent=2)

    write_predictions(frame, probs, state["labels"])
    if len(np.unique(labels)) > 1:
        plot(labels, probs, state["labels"], EVAL_OUTPUT_DIR)
    shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    print(f"eval {shown}", flush=True)


def fail(exc: BaseException) -> None:
    """Processing jobs report the first 1 KB of output/message as ExitMessage."""
    traceback.print_exc(file=sys.stderr)
    reason = f"{type(exc).__name__}: {exc}"
    print(reason, file=sys.stderr, flush=True)
    try:
        os.makedirs(os.path.dirname(MESSAGE_PATH), exist_ok=True)
        with open(MESSAGE_PATH, "w", encoding="utf-8") as handle:
            handle.write(reason)
    except OSError as write_error:
        print(f"could not write {MESSAGE_PATH}: {write_error}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as error:  # every failure must be reported
        fail(error)
        sys.exit(1)
