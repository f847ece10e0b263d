"""Train a BSM (buyer–seller messaging) classifier in a SageMaker PyTorch training container.

Read top to bottom, like the job runs: config (paths, processes, hyperparameters)
→ data → loop (bsm/loop.py: epochs, checkpoints, early stopping) → export (model dir
and ONNX in bsm/export.py, reports in bsm/reporting.py); ``main`` strings the sections
together. Every container path, environment read and argument is here, in the entry
point; models, data, text and the other building blocks live in ``bsm/`` beside it.

SageMaker contract (the training toolkit's, and smsim's):
- channels train, val (required) and test (optional) under input/data/<channel>/,
  csv / tsv / parquet, one file or many part files;
- hyperparameters from input/config/hyperparameters.json (strings, SDK-JSON-encoded);
  the same values also arrive as ``--key value`` arguments, which are ignored;
- model/ becomes model.tar.gz, output/data/ becomes output.tar.gz;
- checkpoints/ is synced with CheckpointConfig.S3Uri; a restarted job resumes from it;
- on error the reason goes to output/failure (the job's FailureReason) and the exit code is 1;
- started by torchrun (``distribution={"torch_distributed": {"enabled": True}}``: WORLD_SIZE,
  RANK, LOCAL_RANK set) it trains with DistributedDataParallel over gloo, one share of the
  data per rank (bsm/loop.py); rank 0 alone writes model/, output/data/ and checkpoints/.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from bsm import distributed
from bsm.checkpointing import clear_checkpoints, load_latest, why_not_resume
from bsm.data import (
    DataError,
    TrainingData,
    data_fingerprint,
    encode_frame,
    fit_preprocessor,
)
from bsm.export import write_model_dir
from bsm.hyperparameters import Hyperparameters, load_hyperparameters
from bsm.io import read_channel
from bsm.loop import Run, fit, predict, start_run
from bsm.reporting import write_reports

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
log = WORLD.log  # once per job, not once per rank


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
def load_data(hp: Hyperparameters) -> TrainingData:
    """Read the channels; fit the preprocessing on train (or take the checkpoint's) and encode."""
    train_frame = read_channel(TRAIN_DIR, "train")
    val_frame = read_channel(VAL_DIR, "val")
    test_frame = read_channel(TEST_DIR, "test") if os.path.isdir(TEST_DIR) else None
    fingerprint = data_fingerprint(train_frame, val_frame)
    check_same_data(fingerprint)
    # Rank 0 decides what to resume and fits the tokenizer; every rank gets its choice.
    checkpoint, state = distributed.on_main(
        lambda: resume_or_fit(hp, train_frame, fingerprint), WORLD
    )
    data = TrainingData(
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


def check_same_data(fingerprint: str) -> None:
    """Every rank must read the same train and val rows: the ranks split them themselves
    (DistributedSampler), and DDP hangs when ranks take unequal numbers of steps."""
    fingerprints = distributed.gather_objects(fingerprint, WORLD)
    if len(set(fingerprints)) > 1:
        differ = [rank for rank, f in enumerate(fingerprints) if f != fingerprints[0]]
        raise DataError(
            f"the train/val channels of rank(s) {differ} hold other rows than rank 0's: "
            "train.py shards the data across processes itself, so every host needs all of "
            "it; set S3DataDistributionType to FullyReplicated (not ShardedByS3Key) on the "
            "train and val channels"
        )


def resume_or_fit(
    hp: Hyperparameters, train_frame: pd.DataFrame, fingerprint: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The checkpoint of this run in CHECKPOINT_DIR (if any) and the preprocessing state."""
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
    return checkpoint, state


# =============================================================================================
# Export: model/ (weights, artifacts, ONNX) and output/data/ (predictions, metrics, plots)
# =============================================================================================
def export(hp: Hyperparameters, data: TrainingData, run: Run) -> None:
    """Rank 0 only: the model files and reports are written once per job."""
    model = run.model.eval()
    sample = tuple(t[:64] for t in data.val.tensors()[:3])
    onnx_report = write_model_dir(MODEL_DIR, hp, data.state, model, sample)
    if onnx_report is not None:
        log(f"onnx export ok: max_abs_diff={onnx_report['max_abs_diff']:.2e}")
    splits = {"val": data.val} if data.test is None else {"val": data.val, "test": data.test}
    probs = {name: predict(model, split, hp.batch_size) for name, split in splits.items()}
    run_summary = {
        "best_epoch": run.stopping.best_epoch,
        "epochs_run": len(run.history),
        "stopped_early": run.stopping.stopped,
        "early_stop_metric": hp.early_stop_metric,
        "onnx": onnx_report,
    }
    final = write_reports(
        OUTPUT_DATA_DIR, splits, probs, data.state["labels"], run.history, run_summary
    )
    if "test" in final:
        log(
            f"test_loss={final['test']['loss']:.4f} test_auroc={final['test']['auroc']:.4f} "
            f"test_f1={final['test']['f1']:.4f}"
        )


# =============================================================================================
def main(argv: list[str]) -> None:
    hp = configure(argv)
    data = load_data(hp)
    run = start_run(hp, data, WORLD)
    fit(hp, data, run, CHECKPOINT_DIR, WORLD)
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
