"""BSM rows → one numeric matrix for xgboost: tabular fields plus simple text features.

Fitted on the training split only, and saved as plain JSON (``preprocessor.json``)
so that evaluate.py and a serving container encode rows exactly as training did:

- numeric fields as they are (a missing value stays NaN: xgboost learns where
  missing values go at each split);
- categorical fields one-hot over the values seen in training (unseen → all zero);
- the dialogue as counts of the ``vocab_size`` words found in most training
  dialogues (at least ``min_df`` of them), plus its length in words.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

TOKEN = re.compile(r"[a-z][a-z']*")
# Turn delimiters and speaker tags of the BSM format: in every dialogue, no signal.
_MARKUP = {"bom", "eom", "buyer", "seller"}


def words(text: Any) -> list[str]:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [w for w in TOKEN.findall(str(text).lower()) if w not in _MARKUP]


def label_key(value: Any) -> str:
    """Labels as strings: 1, 1.0 and "1" are one class."""
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def fit_features(frame: pd.DataFrame, hp: Any) -> dict[str, Any]:
    """The preprocessing state, from the training split."""
    missing = [c for c in [hp.label_name, *hp.tab_field_list, *hp.cat_field_list] if c not in frame]
    if hp.text_name and hp.text_name not in frame:
        missing.append(hp.text_name)
    if missing:
        raise ValueError(
            f"training data lacks column(s) {missing}; columns present: "
            f"{', '.join(map(str, frame.columns))}. Set tab_field_list / cat_field_list / "
            "text_name / label_name to the data's columns"
        )
    holes = frame[hp.label_name].isna()
    if holes.any():
        raise ValueError(f"{int(holes.sum())} training row(s) have no {hp.label_name!r} value")
    labels = sorted({label_key(v) for v in frame[hp.label_name]})
    if len(labels) != 2:
        raise ValueError(
            f"xgboost_train.py trains a binary classifier; {hp.label_name!r} holds "
            f"{len(labels)} class(es): {labels[:10]}"
        )
    categorical = {c: sorted({str(v) for v in frame[c].dropna()}) for c in hp.cat_field_list}
    vocabulary: list[str] = []
    if hp.text_name and hp.vocab_size:
        df = Counter(w for text in frame[hp.text_name] for w in set(words(text)))
        ranked = sorted((w for w, n in df.items() if n >= hp.min_df), key=lambda w: (-df[w], w))
        vocabulary = ranked[: hp.vocab_size]
    names = list(hp.tab_field_list)
    names += [f"{c}={v}" for c, values in categorical.items() for v in values]
    if hp.text_name:
        names += ["text_length", *(f"word={w}" for w in vocabulary)]
    return {
        "model_type": "xgboost",
        "label_name": hp.label_name,
        "id_name": hp.id_name,
        "text_name": hp.text_name,
        "numeric": list(hp.tab_field_list),
        "categorical": categorical,
        "vocabulary": vocabulary,
        "labels": labels,  # class index -> label value; index 1 is the positive class
        "feature_names": names,
    }


def encode(frame: pd.DataFrame, state: dict[str, Any]) -> np.ndarray:
    """The (rows, features) float32 matrix of ``frame`` under ``state``."""
    wanted = [*state["numeric"], *state["categorical"]]
    wanted += [state["text_name"]] if state["text_name"] else []
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"data lacks column(s) {missing} the model was trained on; columns present: "
            f"{', '.join(map(str, frame.columns))}"
        )
    parts = [
        pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float32)[:, None]
        for c in state["numeric"]
    ]
    for column, values in state["categorical"].items():
        index = {v: i for i, v in enumerate(values)}
        onehot = np.zeros((len(frame), len(values)), dtype=np.float32)
        for row, value in enumerate(frame[column]):
            j = index.get(str(value)) if not pd.isna(value) else None
            if j is not None:
                onehot[row, j] = 1.0
        parts.append(onehot)
    if state["text_name"]:
        index = {w: i for i, w in enumerate(state["vocabulary"])}
        counts = np.zeros((len(frame), 1 + len(index)), dtype=np.float32)
        for row, text in enumerate(frame[state["text_name"]]):
            tokens = words(text)
            counts[row, 0] = len(tokens)
            for w in tokens:
                j = index.get(w)
                if j is not None:
                    counts[row, 1 + j] += 1.0
        parts.append(counts)
    if not parts:
        return np.zeros((len(frame), 0), dtype=np.float32)
    return np.hstack(parts).astype(np.float32)


def encode_labels(frame: pd.DataFrame, state: dict[str, Any], split: str) -> np.ndarray:
    name = state["label_name"]
    if name not in frame:
        raise ValueError(f"the {split} split has no label column {name!r}")
    index = {v: i for i, v in enumerate(state["labels"])}
    raw = [label_key(v) for v in frame[name]]
    unknown = sorted({v for v in raw if v not in index})
    if unknown:
        raise ValueError(
            f"{split}: label value(s) {unknown[:10]} in {name!r} were not seen in training "
            f"(known: {state['labels']})"
        )
    return np.array([index[v] for v in raw], dtype=np.float32)


def data_fingerprint(*frames: pd.DataFrame) -> str:
    """A hash of the training data, so a checkpoint of other data is not resumed."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
