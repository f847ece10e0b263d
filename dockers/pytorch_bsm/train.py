"""Train a BSM (buyer–seller messaging) classifier in a SageMaker PyTorch training container.

Read top to bottom, like the job runs: config (paths, processes, hyperparameters)
→ data → model → loop (checkpoints, early stopping) → export (model dir, ONNX,
reports); ``main`` strings the sections together. Models, data, text and the
other building blocks live in the ``bsm/`` package beside this file.

SageMaker contract (the training toolkit's, and smsim's):
- channels train, val (required) and test (optional) under input/data/<channel>/,
  csv / tsv / parquet, one file or many part files;
- hyperparameters from input/config/hyperparameters.json (strings, SDK-JSON-encoded);
  the same values also arrive as ``--key value`` arguments, which are ignored;
- model/ becomes model.tar.gz, output/data/ becomes output.tar.gz;
- checkpoints/ is synced with CheckpointConfig.S3Uri; a restarted job resumes from it;
- on error the reason goes to output/failure (the job's FailureReason) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from bsm import distributed
from bsm.checkpointing import (
    clear_checkpoints,
    load_latest,
    save_checkpoint,
    set_rng_state,
    why_not_resume,
)
from bsm.data import Encoded, batches, data_fingerprint, encode_frame, fit_preprocessor
from bsm.early_stopping import EarlyStopping
from bsm.export import export_onnx
from bsm.hyperparameters import Hyperparameters, load_hyperparameters
from bsm.io import read_channel
from bsm.metrics import classification_metrics
from bsm.models import build_model
from bsm.reporting import (
    finite,
    library_versions,
    plot_curves,
    plot_losses,
    score_curves,
    write_tensorboard,
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

# Set by torchrun / the SageMaker PyTorch launcher when training on several processes.
WORLD = distributed.World(
    size=int(os.environ.get("WORLD_SIZE", "1")),
    rank=int(os.environ.get("RANK", "0")),
    local_rank=int(os.environ.get("LOCAL_RANK", "0")),
)


def log(message: str) -> None:
    if WORLD.is_main:
        print(message, flush=True)


def configure(argv: list[str]) -> Hyperparameters:
    """Hyperparameters from hyperparameters.json; process group; seeded, deterministic torch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    # The toolkit also passes every hyperparameter as `--key value`; hyperparameters.json
    # is the source of truth (typed, validated), so those arguments are accepted and ignored.
    _, ignored = parser.parse_known_args(argv)
    if ignored:
        log(f"ignoring command-line arguments (read from hyperparameters.json): {ignored}")
    hp = load_hyperparameters(HYPERPARAMETERS_PATH)
    distributed.setup(WORLD)
    # A few threads: the job shares the host with others; determinism needs a fixed count.
    cpus = os.cpu_count() or 1
    torch.set_num_threads(hp.num_threads or (1 if cpus <= 2 else min(4, cpus // 2)))
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(hp.seed)
    np.random.seed(hp.seed % 2**32)
    log(
        f"model_class={hp.model_class} max_epochs={hp.max_epochs} lr={hp.lr} "
        f"batch_size={hp.batch_size} world_size={WORLD.size}"
    )
    return hp


# =============================================================================================
# Data
# =============================================================================================
@dataclass
class Data:
    """The encoded splits, the fitted preprocessing and the checkpoint to resume, if any."""

    train: Encoded
    val: Encoded
    test: Encoded | None
    state: dict[str, Any]  # tokenizer, numeric statistics, categorical vocabularies, labels
    fingerprint: str
    checkpoint: dict[str, Any] | None


def load_data(hp: Hyperparameters) -> Data:
    """Read the channels; fit the preprocessing on train (or take the checkpoint's) and encode."""
    train_frame = read_channel(TRAIN_DIR, "train")
    val_frame = read_channel(VAL_DIR, "val")
    test_frame = read_channel(TEST_DIR, "test") if os.path.isdir(TEST_DIR) else None
    fingerprint = data_fingerprint(train_frame, val_frame)
    checkpoint = load_latest(CHECKPOINT_DIR)
    if checkpoint is not None:
        reason = why_not_resume(checkpoint, hp.model_dump(), fingerprint)
        if reason:
            log(
                f"WARNING: not resuming the checkpoint in {CHECKPOINT_DIR}: {reason}; "
                "training from scratch"
            )
            clear_checkpoints(CHECKPOINT_DIR)
            checkpoint = None
    # A resumed run keeps the exact tokenizer and statistics of its first start.
    state = checkpoint["preprocessor"] if checkpoint else fit_preprocessor(train_frame, hp)
    data = Data(
        train=encode_frame(train_frame, state, "train"),
        val=encode_frame(val_frame, state, "val"),
        test=encode_frame(test_frame, state, "test") if test_frame is not None else None,
        state=state,
        fingerprint=fingerprint,
        checkpoint=checkpoint,
    )
    log(
        f"rows train={len(data.train)} val={len(data.val)} "
        f"test={len(data.test) if data.test else 0} classes={state['labels']}"
    )
    present = np.unique(data.val.labels)
    if len(present) < 2:
        # AUROC needs both classes: val_auroc is NaN every epoch and never "improves".
        stuck = hp.early_stop_metric == "val_auroc" and hp.early_stop_patience > 0
        log(
            f"WARNING: the val channel holds a single class ({state['labels'][present[0]]!r}): "
            "val_auroc is undefined (nan)"
            + ("; set early_stop_metric to val_loss to early-stop on it" if stuck else "")
        )
    return data


# =============================================================================================
# Model, optimiser, schedule
# =============================================================================================
def make_optimizer(hp: Hyperparameters, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if hp.optimizer == "sgd":
        return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=hp.lr, weight_decay=hp.weight_decay)


def make_scheduler(
    hp: Hyperparameters, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler:
    if hp.lr_scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=hp.max_epochs, eta_min=hp.lr * 0.1
        )
    if hp.lr_scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, hp.max_epochs // 3))
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


# =============================================================================================
# Loop
# =============================================================================================
@dataclass
class Run:
    """Everything the loop changes; all of it goes into each epoch's checkpoint."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    stopping: EarlyStopping
    history: list[dict[str, float]] = field(default_factory=list)
    next_epoch: int = 1


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: torch.nn.Module,
    data: Encoded,
    hp: Hyperparameters,
    epoch: int,
) -> float:
    """One pass over this rank's shard of the training data; returns the mean loss."""
    model.train()
    total, seen = 0.0, 0
    order_seed = hp.seed * 1000 + epoch  # the batch order depends on seed and epoch only
    for ids, tab, cat, labels in batches(
        data, hp.batch_size, shuffle=True, seed=order_seed, rank=WORLD.rank, world=WORLD.size
    ):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(ids, tab, cat), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        seen += len(labels)
    return total / max(seen, 1)


@torch.no_grad()
def predict(model: torch.nn.Module, data: Encoded, batch_size: int) -> np.ndarray:
    """Class probabilities (N, C) of a split, in its row order."""
    model.eval()
    out = [
        torch.softmax(model(ids, tab, cat), dim=-1)
        for ids, tab, cat, _ in batches(data, max(batch_size, 256), shuffle=False)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 2), dtype=np.float32)


def start_run(hp: Hyperparameters, data: Data) -> Run:
    """A fresh model, or the model and loop state of the checkpoint being resumed."""
    model = build_model(hp, data.state)
    optimizer = make_optimizer(hp, model)
    run = Run(
        model=model,
        optimizer=optimizer,
        scheduler=make_scheduler(hp, optimizer),
        stopping=EarlyStopping(hp.early_stop_metric, hp.early_stop_patience),
    )
    checkpoint = data.checkpoint
    if checkpoint is not None:
        run.model.load_state_dict(checkpoint["model"])
        run.optimizer.load_state_dict(checkpoint["optimizer"])
        run.scheduler.load_state_dict(checkpoint["scheduler"])
        run.stopping.load_state_dict(checkpoint["progress"]["early_stopping"])
        run.history = checkpoint["progress"]["history"]
        run.next_epoch = checkpoint["epoch"] + 1
        set_rng_state(checkpoint["rng"])
        log(f"resumed from checkpoint of epoch {checkpoint['epoch']} in {CHECKPOINT_DIR}")
    return run


def fit(hp: Hyperparameters, data: Data, run: Run) -> None:
    """Epochs from run.next_epoch to max_epochs, or until early stopping; best weights kept."""
    weights = torch.tensor(hp.class_weights, dtype=torch.float32) if hp.class_weights else None
    criterion = torch.nn.CrossEntropyLoss(weight=weights)
    net = distributed.wrap(run.model, WORLD)  # DDP averages gradients across ranks
    for epoch in range(run.next_epoch, hp.max_epochs + 1):
        if run.stopping.stopped:
            break
        started = time.time()
        train_loss = train_one_epoch(net, run.optimizer, criterion, data.train, hp, epoch)
        run.scheduler.step()
        val = classification_metrics(data.val.labels, predict(run.model, data.val, hp.batch_size))
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val["loss"],
            "val_auroc": val["auroc"],
            "val_f1": val["f1"],
        }
        run.history.append(row)
        run.stopping.update(epoch, row, run.model)
        if run.stopping.stopped:
            log(
                f"early stopping after this epoch: no {hp.early_stop_metric} improvement "
                f"for {run.stopping.bad_epochs} epochs"
            )
        if WORLD.is_main:
            save_checkpoint(
                CHECKPOINT_DIR,
                epoch,
                {
                    "model": run.model.state_dict(),
                    "optimizer": run.optimizer.state_dict(),
                    "scheduler": run.scheduler.state_dict(),
                    "progress": {
                        "history": run.history,
                        "early_stopping": run.stopping.state_dict(),
                    },
                    "preprocessor": data.state,
                    "hyperparameters": hp.model_dump(),
                    "data_fingerprint": data.fingerprint,
                },
            )
        distributed.barrier(WORLD)
        # One key=value line per epoch, once its checkpoint is durable: what
        # MetricDefinitions regexes such as `val_loss=([0-9\.]+)` scrape.
        log(
            f"epoch={epoch} train_loss={train_loss:.4f} val_loss={row['val_loss']:.4f} "
            f"val_auroc={row['val_auroc']:.4f} val_f1={row['val_f1']:.4f} "
            f"epoch_seconds={time.time() - started:.2f}"
        )
    if run.stopping.best_model is not None:
        run.model.load_state_dict(run.stopping.best_model)


# =============================================================================================
# Export: model/ (weights, artifacts, ONNX) and output/data/ (predictions, metrics, plots)
# =============================================================================================
def export(hp: Hyperparameters, data: Data, run: Run) -> None:
    os.makedirs(MODEL_DIR, exist_ok=True)
    os.makedirs(OUTPUT_DATA_DIR, exist_ok=True)
    model, state = run.model.eval(), data.state
    splits = {"val": data.val} if data.test is None else {"val": data.val, "test": data.test}
    probs = {name: predict(model, split, hp.batch_size) for name, split in splits.items()}
    final = {name: classification_metrics(splits[name].labels, p) for name, p in probs.items()}

    torch.save(model.state_dict(), os.path.join(MODEL_DIR, "model.pth"))
    artifacts = {
        "model_class": hp.model_class,
        "hyperparameters": hp.model_dump(),
        "preprocessor": state,  # tokenizer, numeric statistics, categorical vocabularies
        "labels": state["labels"],  # class index -> label value
        "versions": library_versions(),
    }
    torch.save(artifacts, os.path.join(MODEL_DIR, "model_artifacts.pth"))
    # The same preprocessing as plain JSON, for consumers without torch (evaluate.py, serving).
    with open(os.path.join(MODEL_DIR, "preprocessor.json"), "w") as handle:
        json.dump({**state, "model_class": hp.model_class}, handle)
    onnx_report = None
    if hp.export_onnx:
        sample = tuple(t[:64] for t in data.val.tensors()[:3])
        onnx_report = export_onnx(
            model, sample, os.path.join(MODEL_DIR, "model.onnx"), hp.onnx_tolerance
        )
        log(f"onnx export ok: max_abs_diff={onnx_report['max_abs_diff']:.2e}")

    results = {
        name: {
            "ids": splits[name].ids,
            "labels": torch.from_numpy(splits[name].labels),
            "probabilities": torch.from_numpy(p),
        }
        for name, p in probs.items()
    }
    torch.save(results, os.path.join(OUTPUT_DATA_DIR, "predict_results.pth"))
    curves = score_curves(
        {name: (splits[name].labels, p) for name, p in probs.items()}, state["labels"]
    )
    plot_curves(OUTPUT_DATA_DIR, curves)
    plot_losses(OUTPUT_DATA_DIR, run.history)
    write_tensorboard(os.path.join(OUTPUT_DATA_DIR, "tensorboard_eval"), run.history, curves)
    summary = {
        **{name: finite(m) for name, m in final.items()},
        "best_epoch": run.stopping.best_epoch,
        "epochs_run": len(run.history),
        "stopped_early": run.stopping.stopped,
        "early_stop_metric": hp.early_stop_metric,
        "history": [finite(h) for h in run.history],
        "onnx": onnx_report,
    }
    with open(os.path.join(OUTPUT_DATA_DIR, "metrics.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    if "test" in final:
        log(
            f"test_loss={final['test']['loss']:.4f} test_auroc={final['test']['auroc']:.4f} "
            f"test_f1={final['test']['f1']:.4f}"
        )


# =============================================================================================
def main(argv: list[str]) -> None:
    hp = configure(argv)
    data = load_data(hp)
    run = start_run(hp, data)
    fit(hp, data, run)
    if WORLD.is_main:
        export(hp, data, run)
    distributed.teardown(WORLD)


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
