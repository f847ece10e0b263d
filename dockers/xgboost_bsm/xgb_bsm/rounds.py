"""What happens after each boosting round: early stopping, a checkpoint, the metric line.

One xgboost callback does all three, in that order, so a restarted job resumes with
exactly the early-stopping state it had (xgboost's own EarlyStopping callback starts
counting afresh on resume) and a metric line is printed only once its round is durable.

Checkpoints follow the SageMaker XGBoost container's naming, ``xgboost-checkpoint.<round>``
(the model as JSON) in CheckpointConfig.LocalPath, plus ``progress.json`` (round, early
stopping, history, preprocessing, hyperparameters, data fingerprint) written after it;
both atomically (write, then rename), the last two checkpoints kept.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import xgboost as xgb

CHECKPOINT_NAME = "xgboost-checkpoint"  # the SageMaker XGBoost container's file name
PROGRESS_FILE = "progress.json"
_KEEP = 2


@dataclass
class Stopping:
    """Early stopping on one metric of the validation channel."""

    metric: str
    maximize: bool
    patience: int  # 0: never stop early
    best_score: float | None = None
    best_round: int = -1
    bad_rounds: int = 0
    stopped: bool = False

    def update(self, round_: int, score: float) -> None:
        better = self.best_score is None or (
            score > self.best_score if self.maximize else score < self.best_score
        )
        if better and not math.isnan(score):
            self.best_score, self.best_round, self.bad_rounds = score, round_, 0
        else:
            self.bad_rounds += 1
        self.stopped = self.patience > 0 and self.bad_rounds >= self.patience


@dataclass
class Progress:
    """Everything a resumed job needs besides the model itself."""

    stopping: Stopping
    history: list[dict[str, float]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # preprocessor, hps, fingerprint

    def to_json(self, round_: int) -> dict[str, Any]:
        return {"round": round_, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(Stopping(**data["stopping"]), data["history"], data["context"])


class RoundCallback(xgb.callback.TrainingCallback):
    """After each round: update early stopping, write the checkpoint, print the metric line."""

    def __init__(
        self, progress: Progress, checkpoint_dir: str | None, log: Any, metric_line: Any
    ) -> None:
        super().__init__()
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.log = log
        self.metric_line = metric_line  # row of the round -> the line to print

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        round_ = model.num_boosted_rounds() - 1  # 0-based, as xgboost prints it
        row: dict[str, float] = {"round": round_}
        for data_name, metrics in evals_log.items():
            for metric, values in metrics.items():
                row[f"{data_name}-{metric}"] = float(values[-1])
        stopping = self.progress.stopping
        stopping.update(round_, row.get(f"validation-{stopping.metric}", math.nan))
        self.progress.history.append(row)
        if self.checkpoint_dir:
            save_checkpoint(self.checkpoint_dir, round_, model, self.progress)
        self.log(self.metric_line(row))  # once the round's checkpoint is durable
        return stopping.stopped


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_checkpoint(directory: str, round_: int, model: xgb.Booster, progress: Progress) -> None:
    os.makedirs(directory, exist_ok=True)
    _atomic_write(os.path.join(directory, f"{CHECKPOINT_NAME}.{round_}"), model.save_raw("json"))
    # progress.json last: it names a checkpoint that is already complete.
    body = json.dumps(progress.to_json(round_)).encode()
    _atomic_write(os.path.join(directory, PROGRESS_FILE), body)
    for old in _rounds(directory)[:-_KEEP]:
        os.remove(os.path.join(directory, f"{CHECKPOINT_NAME}.{old}"))


def _rounds(directory: str) -> list[int]:
    pattern = re.compile(rf"^{CHECKPOINT_NAME}\.([0-9]+)$")
    found = [pattern.match(name) for name in os.listdir(directory)]
    return sorted(int(m.group(1)) for m in found if m)


def load_checkpoint(directory: str | None) -> tuple[xgb.Booster, Progress] | None:
    """The model and progress of the newest complete checkpoint, if any."""
    if not directory or not os.path.isfile(os.path.join(directory, PROGRESS_FILE)):
        return None
    with open(os.path.join(directory, PROGRESS_FILE)) as handle:
        data = json.load(handle)
    path = os.path.join(directory, f"{CHECKPOINT_NAME}.{data['round']}")
    if not os.path.isfile(path):
        return None
    booster = xgb.Booster()
    with open(path, "rb") as handle:
        booster.load_model(bytearray(handle.read()))
    return booster, Progress.from_json(data)


def clear_checkpoints(directory: str) -> None:
    for name in os.listdir(directory):
        if name == PROGRESS_FILE or name.startswith(CHECKPOINT_NAME):
            os.remove(os.path.join(directory, name))
