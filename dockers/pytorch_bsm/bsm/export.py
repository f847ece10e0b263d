"""The model directory (model.tar.gz): weights, preprocessing, and the checked ONNX graph.

The ONNX graph has a dynamic batch axis and is checked by onnx.checker and against
ONNX Runtime before the job may succeed.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from bsm.hyperparameters import Hyperparameters
from bsm.models import WithProbabilities
from bsm.reporting import library_versions

INPUT_NAMES = ["input_ids", "tab", "cat"]
OUTPUT_NAME = "probabilities"


class ExportError(RuntimeError):
    """The exported graph is invalid or disagrees with the PyTorch model."""


def export_onnx(
    model: torch.nn.Module,
    sample: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    path: str,
    tolerance: float,
) -> dict[str, float | list[str]]:
    """Export ``model`` (logits) as a probabilities graph; fail if ORT differs by > tolerance.

    ``sample`` is a validation batch (input_ids, tab, cat). The TorchScript-based
    exporter is used: it is ~15x faster than the torch.export one on these small
    models, and the parity check below guards the result either way. Inputs a
    model ignores (for example input_ids of tabular_mlp) are absent from the graph.
    """
    wrapped = WithProbabilities(model).eval()
    axes = {name: {0: "batch"} for name in [*INPUT_NAMES, OUTPUT_NAME]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            sample,
            path,
            input_names=INPUT_NAMES,
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    graph = onnx.load(path)
    try:
        onnx.checker.check_model(graph, full_check=True)
    except Exception as exc:
        raise ExportError(f"onnx.checker rejected {path}: {exc}") from exc
    with torch.no_grad():
        expected = wrapped(*sample).numpy()
    got = run_onnx(path, sample)
    diff = float(np.abs(got - expected).max()) if expected.size else 0.0
    if not diff <= tolerance:
        raise ExportError(
            f"ONNX Runtime probabilities differ from PyTorch by {diff:.3g} "
            f"(> onnx_tolerance {tolerance:g}) on a validation batch"
        )
    return {"max_abs_diff": diff, "inputs": [i.name for i in graph.graph.input]}


def run_onnx(path: str, batch: tuple[torch.Tensor, ...]) -> np.ndarray:
    """Probabilities of ``batch`` from the ONNX graph at ``path`` (CPU provider)."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = dict(zip(INPUT_NAMES, (t.numpy() for t in batch), strict=True))
    wanted = {i.name for i in session.get_inputs()}
    return session.run([OUTPUT_NAME], {k: v for k, v in feeds.items() if k in wanted})[0]


def write_model_dir(
    model_dir: str,
    hp: Hyperparameters,
    state: dict[str, Any],
    model: torch.nn.Module,
    sample: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> dict[str, float | list[str]] | None:
    """model.pth, model_artifacts.pth, preprocessor.json and (export_onnx) model.onnx.

    SageMaker packs the whole directory as model.tar.gz; in a distributed job only
    rank 0 calls this (the ranks' models are identical, and every host's model dir
    lands in the same archive). Returns the ONNX parity report.
    """
    os.makedirs(model_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(model_dir, "model.pth"))
    artifacts = {
        "model_class": hp.model_class,
        "hyperparameters": hp.model_dump(),
        "preprocessor": state,  # tokenizer, numeric statistics, categorical vocabularies
        "labels": state["labels"],  # class index -> label value
        "versions": library_versions(),
    }
    torch.save(artifacts, os.path.join(model_dir, "model_artifacts.pth"))
    # The same preprocessing as plain JSON, for consumers without torch (evaluate.py, serving).
    with open(os.path.join(model_dir, "preprocessor.json"), "w") as handle:
        json.dump({**state, "model_class": hp.model_class}, handle)
    if not hp.export_onnx:
        return None
    return export_onnx(model, sample, os.path.join(model_dir, "model.onnx"), hp.onnx_tolerance)
