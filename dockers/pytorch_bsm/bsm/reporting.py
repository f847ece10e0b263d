"""Training reports in output/data: TensorBoard events and ROC / PR / loss-curve PNGs."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    # Imported on first use (matplotlib is slow to import); Agg: no display in a container.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(out_dir: str, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """ROC and PR plots, one line per split; ``curves`` maps split → (labels, P(positive))."""
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
    """Per-epoch scalars and one PR curve per split as TensorBoard event files."""
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
