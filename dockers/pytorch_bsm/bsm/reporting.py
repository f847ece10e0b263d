"""Training reports in output/data: TensorBoard events, ROC / PR / loss-curve PNGs, metrics."""

from __future__ import annotations

import json
import math
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np

from bsm.metrics import classification_metrics

if TYPE_CHECKING:
    from bsm.data import Encoded

# What model_artifacts.pth records, to tell which stack produced (and can load) a model.
LIBRARIES = ("torch", "numpy", "pandas", "tokenizers", "onnx", "onnxruntime", "scikit-learn")


def library_versions() -> dict[str, str]:
    """Python and library versions of this process."""
    found = {"python": platform.python_version()}
    for package in LIBRARIES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with NaN/inf as None: JSON has no NaN (an undefined metric is null)."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in metrics.items()
    }


def score_curves(
    splits: dict[str, tuple[np.ndarray, np.ndarray]], classes: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Curve name → (binary labels, scores) for ROC/PR plots and TensorBoard PR curves.

    ``splits`` maps a split to (integer labels, probabilities (N, C)). Binary: one
    curve per split, of the positive class (index 1). Multi-class: one-vs-rest, one
    curve per split and class, named ``<split>_<class>``.
    """
    curves = {}
    for split, (labels, probs) in splits.items():
        if len(classes) == 2:
            curves[split] = (labels, probs[:, 1])
            continue
        for k, name in enumerate(classes):
            curves[f"{split}_{name}"] = ((labels == k).astype(np.int64), probs[:, k])
    return curves


def _pyplot():
    # Imported on first use (matplotlib is slow to import); Agg: no display in a container.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(out_dir: str, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """ROC and PR plots, one line per curve of :func:`score_curves` (name → (labels, scores))."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _pyplot()
    written = []
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5, 4))
        for split, (labels, scores) in curves.items():
            if len(np.unique(labels)) < 2:
                continue
            if kind == "roc":
                x, y, _ = roc_curve(labels, scores)
            else:
                y, x, _ = precision_recall_curve(labels, scores)
            ax.plot(x, y, label=split)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        else:
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
        ax.legend(loc="best")
        path = os.path.join(out_dir, f"{kind}_curve.png")
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


def plot_losses(out_dir: str, history: list[dict[str, float]]) -> str:
    """Train and validation loss per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="val")
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax.legend(loc="best")
    path = os.path.join(out_dir, "loss_curve.png")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_tensorboard(
    log_dir: str,
    history: list[dict[str, float]],
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Per-epoch scalars and one PR curve per :func:`score_curves` entry, as TensorBoard events."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=log_dir)
    try:
        for row in history:
            for key, value in row.items():
                if key != "epoch" and np.isfinite(value):
                    writer.add_scalar(key.replace("_", "/", 1), value, int(row["epoch"]))
        step = int(history[-1]["epoch"]) if history else 0
        for split, (labels, scores) in curves.items():
            writer.add_pr_curve(f"{split}/pr_curve", labels, scores, global_step=step)
    finally:
        writer.close()


def write_reports(
    out_dir: str,
    splits: dict[str, Encoded],
    probs: dict[str, np.ndarray],
    classes: list[str],
    history: list[dict[str, float]],
    run_summary: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """output/data (output.tar.gz): predictions, plots, TensorBoard events, metrics.json.

    ``probs`` holds each split's probabilities; ``run_summary`` the loop's facts
    (best epoch, early stopping, ONNX report) for metrics.json. Returns the metrics of
    each split.
    """
    import torch

    os.makedirs(out_dir, exist_ok=True)
    final = {name: classification_metrics(splits[name].labels, p) for name, p in probs.items()}
    results = {
        name: {
            "ids": splits[name].ids,
            "labels": torch.from_numpy(splits[name].labels),
            "probabilities": torch.from_numpy(p),
        }
        for name, p in probs.items()
    }
    torch.save(results, os.path.join(out_dir, "predict_results.pth"))
    curves = score_curves({name: (splits[name].labels, p) for name, p in probs.items()}, classes)
    plot_curves(out_dir, curves)
    plot_losses(out_dir, history)
    write_tensorboard(os.path.join(out_dir, "tensorboard_eval"), history, curves)
    summary = {
        **{name: finite(m) for name, m in final.items()},
        **run_summary,
        "history": [finite(h) for h in history],
    }
    with open(os.path.join(out_dir, "metrics.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    return final
