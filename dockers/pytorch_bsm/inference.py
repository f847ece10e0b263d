"""Serving the BSM model: SageMaker inference handlers for endpoints and batch transform.

The PyTorch serving container imports this module (``SAGEMAKER_PROGRAM=inference.py``)
from ``/opt/ml/model/code`` — the SDK packs ``entry_point`` and ``source_dir`` (this
file and ``bsm/``) into ``model.tar.gz`` under ``code/`` — and calls:

* ``model_fn(model_dir)`` once: ``model.onnx`` in ONNX Runtime (the artifact the
  training job checked against PyTorch) and ``preprocessor.json`` (the training run's
  tokenizer, numeric statistics, categorical vocabularies and label order);
* ``input_fn(body, content_type)`` per request: rows of orders as
  - ``application/json``: a list of row objects, one row object, ``{"instances": [...]}``,
    or JSON Lines (one object per line, what a batch transform sends with SplitType Line);
  - ``application/jsonlines``: one row object per line;
  - ``text/csv``: rows with a header line naming the columns, or without one in the
    order ``CSV_COLUMNS`` gives (env, comma-separated; default: id, text, numeric fields,
    categorical fields — the order of the training data without its label);
* ``predict_fn(rows, model)``: the rows encoded exactly as training encoded them
  (``bsm.data.encode_frame``), class probabilities from the ONNX graph;
* ``output_fn(probabilities, accept)``: ``text/csv`` one line per row with one
  probability per class (the training labels' order, e.g. no-claim, refund-claim);
  ``application/jsonlines`` one ``{"probabilities": [...], "label": ...}`` per line;
  ``application/json`` ``{"predictions": [{"probabilities": [...], "label": ...}]}``.

Bad input raises ValueError naming what is wrong; the server answers it as an error
(HTTP 500, the message first), which a transform job reports with the record.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np
import pandas as pd
from bsm.data import encode_frame
from bsm.text import load_tokenizer

BATCH = 512
JSON, JSONLINES, CSV = "application/json", "application/jsonlines", "text/csv"
_SERVED: dict[str, Any] = {"state": {}}


def model_fn(model_dir: str) -> dict[str, Any]:
    import onnxruntime as ort

    for name in ("model.onnx", "preprocessor.json"):
        if not os.path.exists(os.path.join(model_dir, name)):
            raise FileNotFoundError(
                f"{name} missing from the model in {model_dir}; train with export_onnx=true"
            )
    with open(os.path.join(model_dir, "preprocessor.json")) as handle:
        state = json.load(handle)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    session = ort.InferenceSession(
        os.path.join(model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = None
    if state["text_name"]:
        tokenizer = load_tokenizer(state["tokenizer"], state["max_sen_len"])
    # input_fn and output_fn get no model (the toolkit's signatures): they read the
    # state of the one model this process serves from here.
    _SERVED["state"] = state
    return {"state": state, "session": session, "tokenizer": tokenizer}


def feature_columns(state: dict[str, Any]) -> list[str]:
    """The columns a row needs, in the default CSV order."""
    text = [state["text_name"]] if state["text_name"] else []
    return [state["id_name"], *text, *state["numeric"], *state["categorical"]]


def _csv_rows(body: str, state: dict[str, Any]) -> pd.DataFrame:
    wanted = feature_columns(state)
    first = next(iter(pd.read_csv(io.StringIO(body), header=None, nrows=1, dtype=str).values), [])
    if set(wanted[1:]) <= {str(v) for v in first}:
        return pd.read_csv(io.StringIO(body))  # a header line names the columns
    env = os.environ.get("CSV_COLUMNS", "")
    names = [c.strip() for c in env.split(",")] if env else wanted
    frame = pd.read_csv(io.StringIO(body), header=None)
    if frame.shape[1] != len(names):
        raise ValueError(
            f"CSV rows have {frame.shape[1]} fields but {len(names)} columns are expected "
            f"({', '.join(names)}); send a header line, set CSV_COLUMNS, or filter the "
            "record (a transform job's DataProcessing.InputFilter, e.g. '$[:-1]')"
        )
    frame.columns = names
    return frame


def _json_rows(body: str, content_type: str) -> pd.DataFrame:
    text = body.strip()
    if content_type == JSON:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None  # JSON Lines: several documents, one per line
        if doc is not None:
            if isinstance(doc, dict) and "instances" in doc:
                doc = doc["instances"]
            rows = doc if isinstance(doc, list) else [doc]
            return _frame(rows)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON ({exc}): {line[:120]!r}") from exc
    return _frame(rows)


def _frame(rows: list[Any]) -> pd.DataFrame:
    bad = [i for i, r in enumerate(rows) if not isinstance(r, dict)]
    if bad:
        raise ValueError(
            f"row {bad[0]} is {type(rows[bad[0]]).__name__}, not an object of column: value"
        )
    return pd.DataFrame(rows)


def input_fn(body: str | bytes, content_type: str) -> pd.DataFrame:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    base = (content_type or "").split(";")[0].strip()
    if base == CSV:
        return _csv_rows(body, _SERVED["state"])
    if base in (JSON, JSONLINES, "application/x-jsonlines"):
        return _json_rows(body, JSON if base == JSON else JSONLINES)
    raise ValueError(
        f"content type {content_type!r} is not supported; send text/csv, application/json "
        "or application/jsonlines"
    )


def predict_fn(frame: pd.DataFrame, model: dict[str, Any]) -> np.ndarray:
    state = model["state"]
    missing = [c for c in feature_columns(state)[1:] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"rows lack column(s) {missing} the model was trained on; columns sent: "
            f"{', '.join(map(str, frame.columns))}"
        )
    encoded = encode_frame(frame, state, "request", tokenizer=model["tokenizer"])
    session = model["session"]
    features = {"input_ids": encoded.input_ids, "tab": encoded.tab, "cat": encoded.cat}
    wanted = [i.name for i in session.get_inputs()]
    out = [
        session.run(None, {k: features[k][start : start + BATCH] for k in wanted})[0]
        for start in range(0, len(frame), BATCH)
    ]
    probs = np.concatenate(out) if out else np.zeros((0, len(state["labels"])), np.float32)
    return probs


def output_fn(probs: np.ndarray, accept: str) -> tuple[str, str]:
    labels = _SERVED["state"].get("labels") or [str(i) for i in range(probs.shape[1])]
    for kind in accept.replace(" ", "").split(","):
        base = kind.split(";")[0]
        if base == CSV:
            lines = [",".join(f"{p:.8g}" for p in row) for row in probs.tolist()]
            return "".join(line + "\n" for line in lines), CSV
        rows = [
            {"probabilities": [float(p) for p in row], "label": labels[int(np.argmax(row))]}
            for row in probs
        ]
        if base in (JSONLINES, "application/x-jsonlines"):
            return "".join(json.dumps(r) + "\n" for r in rows), base
        if base in (JSON, "*/*"):
            return json.dumps({"predictions": rows}), JSON
    raise ValueError(
        f"Accept {accept!r} is not supported; ask for text/csv, application/json(lines)"
    )
