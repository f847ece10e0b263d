"""Train a BSM (buyer–seller messaging) classifier in a SageMaker PyTorch training container.

Read top to bottom: paths → hyperparameters → data → model → loop (with
checkpoints and early stopping) → artifacts (model dir, ONNX, reports).

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
import hashlib
import json
import math
import os
import platform
import sys
import time
import traceback
import warnings

import numpy as np
import pandas as pd
import torch
from bsm import distributed
from bsm.checkpointing import clear_checkpoints, load_latest, save_checkpoint, set_rng_state
from bsm.data import Encoded, batches, encode_frame, fit_preprocessor
from bsm.export import export_onnx
from bsm.hyperparameters import Hyperparameters, parse_hyperparameters
from bsm.io import read_channel
from bsm.metrics import classification_metrics
from bsm.models import build_model
from bsm.reporting import plot_curves, plot_losses, write_tensorboard

# --- Container paths (SAGEMAKER_BASE_DIR is the training toolkit's override of /opt/ml) ---
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

HIGHER_IS_BETTER = {"val_auroc": True, "val_f1": True, "val_loss": False}


def log(message: str) -> None:
    if WORLD.is_main:
        print(message, flush=True)


# --- Configuration ----------------------------------------------------------------------
def load_hyperparameters(path: str) -> Hyperparameters:
    raw = {}
    if os.path.exists(path):
        with open(path) as handle:
            raw = json.load(handle)
    return parse_hyperparameters(raw)


def configure_torch(hp: Hyperparameters) -> None:
    # A few threads: the job shares the host with others; determinism needs a fixed count.
    cpus = os.cpu_count() or 1
    threads = hp.num_threads or (1 if cpus <= 2 else min(4, cpus // 2))
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(hp.seed)
    np.random.seed(hp.seed % 2**32)


# --- The loop ---------------------------------------------------------------------------
def make_optimizer(hp: Hyperparameters, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if hp.optimizer == "sgd":
        return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=hp.lr, weight_decay=hp.weight_decay)


def make_scheduler(hp: Hyperparameters, optimizer: torch.optim.Optimizer):
    if hp.lr_scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=hp.max_epochs, eta_min=hp.lr * 0.1
        )
    if hp.lr_scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, hp.max_epochs // 3))
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def train_one_epoch(model, optimizer, criterion, data: Encoded, hp: Hyperparameters, epoch: int):
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


def improved(metric: str, value: float, best: float | None) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if HIGHER_IS_BETTER[metric] else value < best


# --- Main ---------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    # The toolkit also passes every hyperparameter as `--key value`; hyperparameters.json
    # is the source of truth (typed, validated), so those arguments are accepted and ignored.
    _, ignored = parser.parse_known_args(argv)
    if ignored:
        log(f"ignoring command-line arguments (read from hyperparameters.json): {ignored}")

    hp = load_hyperparameters(HYPERPARAMETERS_PATH)
    distributed.setup(WORLD)
    configure_torch(hp)
    log(
        f"model_class={hp.model_class} max_epochs={hp.max_epochs} lr={hp.lr} "
        f"batch_size={hp.batch_size} world_size={WORLD.size}"
    )

    # Data.
    train_frame = read_channel(TRAIN_DIR, "train")
    val_frame = read_channel(VAL_DIR, "val")
    test_frame = read_channel(TEST_DIR, "test") if os.path.isdir(TEST_DIR) else None
    fingerprint = data_fingerprint(train_frame, val_frame)
    checkpoint = load_latest(CHECKPOINT_DIR)
    if checkpoint is not None and not resumable(checkpoint, hp, fingerprint):
        clear_checkpoints(CHECKPOINT_DIR)
        checkpoint = None
    if checkpoint is not None:
        state = checkpoint["preprocessor"]  # the exact tokenizer and statistics of the first run
    else:
        state = fit_preprocessor(train_frame, hp)
    train = encode_frame(train_frame, state, "train")
    val = encode_frame(val_frame, state, "val")
    test = encode_frame(test_frame, state, "test") if test_frame is not None else None
    log(
        f"rows train={len(train)} val={len(val)} test={len(test) if test else 0} "
        f"classes={state['labels']}"
    )

    # Model, optimiser, schedule.
    model = build_model(hp, state)
    optimizer = make_optimizer(hp, model)
    scheduler = make_scheduler(hp, optimizer)
    weights = torch.tensor(hp.class_weights, dtype=torch.float32) if hp.class_weights else None
    criterion = torch.nn.CrossEntropyLoss(weight=weights)
    progress = {
        "history": [],
        "best_value": None,
        "best_epoch": 0,
        "best_model": None,
        "bad_epochs": 0,
        "stopped_early": False,
    }
    start_epoch = 1
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        progress = checkpoint["progress"]
        start_epoch = checkpoint["epoch"] + 1
        set_rng_state(checkpoint["rng"])
        log(f"resumed from checkpoint of epoch {checkpoint['epoch']} in {CHECKPOINT_DIR}")
    net = distributed.wrap(model, WORLD)

    # Loop.
    for epoch in range(start_epoch, hp.max_epochs + 1):
        if progress["stopped_early"]:
            break
        started = time.time()
        train_loss = train_one_epoch(net, optimizer, criterion, train, hp, epoch)
        scheduler.step()
        val_metrics = classification_metrics(val.labels, predict(model, val, hp.batch_size))
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_metrics["loss"],
            "val_auroc": val_metrics["auroc"],
            "val_f1": val_metrics["f1"],
        }
        progress["history"].append(row)
        metric = hp.early_stop_metric
        if improved(metric, row[metric], progress["best_value"]):
            progress.update(
                best_value=row[metric],
                best_epoch=epoch,
                bad_epochs=0,
                best_model={k: v.clone() for k, v in model.state_dict().items()},
            )
        else:
            progress["bad_epochs"] += 1
            if hp.early_stop_patience and progress["bad_epochs"] >= hp.early_stop_patience:
                progress["stopped_early"] = True
                log(
                    f"early stopping after this epoch: no {metric} improvement for "
                    f"{progress['bad_epochs']} epochs"
                )
        if WORLD.is_main:
            save_checkpoint(
                CHECKPOINT_DIR,
                epoch,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "progress": progress,
                    "preprocessor": state,
                    "hyperparameters": hp.model_dump(),
                    "data_fingerprint": fingerprint,
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

    # Artifacts (rank 0 only).
    if progress["best_model"] is not None:
        model.load_state_dict(progress["best_model"])
    if WORLD.is_main:
        write_artifacts(hp, model, state, progress, val, test)
    distributed.teardown(WORLD)


def data_fingerprint(*frames: pd.DataFrame) -> str:
    """A digest of the training data, to tell a restart from a reuse of the checkpoint dir."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def resumable(checkpoint: dict, hp: Hyperparameters, fingerprint: str) -> bool:
    """Resume only the same run: same hyperparameters, same train and val data.

    SageMaker restores CheckpointConfig.S3Uri into the checkpoint dir on every
    start, so a URI shared between jobs (a pipeline re-executed, a new
    hyperparameter) brings in a checkpoint of another run: that one is set
    aside, loudly, and training starts from scratch.
    """
    saved = checkpoint.get("hyperparameters", {})
    current = hp.model_dump()
    diff = sorted(k for k in current if saved.get(k) != current[k])
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in diff)
        log(
            f"WARNING: not resuming the checkpoint in {CHECKPOINT_DIR}: other "
            f"hyperparameters ({changes}); training from scratch"
        )
        return False
    if checkpoint.get("data_fingerprint") != fingerprint:
        log(
            f"WARNING: not resuming the checkpoint in {CHECKPOINT_DIR}: it was trained on "
            "other train/val data; training from scratch"
        )
        return False
    return True


