"""Features: fit the preprocessing on the training split, encode any split as tensors.

The fitted state (tokenizer, numeric imputation/standardisation, categorical
vocabularies, label map) is a plain JSON-able dict, saved with the model so
evaluation and inference encode rows exactly as training did.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # torch is imported where tensors are made: inference.py serves with
    import torch  # ONNX Runtime alone and encodes rows with this module (no 4 s torch import)

from bsm.hyperparameters import Hyperparameters
from bsm.text import encode, load_tokenizer, train_tokenizer

UNKNOWN = "<unk>"


class DataError(ValueError):
    """The data does not fit the hyperparameters (missing column, unknown label, ...)."""


@dataclass
class Encoded:
    """One split as arrays: token ids, numeric and categorical features, labels, ids."""

    input_ids: np.ndarray  # (N, max_sen_len) int64
    tab: np.ndarray  # (N, n_numeric) float32
    cat: np.ndarray  # (N, n_categorical) int64, 0 = unknown
    labels: np.ndarray  # (N,) int64
    ids: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        return (
            torch.from_numpy(self.input_ids),
            torch.from_numpy(self.tab),
            torch.from_numpy(self.cat),
            torch.from_numpy(self.labels),
        )


@dataclass
class TrainingData:
    """The encoded splits of a training job, the fitted preprocessing, the checkpoint to resume."""

    train: Encoded
    val: Encoded
    test: Encoded | None
    state: dict[str, Any]  # tokenizer, numeric statistics, categorical vocabularies, labels
    fingerprint: str
    checkpoint: dict[str, Any] | None


def check_columns(frame: pd.DataFrame, hp: Hyperparameters, split: str, need_label: bool) -> None:
    """Fail early, naming the column and the hyperparameter that asked for it."""
    wanted: list[tuple[str, str]] = [(hp.id_name, "id_name")]
    if need_label:
        wanted.append((hp.label_name, "label_name"))
    if hp.uses_text:
        wanted.append((hp.text_name, "text_name"))
    if hp.uses_tabular:
        wanted += [(c, "tab_field_list") for c in hp.tab_field_list]
        wanted += [(c, "cat_field_list") for c in hp.cat_field_list]
    missing = [(c, h) for c, h in wanted if c not in frame.columns]
    if missing:
        detail = ", ".join(f"{c!r} (from hyperparameter {h})" for c, h in missing)
        raise DataError(
            f"{split} data lacks column(s) {detail}; columns present: "
            f"{', '.join(map(str, frame.columns))}. Fix the hyperparameter or the data."
        )


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    return ["" if isinstance(v, float) and math.isnan(v) else str(v) for v in frame[column]]


def fit_preprocessor(train: pd.DataFrame, hp: Hyperparameters) -> dict[str, Any]:
    """Learn every preprocessing parameter from the training split only."""
    check_columns(train, hp, "train", need_label=True)
    state: dict[str, Any] = {
        "id_name": hp.id_name,
        "text_name": hp.text_name if hp.uses_text else None,
        "label_name": hp.label_name,
        "max_sen_len": hp.max_sen_len,
        "tokenizer": None,
        "numeric": {},
        "categorical": {},
    }
    if hp.uses_text:
        state["tokenizer"] = train_tokenizer(
            _texts(train, hp.text_name), hp.vocab_size, hp.max_sen_len
        ).to_str()
    if hp.uses_tabular:
        for column in hp.tab_field_list:
            values = pd.to_numeric(train[column], errors="coerce")
            fill = float(values.median()) if values.notna().any() else 0.0
            filled = values.fillna(fill)
            std = float(filled.std(ddof=0)) or 1.0
            state["numeric"][column] = {"fill": fill, "mean": float(filled.mean()), "std": std}
        for column in hp.cat_field_list:
            seen = sorted({str(v) for v in train[column].dropna()})
            state["categorical"][column] = [UNKNOWN, *seen]
    labels = sorted({_label_key(v) for v in train[hp.label_name].dropna()})
    if len(labels) > hp.num_classes:
        raise DataError(
            f"label column {hp.label_name!r} has {len(labels)} distinct values {labels[:10]} "
            f"but num_classes is {hp.num_classes}; set num_classes"
        )
    if len(labels) < 2:
        raise DataError(f"label column {hp.label_name!r} has a single class {labels}")
    state["labels"] = labels
    return state


def _label_key(value: Any) -> str:
    # 1, 1.0 and "1" are the same class whatever the file format made of them.
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_frame(
    frame: pd.DataFrame, state: dict[str, Any], split: str, *, tokenizer: Any = None
) -> Encoded:
    """Encode a split with a fitted state; labels are -1 where the column is absent."""
    n = len(frame)
    if state["text_name"]:
        tok = tokenizer or load_tokenizer(state["tokenizer"], state["max_sen_len"])
        input_ids = encode(tok, _texts(frame, state["text_name"]))
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
    label_index = {v: i for i, v in enumerate(state["labels"])}
    labels = np.full(n, -1, dtype=np.int64)
    if state["label_name"] in frame.columns:
        holes = frame[state["label_name"]].isna().to_numpy()
        if holes.any():
            raise DataError(
                f"{split} data has {int(holes.sum())} row(s) without a value in "
                f"{state['label_name']!r} (first at row {int(holes.argmax())}); drop or label "
                "them (preprocess.py drops them)"
            )
        raw = [_label_key(v) for v in frame[state["label_name"]]]
        unknown = sorted({v for v in raw if v not in label_index})
        if unknown:
            raise DataError(
                f"{split} data has label value(s) {unknown[:10]} in {state['label_name']!r} "
                f"never seen in train (known: {state['labels']})"
            )
        labels = np.array([label_index[v] for v in raw], dtype=np.int64)
    ids = [str(v) for v in frame[state["id_name"]]] if state["id_name"] in frame else []
    return Encoded(input_ids, tab, cat, labels, ids or [str(i) for i in range(n)])


def batches(
    data: Encoded,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    order: Sequence[int] | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield (input_ids, tab, cat, labels) tensor batches.

    The rows are ``order`` when given (a rank's share, from ``distributed.sampler``),
    else every row, shuffled by a fresh generator seeded with ``seed`` (the caller's
    seed + epoch), never by the global RNG, so a run resumed from a checkpoint sees
    the same batches as an uninterrupted one.
    """
    import torch

    tensors = data.tensors()
    if order is not None:
        index_order = torch.as_tensor(list(order), dtype=torch.long)
    elif shuffle:
        index_order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    else:
        index_order = torch.arange(len(data))
    for start in range(0, len(index_order), batch_size):
        index = index_order[start : start + batch_size]
        yield tuple(t[index] for t in tensors)


def data_fingerprint(*frames: pd.DataFrame) -> str:
    """A digest of the columns and rows of ``frames``: a restart, or a reused checkpoint?"""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
