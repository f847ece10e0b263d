"""Classification metrics: AUROC, average precision, F1, accuracy, log loss."""

from __future__ import annotations

import numpy as np


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Metrics of probabilities ``probs`` (N, C) against integer ``labels`` (N,).

    Binary: AUROC and average precision of the positive class (index 1), F1 at
    0.5. Multi-class: one-vs-rest macro AUROC and macro F1 of the arg-max.
    A metric that is undefined (a single class present) is NaN.
    """
    # Imported here: scikit-learn takes ~1 s to import, and a job that fails on
    # its input should fail fast.
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    preds = probs.argmax(axis=1)
    present = np.unique(labels)
    out: dict[str, float] = {
        "accuracy": float(accuracy_score(labels, preds)) if len(labels) else float("nan"),
        "loss": _log_loss(labels, probs),
    }
    binary = probs.shape[1] == 2
    if len(present) < 2:
        out.update(auroc=float("nan"), average_precision=float("nan"))
    elif binary:
        out["auroc"] = float(roc_auc_score(labels, probs[:, 1]))
        out["average_precision"] = float(average_precision_score(labels, probs[:, 1]))
    else:
        out["auroc"] = float(
            roc_auc_score(
                labels, probs, multi_class="ovr", average="macro", labels=range(probs.shape[1])
            )
        )
        out["average_precision"] = float("nan")
    if binary:
        out["f1"] = float(f1_score(labels, preds, zero_division=0))
    else:
        out["f1"] = float(f1_score(labels, preds, average="macro", zero_division=0))
    return out


def _log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    if not len(labels):
        return float("nan")
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