def write_artifacts(hp, model, state, progress, val: Encoded, test: Encoded | None) -> None:
    """model/ (weights, artifacts, ONNX) and output/data/ (predictions, metrics, plots)."""
    os.makedirs(MODEL_DIR, exist_ok=True)
    os.makedirs(OUTPUT_DATA_DIR, exist_ok=True)
    model.eval()
    splits = {"val": val} if test is None else {"val": val, "test": test}
    probs = {name: predict(model, data, hp.batch_size) for name, data in splits.items()}
    final = {name: classification_metrics(splits[name].labels, p) for name, p in probs.items()}

    torch.save(model.state_dict(), os.path.join(MODEL_DIR, "model.pth"))
    artifacts = {
        "model_class": hp.model_class,
        "hyperparameters": hp.model_dump(),
        "preprocessor": state,
        "labels": state["labels"],
        "versions": {
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "tokenizers": _version("tokenizers"),
            "onnx": _version("onnx"),
            "onnxruntime": _version("onnxruntime"),
        },
    }
    torch.save(artifacts, os.path.join(MODEL_DIR, "model_artifacts.pth"))
    # The same preprocessing as plain JSON, for consumers without torch (evaluate.py, serving).
    with open(os.path.join(MODEL_DIR, "preprocessor.json"), "w") as handle:
        json.dump({**state, "model_class": hp.model_class}, handle)
    onnx_report = None
    if hp.export_onnx:
        sample = tuple(t[:64] for t in val.tensors()[:3])
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
    positive = {name: (splits[name].labels, p[:, -1]) for name, p in probs.items()}
    if probs["val"].shape[1] == 2:
        plot_curves(OUTPUT_DATA_DIR, positive)
        write_tensorboard(
            os.path.join(OUTPUT_DATA_DIR, "tensorboard_eval"), progress["history"], positive
        )
    else:
        write_tensorboard(
            os.path.join(OUTPUT_DATA_DIR, "tensorboard_eval"), progress["history"], {}
        )
    plot_losses(OUTPUT_DATA_DIR, progress["history"])
    summary = {
        **{name: _finite(m) for name, m in final.items()},
        "best_epoch": progress["best_epoch"],
        "epochs_run": len(progress["history"]),
        "stopped_early": progress["stopped_early"],
        "early_stop_metric": hp.early_stop_metric,
        "history": [_finite(h) for h in progress["history"]],
        "onnx": onnx_report,
    }
    with open(os.path.join(OUTPUT_DATA_DIR, "metrics.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    if "test" in final:
        log(
            f"test_loss={final['test']['loss']:.4f} test_auroc={final['test']['auroc']:.4f} "
            f"test_f1={final['test']['f1']:.4f}"
        )


def _finite(metrics: dict) -> dict:
    # JSON has no NaN: undefined metrics are null.
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in metrics.items()
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


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
