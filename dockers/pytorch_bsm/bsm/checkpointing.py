"""Checkpoints: everything needed to continue a run bit-for-bit after a restart.

SageMaker managed spot training (and any restart with CheckpointConfig) copies
the checkpoint S3 prefix back into the checkpoint dir before the job starts
again; the script then resumes from the newest checkpoint. One file per epoch,
written atomically (temporary file + rename) so a kill mid-write never leaves
a truncated "latest" checkpoint; only the newest ``keep`` are kept.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from typing import Any

import numpy as np
import torch

_NAME = re.compile(r"^checkpoint-epoch-(\d+)\.pt$")
FORMAT_VERSION = 2  # 2: early-stopping state under progress.early_stopping


def rng_state() -> dict[str, Any]:
    """The global RNG states (torch, numpy, python) as weights_only-loadable values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(_tuples(state["python"]))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(directory: str, epoch: int, payload: dict[str, Any], keep: int = 2) -> str:
    """Write ``payload`` (+ epoch, RNG states) as the checkpoint of ``epoch``; prune old ones."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"checkpoint-epoch-{epoch:04d}.pt")
    tmp = path + ".tmp"
    torch.save({**payload, "epoch": epoch, "rng": rng_state(), "format": FORMAT_VERSION}, tmp)
    os.replace(tmp, path)
    for old in _checkpoints(directory)[:-keep]:
        os.remove(old[1])
    return path


def _checkpoints(directory: str) -> list[tuple[int, str]]:
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name)))
    return sorted(found)


def clear_checkpoints(directory: str) -> None:
    """Remove this script's checkpoint files (only those) from ``directory``."""
    for _epoch, path in _checkpoints(directory):
        os.remove(path)


def load_latest(directory: str) -> dict[str, Any] | None:
    """The newest readable checkpoint in ``directory``, or None when there is none."""
    for _epoch, path in reversed(_checkpoints(directory)):
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a corrupt file: fall back to the previous epoch
            warnings.warn(f"skipping unreadable checkpoint {path}: {exc}", stacklevel=2)
            continue
        if checkpoint.get("format") == FORMAT_VERSION:
            return checkpoint
        warnings.warn(f"skipping checkpoint {path} of another format", stacklevel=2)
    return None


def why_not_resume(
    checkpoint: dict[str, Any], hyperparameters: dict[str, Any], fingerprint: str
) -> str | None:
    """None when ``checkpoint`` belongs to this run; otherwise why it must not be resumed.

    SageMaker restores CheckpointConfig.S3Uri into the checkpoint dir on every
    start, so a URI shared between jobs (a pipeline re-executed, a new
    hyperparameter) brings in a checkpoint of another run: only the same
    hyperparameters on the same train/val data may continue it.
    """
    saved = checkpoint.get("hyperparameters", {})
    diff = sorted(k for k in hyperparameters if saved.get(k) != hyperparameters[k])
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {hyperparameters[k]!r}" for k in diff)
        return f"other hyperparameters ({changes})"
    if checkpoint.get("data_fingerprint") != fingerprint:
        return "it was trained on other train/val data"
    return None
